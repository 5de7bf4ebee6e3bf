from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fashionlens.core.taxonomy import Taxonomy
from fashionlens.hedging import (
    DEFAULT_TARGETS,
    HedgedPrediction,
    Hedger,
    clopper_pearson_lower,
    evaluate_hedging,
)

# the classifier's column order (not the tree order, on purpose)
CLASSES = [
    "T-Shirt", "Longsleeve", "Pants", "Shoes", "Shirt", "Dress", "Outwear", "Shorts", "Hat",
    "Skirt", "Polo", "Undershirt", "Blazer", "Hoodie", "Body", "Top", "Blouse",
]  # fmt: skip
C = len(CLASSES)


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.load()


def population(tax: Taxonomy, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated by construction: probabilities first, then the label drawn from them.

    Each photo leans towards an anchor class and its siblings in the tree, so the confusions
    look like a real classifier's (shirt/blouse, hoodie/outwear ...).
    """
    rng = np.random.default_rng(seed)
    siblings = np.zeros((C, C))
    for j, cls in enumerate(CLASSES):
        parent = tax.nodes[tax.node_for_class(cls)].parent
        for other in tax.covers(parent):
            siblings[j, CLASSES.index(other)] = 1.0
    anchors = rng.integers(0, C, size=n)
    alpha = 0.05 + 0.5 * siblings[anchors] + 2.0 * np.eye(C)[anchors]
    alpha *= rng.choice([0.3, 1.0, 3.0], size=(n, 1))  # some sharp, some vague photos
    probs = rng.gamma(alpha)
    probs /= probs.sum(axis=1, keepdims=True)
    u = rng.random((n, 1))
    labels = np.minimum((np.cumsum(probs, axis=1) < u).sum(axis=1), C - 1)
    return probs, labels


@pytest.fixture(scope="module")
def calibration(tax):
    return population(tax, 4000, seed=1)


@pytest.fixture(scope="module")
def hedger(tax, calibration) -> Hedger:
    probs, labels = calibration
    return Hedger(tax, CLASSES).fit(probs, labels)


def one_hot_mix(weights: dict[str, float]) -> np.ndarray:
    p = np.zeros(C)
    for cls, w in weights.items():
        p[CLASSES.index(cls)] = w
    rest = 1.0 - p.sum()
    if rest > 0:
        p[p == 0] = rest / np.count_nonzero(p == 0)
    return p


# ---------------------------------------------------------------- statistics
def test_clopper_pearson_lower():
    assert clopper_pearson_lower(0, 10) == 0.0
    assert clopper_pearson_lower(100, 100, 0.95) == pytest.approx(0.05 ** (1 / 100))
    lb = clopper_pearson_lower(95, 100, 0.95)
    assert 0.89 < lb < 0.95
    assert clopper_pearson_lower(95, 100, 0.99) < lb
    assert clopper_pearson_lower(950, 1000, 0.95) > lb


# ---------------------------------------------------------------- single decisions
def test_split_between_siblings_answers_parent(hedger):
    p = one_hot_mix({"Shirt": 0.5, "Blouse": 0.5})
    for target in DEFAULT_TARGETS:
        (pred,) = hedger.predict(p, target)
        assert pred.label == "shirt-like"
        assert sorted(pred.covers) == ["Blouse", "Shirt"]
        assert pred.path == ["garment", "upper-body", "tops", "shirt-like"]
        assert pred.probability == pytest.approx(1.0)
        assert pred.target_accuracy == target


def test_confident_leaf_stays_leaf(hedger, tax):
    p = one_hot_mix({"Dress": 0.97})
    for lam in (0.0, 1.0, 10.0):
        assert tax.node_ids[hedger.hedge_indices(p, lam)[0]] == "dress"
    (pred,) = hedger.predict(p, 0.9)
    assert pred.label == "dress" and pred.covers == ["Dress"]
    assert pred.probability == pytest.approx(0.97)


def test_uniform_rises_to_root(hedger, tax):
    p = np.full(C, 1.0 / C)
    assert tax.node_ids[hedger.hedge_indices(p, 5.0)[0]] == "garment"
    assert hedger.lambda_for(0.99) > 2.0
    assert hedger.predict(p, 0.99)[0].label == "garment"
    # at lambda = 0 DARTS maximises expected information gain, which for a uniform
    # photo is a mid-level node (7 of 17 classes), not a leaf and not the root
    assert tax.node_ids[hedger.hedge_indices(p, 0.0)[0]] == "tops"


def test_single_child_chain_answers_the_leaf(hedger, tax):
    p = one_hot_mix({"Shoes": 0.6})
    chosen = {tax.node_ids[hedger.hedge_indices(p, lam)[0]] for lam in (0.0, 0.5, 2.0)}
    assert "footwear" not in chosen


def test_lambda_zero_is_flat_argmax_when_confident(hedger, tax, calibration):
    probs, _ = calibration
    chosen = hedger.hedge_indices(probs, 0.0)
    flat = [tax.index(tax.node_for_class(CLASSES[j])) for j in np.argmax(probs, axis=1)]
    sure = probs.max(axis=1) >= 1.0 - 1.0 / math.log2(C)
    assert sure.sum() > 100
    assert np.array_equal(chosen[sure], np.asarray(flat)[sure])
    # and in general lambda = 0 maximises expected information gain r(v) * p(v)
    node_probs = hedger.node_probabilities(probs)
    rewards = math.log2(C) - np.log2([len(tax.covers(v)) for v in tax.node_ids])
    expected_gain = node_probs * rewards
    got = expected_gain[np.arange(len(chosen)), chosen]
    assert np.allclose(got, expected_gain.max(axis=1))


# ---------------------------------------------------------------- fitting
def test_fit_meets_targets_on_calibration(hedger):
    n = hedger.calibration_labels_.size
    assert n == 4000 and hedger.n_excluded_ == 0
    assert hedger.targets_ == DEFAULT_TARGETS
    for target, lam in hedger.lambdas_.items():
        assert lam >= 0 and math.isfinite(lam)
        k = round(hedger.calibration_accuracy_[target] * n)
        assert clopper_pearson_lower(k, n, hedger.confidence) >= target


def test_monotone_in_target(tax, calibration):
    probs, labels = calibration
    targets = [round(t, 3) for t in np.arange(0.5, 0.995, 0.01)]
    fine = Hedger(tax, CLASSES).fit(probs, labels, targets=targets)
    lams = [fine.lambdas_[t] for t in fine.targets_]
    accs = [fine.calibration_accuracy_[t] for t in fine.targets_]
    assert all(a <= b for a, b in zip(lams, lams[1:], strict=False))
    assert all(a <= b for a, b in zip(accs, accs[1:], strict=False))
    # targets that were not fitted are recomputed in the same order
    coarse = Hedger(tax, CLASSES).fit(probs, labels, targets=(0.8, 0.95))
    recomputed = [coarse.lambda_for(t) for t in targets]
    assert all(a <= b for a, b in zip(recomputed, recomputed[1:], strict=False))


def test_hedged_accuracy_holds_on_fresh_data(hedger, tax):
    probs, labels = population(tax, 4000, seed=2)
    rows = evaluate_hedging(hedger, probs, labels, DEFAULT_TARGETS)
    previous_gain = 1.0
    for row in rows:
        t = row["target"]
        tolerance = 3.0 * math.sqrt(t * (1 - t) / row["n"]) + 0.002
        assert row["accuracy"] >= t - tolerance, row
        assert row["information_gain"] <= previous_gain + 1e-9  # less specific as t rises
        previous_gain = row["information_gain"]
    assert rows[0]["accuracy"] > rows[0]["flat_accuracy"]
    assert 0.0 < rows[0]["information_gain"] < 1.0


def test_recompute_unseen_target(hedger, calibration):
    lam = hedger.lambda_for(0.93)
    assert hedger.lambdas_[0.90] <= lam <= hedger.lambdas_[0.95]
    assert 0.93 not in hedger.lambdas_  # recomputing does not change the fitted state
    n = hedger.calibration_labels_.size
    k = round(hedger._accuracy(lam) * n)
    assert clopper_pearson_lower(k, n, hedger.confidence) >= 0.93
    probs, _ = calibration
    preds = hedger.predict(probs[:5], 0.93)
    assert len(preds) == 5 and all(p.target_accuracy == 0.93 for p in preds)


def test_labels_outside_the_classes_are_left_out(tax, calibration, hedger):
    probs, labels = calibration
    names = [CLASSES[j] for j in labels] + ["Not sure", "Other"]
    extra = np.vstack([probs, np.full((2, C), 1.0 / C)])
    fitted = Hedger(tax, CLASSES).fit(extra, names)
    assert fitted.n_excluded_ == 2
    assert fitted.lambdas_ == hedger.lambdas_
    with pytest.raises(ValueError, match="out of range"):
        Hedger(tax, CLASSES).fit(probs[:2], [0, C])


def test_too_few_photos_means_root(tax, calibration):
    probs, labels = calibration
    small = Hedger(tax, CLASSES).fit(probs[:50], labels[:50], targets=(0.8, 0.99))
    assert math.isfinite(small.lambdas_[0.8])
    assert math.isinf(small.lambdas_[0.99])  # 0.05 ** (1/50) ≈ 0.94 < 0.99
    preds = small.predict(probs[:10], 0.99)
    assert {p.label for p in preds} == {"garment"}
    assert all(p.probability == 1.0 for p in preds)
    d = json.loads(json.dumps(small.to_dict(include_taxonomy=False)))
    assert d["lambdas"]["0.99"] is None
    assert math.isinf(Hedger.from_dict(d, tax).lambdas_[0.99])
    (row,) = evaluate_hedging(small, probs[50:150], labels[50:150], [0.99])
    assert row["lambda"] is None and row["root_share"] == 1.0 and row["accuracy"] == 1.0


# ---------------------------------------------------------------- serialisation
def test_round_trip_gives_identical_predictions(hedger, tax):
    probs, _ = population(tax, 500, seed=3)
    d = json.loads(json.dumps(hedger.to_dict()))
    assert d["format"] == "fashionlens-hedger" and d["classes"] == CLASSES
    again = Hedger.from_dict(d)
    assert again.lambdas_ == hedger.lambdas_
    assert np.array_equal(again.calibration_probs_, hedger.calibration_probs_)
    assert np.array_equal(again.calibration_labels_, hedger.calibration_labels_)
    for target in (*DEFAULT_TARGETS, 0.93):
        assert again.lambda_for(target) == hedger.lambda_for(target)
        assert again.predict(probs, target) == hedger.predict(probs, target)
    assert Hedger.from_dict(hedger.to_dict(include_taxonomy=False), tax).lambdas_ == (
        hedger.lambdas_
    )


def test_prediction_type(hedger):
    (pred,) = hedger.predict(one_hot_mix({"Hoodie": 0.9}), 0.8)
    assert isinstance(pred, HedgedPrediction)
    d = pred.to_dict()
    assert set(d) == {"label", "path", "covers", "target_accuracy", "probability"}
    json.dumps(d)


def test_evaluate_rows(hedger, tax):
    # the stored calibration set (rounded to 6 decimals) reproduces the fitted accuracies
    probs, labels = hedger.calibration_probs_, hedger.calibration_labels_
    rows = evaluate_hedging(hedger, probs, [CLASSES[j] for j in labels])
    assert [r["target"] for r in rows] == list(DEFAULT_TARGETS)
    flat = float(np.mean(np.argmax(probs, axis=1) == labels))
    for row in rows:
        assert row["flat_accuracy"] == pytest.approx(flat)
        assert sum(row["depth_share"]) == pytest.approx(1.0)
        assert len(row["depth_share"]) == max(tax.depth(v) for v in tax.node_ids) + 1
        assert row["root_share"] == pytest.approx(row["depth_share"][0])
        assert 0.0 <= row["leaf_share"] <= 1.0
        assert row["accuracy"] == pytest.approx(hedger.calibration_accuracy_[row["target"]])
    json.dumps(rows)


# ---------------------------------------------------------------- errors
def test_errors(tax, hedger):
    with pytest.raises(RuntimeError, match="fit"):
        Hedger(tax, CLASSES).predict(np.full(C, 1.0 / C))
    with pytest.raises(ValueError, match="shape"):
        hedger.predict(np.ones((2, 5)) / 5)
    with pytest.raises(ValueError, match="sum to 1"):
        hedger.predict(np.ones((2, C)))
    with pytest.raises(ValueError, match="Blouse"):
        Hedger(tax, CLASSES[:-1]).fit(np.full((3, C - 1), 1.0 / (C - 1)), [0, 1, 2])
    with pytest.raises(ValueError, match="target"):
        hedger.lambda_for(1.0)
    with pytest.raises(ValueError, match="lambda"):
        hedger.hedge_indices(np.full(C, 1.0 / C), -1.0)


def test_describe_says_the_hedged_answer_in_one_honest_sentence():
    from fashionlens.hedging import HedgedPrediction, describe

    t = Taxonomy.load()

    def said(node: str, top: str) -> str:
        p = HedgedPrediction(node, t.path(node), t.covers(node), 0.95, 0.9)
        return describe(p, t, top)

    assert said("blouse", "Blouse") == "a blouse"                    # a leaf: no hedge words
    assert said("shirt-like", "Blouse") == "shirts and blouses — probably a blouse"
    assert said("outerwear", "Outwear") == "outerwear — probably a jacket or coat"
    assert said("undershirt", "Undershirt") == "an undershirt"        # article by sound
    assert said("pants", "Pants") == "pants"                          # plural: no article
    assert said("garment", "Skirt") == "a garment — unsure, perhaps a skirt"
    assert said("footwear", "Dress") == "footwear"  # top class outside the node: no guess


def test_describe_speaks_the_languages_of_the_taxonomy():
    from fashionlens.hedging import HEDGE_LANGUAGES, HedgedPrediction, describe

    t = Taxonomy.load()
    assert set(HEDGE_LANGUAGES) <= set(t.languages)
    p = HedgedPrediction("shirt-like", t.path("shirt-like"), t.covers("shirt-like"), 0.95, 0.9)
    assert describe(p, t, "Blouse", "es") == "camisas y blusas — probablemente blusa"
    assert describe(p, t, "Blouse", "ru") == "рубашки и блузки — вероятно, блузка"
    root = HedgedPrediction("garment", ["garment"], t.covers("garment"), 0.95, 1.0)
    assert describe(root, t, "Skirt", "ro") == "articol de îmbrăcăminte — nesigur; poate fustă"
    assert describe(p, t, "Blouse", "xx") == describe(p, t, "Blouse")  # unknown: English
