import numpy as np
from scipy.special import softmax

from fashionlens.training.calibration import expected_calibration_error, fit_temperature


def _calibrated_population(n=4000, c=6, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, size=(n, c))
    probs = softmax(logits, axis=1)
    labels = np.array([rng.choice(c, p=p) for p in probs])
    return logits, labels


def test_temperature_recovers_known_overconfidence():
    logits, labels = _calibrated_population()
    t = fit_temperature(logits * 2.5, labels)  # sharpened logits: overconfident by 2.5x
    assert 2.1 < t < 2.9


def test_ece_small_when_calibrated_and_large_when_not():
    logits, labels = _calibrated_population()
    good = expected_calibration_error(softmax(logits, axis=1), labels)
    bad = expected_calibration_error(softmax(logits * 4, axis=1), labels)
    assert good < 0.03
    assert bad > 0.1
    fixed = expected_calibration_error(
        softmax(logits * 4 / fit_temperature(logits * 4, labels), axis=1), labels
    )
    assert fixed < 0.03
