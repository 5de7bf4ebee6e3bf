"""Likely label errors in a labelled set, confident-learning style (Northcutt et al., 2021).

Plain arrays in, ranked indices out, like cleanlab's ``find_label_issues``, whose method this
follows (the benchmark ``benchmarks/catalog_audit.py`` compares the two on the same
probabilities):

1. per-class thresholds: the mean probability of class *j* over the examples labelled *j*;
2. the *confident joint*: each example counts for (given label, the most probable class whose
   probability reaches its threshold), when there is one;
3. the joint is calibrated so that each row sums to that label's count;
4. ``prune_by_noise_rate`` (default): for each pair (given *i*, true *j*) the calibrated count
   of examples is flagged, those with the largest margin ``p[j] - p[i]`` first.
   ``confident_learning`` flags the off-diagonal examples of the joint itself,
   ``predicted_neq_given`` those whose most probable class is not the label, and ``both``
   the intersection of ``prune_by_noise_rate`` and ``predicted_neq_given``.

Returned indices are ranked by self-confidence (probability of the given label), lowest first.
``pred_probs`` should be out-of-sample (cross-validated, or from a model that never saw these
examples), as for cleanlab.
"""

from __future__ import annotations

import numpy as np

__all__ = ["confident_joint", "find_label_issues", "label_quality_scores"]

FILTERS = ("prune_by_noise_rate", "confident_learning", "predicted_neq_given", "both")


def _check(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred_probs, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if p.ndim != 2 or p.shape[0] != y.shape[0]:
        raise ValueError(f"pred_probs must be (n, K) with n = len(labels), got {p.shape} "
                         f"and {y.shape[0]} labels")
    if y.size and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError(f"labels must be in 0..{p.shape[1] - 1}")
    return y, p


def label_quality_scores(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Self-confidence: the probability of each example's given label (low = suspicious)."""
    y, p = _check(labels, pred_probs)
    return p[np.arange(len(y)), y]


def confident_joint(labels: np.ndarray, pred_probs: np.ndarray,
                    *, calibrate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(K, K) joint of (given, confidently seen) counts and the per-example seen class (-1)."""
    y, p = _check(labels, pred_probs)
    n, k = p.shape
    counts = np.bincount(y, minlength=k)
    sums = np.bincount(y, weights=p[np.arange(n), y], minlength=k)
    thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
    above = p >= thresholds[None, :] - 1e-6
    masked = np.where(above, p, -np.inf)
    seen = np.where(above.any(axis=1), masked.argmax(axis=1), -1)
    joint = np.zeros((k, k), dtype=np.float64)
    ok = seen >= 0
    np.add.at(joint, (y[ok], seen[ok]), 1.0)
    if calibrate:
        rows = joint.sum(axis=1, keepdims=True)
        joint = np.where(rows > 0, joint / np.maximum(rows, 1) * counts[:, None], 0.0)
        total = joint.sum()
        if total > 0:
            joint *= counts.sum() / total
    return joint, seen


def find_label_issues(labels: np.ndarray, pred_probs: np.ndarray, *,
                      filter_by: str = "prune_by_noise_rate",
                      min_examples_per_class: int = 1) -> np.ndarray:
    """Indices of likely label errors, ranked most suspicious first (see the module doc)."""
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}, got {filter_by!r}")
    y, p = _check(labels, pred_probs)
    n, k = p.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    calibrated, seen = confident_joint(y, p)
    cl_mask = (seen >= 0) & (seen != y)
    if filter_by == "predicted_neq_given":
        mask = p.argmax(axis=1) != y
    elif filter_by == "confident_learning":
        mask = cl_mask
    else:
        mask = np.zeros(n, dtype=bool)
        counts = np.bincount(y, minlength=k)
        for i in range(k):
            members = np.flatnonzero(y == i)
            if not members.size:
                continue
            budget = max(0, counts[i] - min_examples_per_class)
            for j in range(k):
                if j == i:
                    continue
                m = min(int(round(calibrated[i, j])), budget)
                if m <= 0:
                    continue
                margin = p[members, j] - p[members, i]
                take = members[np.argsort(-margin, kind="stable")[:m]]
                mask[take] = True
                budget -= m
        if filter_by == "both":
            mask &= p.argmax(axis=1) != y
    idx = np.flatnonzero(mask)
    quality = p[idx, y[idx]]
    return idx[np.argsort(quality, kind="stable")]
