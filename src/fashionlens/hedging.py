"""Hedging: answer with the most specific garment node that meets a target accuracy.

This is DARTS from "Hedging your bets: optimizing accuracy-specificity trade-offs in large
scale visual recognition" (Deng, Krause, Berg, Fei-Fei, CVPR 2012), over the garment tree of
:mod:`fashionlens.core.taxonomy`.

* The probability of a node is the sum of the calibrated class probabilities under it:
  ``p(v) = membership @ p`` (the root has probability 1).
* The reward of a node is its information gain, ``r(v) = log2(C) - log2(|covers(v)|)``: 0 at
  the root, ``log2(C)`` at a leaf, for ``C`` classes.
* For a multiplier ``λ ≥ 0`` the answer is ``argmax_v (r(v) + λ) · p(v)``. A hedged answer is
  *correct* when it is the true leaf or one of its ancestors, so the root is always correct.
  Larger ``λ`` moves answers towards the root: more often correct, less informative.
  ``λ = 0`` maximises the expected information gain; this is *not* the flat argmax: when the
  mass is split (Shirt 0.5, Blouse 0.5) the parent already wins at ``λ = 0``. Whenever the top
  class has probability above ``1 - 1/log2(C)`` (about 0.76 for 17 classes) the answer
  at ``λ = 0`` is that leaf. The flat argmax is reported beside the hedged results by
  :func:`evaluate_hedging`.
* Where two nodes cover the same classes (a parent with a single child, such as
  "footwear" → "shoes") the deeper one is answered.
* :meth:`Hedger.fit` picks, for each target accuracy, the smallest ``λ ≥ 0`` whose one-sided
  Clopper–Pearson *lower* confidence bound of accuracy on a calibration set reaches the
  target, by bisection (the paper's binary search). When even answering the root for every
  photo cannot certify the target (too few calibration photos: with ``n`` photos the bound
  of ``n`` successes is ``(1 - confidence) ** (1 / n)``), ``λ`` is infinite and every answer
  is the root.

Photos labelled ``Not sure`` or ``Other`` (or any label that is not one of the classifier's
classes, or a negative integer label) have no leaf to be right or wrong about, so they are
left out of calibration and of evaluation; :attr:`Hedger.n_excluded_` counts them. At serving
time such a photo needs no special case: the classifier spreads its probability, and the
hedged answer rises to a coarse node or to the root "garment" ("garment, unsure").
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import beta

from fashionlens.core.taxonomy import Taxonomy

__all__ = [
    "DEFAULT_TARGETS",
    "FORMAT",
    "HedgedPrediction",
    "Hedger",
    "clopper_pearson_lower",
    "HEDGE_LANGUAGES",
    "describe",
    "evaluate_hedging",
]

FORMAT = "fashionlens-hedger"
DEFAULT_TARGETS: tuple[float, ...] = (0.80, 0.85, 0.90, 0.95, 0.98, 0.99)
_LAMBDA_START = 1.0
_LAMBDA_CAP = 1e9  # beyond this the answer is the most probable node; fall back to the root
_REL_TOL = 1e-6
_MAX_BISECTIONS = 200
_SUM_TOL = 1e-3


def clopper_pearson_lower(successes: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper–Pearson lower bound of a binomial proportion at ``confidence``."""
    if trials <= 0:
        return 0.0
    if successes <= 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, successes, trials - successes + 1))


@dataclass(frozen=True)
class HedgedPrediction:
    """A hedged answer for one photo.

    ``label`` is a taxonomy node id, ``path`` runs from the root to it, ``covers`` lists the
    classifier classes it stands for, ``probability`` is the model's probability of that node
    and ``target_accuracy`` the accuracy the answer was chosen to meet.
    """

    label: str
    path: list[str]
    covers: list[str]
    target_accuracy: float
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Languages :func:`describe` speaks (those of the shipped taxonomy and colour dictionary).
HEDGE_LANGUAGES = ("en", "es", "ca", "ro", "ru")

#: How the hedged sentence reads per language: (broader answer, root answer). English adds
#: articles; the other languages use the bare display names.
_HEDGE_WORDS = {
    "en": ("{said} — probably {top}", "{said} — unsure, perhaps {top}"),
    "es": ("{said} — probablemente {top}", "{said} — sin certeza; quizá {top}"),
    "ca": ("{said} — probablement {top}", "{said} — sense certesa; potser {top}"),
    "ro": ("{said} — probabil {top}", "{said} — nesigur; poate {top}"),
    "ru": ("{said} — вероятно, {top}", "{said} — неуверенно; возможно, {top}"),
}


def _phrase(taxonomy: Taxonomy, node: str, lang: str = "en") -> str:
    """``"a blouse"``, ``"an undershirt"``, ``"tops and shirts"``, ``"footwear"`` (English);
    the lower-cased display name in other languages (``"blusa"``)."""
    name = taxonomy.nodes[node].display_name(lang)
    name = name if name.isupper() else name[0].lower() + name[1:]
    if lang != "en" or name.endswith("wear") or (name.endswith("s") and not name.endswith("ss")):
        return name
    return ("an " if name[0] in "aeiou" else "a ") + name


def describe(prediction: HedgedPrediction, taxonomy: Taxonomy, top_class: str,
             lang: str = "en") -> str:
    """One honest sentence for a hedged answer and the classifier's top class.

    ``"a blouse"`` when the hedged answer is that leaf, ``"a top — probably a blouse"`` when it
    is an ancestor of it, ``"a garment — unsure, perhaps a blouse"`` at the root; in ``lang``
    (en, es, ca, ro, ru; others fall back to English).
    """
    lang = lang if lang in _HEDGE_WORDS else "en"
    broader, unsure = _HEDGE_WORDS[lang]
    top_node = taxonomy.node_for_class(top_class)
    said = _phrase(taxonomy, prediction.label, lang)
    if prediction.label == top_node:
        return said
    top = _phrase(taxonomy, top_node, lang)
    if len(prediction.path) <= 1:
        return unsure.format(said=said, top=top)
    if taxonomy.is_ancestor_or_self(prediction.label, top_node):
        return broader.format(said=said, top=top)
    return said


def _json_lambda(lam: float) -> float | None:
    return None if math.isinf(lam) else float(lam)


class Hedger:
    """DARTS hedging of classifier probabilities over a garment taxonomy.

    Args:
        taxonomy: the garment tree; its leaves must be exactly ``classes``.
        classes: the classifier's labels in the order of its probability columns.
        confidence: confidence of the one-sided Clopper–Pearson bound used by :meth:`fit`.

    Attributes set by :meth:`fit`:
        targets_: the target accuracies fitted, ascending.
        lambdas_: target → λ (``inf`` means "always answer the root").
        calibration_probs_: (n, C) float32 calibration probabilities (rounded to 6 decimals).
        calibration_labels_: (n,) int64 class indices of the calibration photos.
        calibration_accuracy_: target → hedged accuracy achieved on the calibration set.
        n_excluded_: calibration photos left out because their label is not a class.
    """

    def __init__(
        self, taxonomy: Taxonomy, classes: Sequence[str], *, confidence: float = 0.95
    ) -> None:
        self.taxonomy = taxonomy
        self.classes = classes
        self.confidence = confidence

    # ------------------------------------------------------------------ derived structure
    def _prepare(self) -> None:
        if getattr(self, "_prepared_for", None) == (id(self.taxonomy), tuple(self.classes)):
            return
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must lie in (0, 1), got {self.confidence}")
        tax = self.taxonomy
        classes = list(self.classes)
        membership = tax.membership(classes)  # raises when leaves and classes differ
        n_classes = len(classes)
        sizes = membership.sum(axis=1)
        self._membership = membership
        self._rewards = math.log2(n_classes) - np.log2(sizes) if n_classes > 1 else sizes * 0.0
        self._parents = np.array(
            [tax.index(tax.nodes[v].parent) if tax.nodes[v].parent else -1 for v in tax.node_ids]
        )
        # nodes that may be answered: a node whose single child covers the same classes
        # is never answered (the child is as probable and more specific)
        self._candidates = np.array(
            [i for i, v in enumerate(tax.node_ids) if len(tax.nodes[v].children) != 1]
        )
        root = tax.root
        while len(tax.nodes[root].children) == 1:
            root = tax.nodes[root].children[0]
        self._root_index = tax.index(root)
        self._depths = np.array([tax.depth(v) for v in tax.node_ids])
        self._prepared_for = (id(self.taxonomy), tuple(self.classes))

    def _check_probs(self, probs: Any) -> np.ndarray:
        arr = np.asarray(probs, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        n_classes = len(self.classes)
        if arr.ndim != 2 or arr.shape[1] != n_classes:
            raise ValueError(
                f"probs must have shape (n, {n_classes}) in the order of `classes`, "
                f"got {np.shape(probs)}"
            )
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError("probs must be finite and non-negative")
        sums = arr.sum(axis=1)
        if arr.shape[0] and np.max(np.abs(sums - 1.0)) > _SUM_TOL:
            raise ValueError(
                "each row of probs must sum to 1 (calibrated softmax); "
                f"found sums between {sums.min():.4f} and {sums.max():.4f}"
            )
        return arr / sums[:, None] if arr.shape[0] else arr

    def _label_indices(self, labels: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Class indices and a keep-mask; labels that are not classes are dropped."""
        labels = list(labels)
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for {n} rows of probabilities")
        col = {c: j for j, c in enumerate(self.classes)}
        n_classes = len(self.classes)
        out = np.full(n, -1, dtype=np.int64)
        for i, lab in enumerate(labels):
            if isinstance(lab, str):
                out[i] = col.get(lab, -1)
            elif isinstance(lab, int | np.integer) and not isinstance(lab, bool):
                if lab >= n_classes:
                    raise ValueError(f"label index {lab} out of range for {n_classes} classes")
                out[i] = lab if lab >= 0 else -1
            else:
                raise ValueError(f"labels must be class names or indices, got {lab!r}")
        keep = out >= 0
        return out[keep], keep

    def node_probabilities(self, probs: Any) -> np.ndarray:
        """(n, n_nodes) probabilities of every taxonomy node (columns in ``node_ids`` order)."""
        self._prepare()
        return self._node_probs(self._check_probs(probs))

    def _node_probs(self, probs: np.ndarray) -> np.ndarray:
        node_probs = probs @ self._membership.T
        # exact tree consistency despite rounding: root 1, a child never above its parent
        node_probs[:, self.taxonomy.index(self.taxonomy.root)] = 1.0
        for i, parent in enumerate(self._parents):
            if parent >= 0:
                np.minimum(node_probs[:, i], node_probs[:, parent], out=node_probs[:, i])
        return node_probs

    def _decide(self, node_probs: np.ndarray, lam: float) -> np.ndarray:
        if math.isinf(lam):
            return np.full(node_probs.shape[0], self._root_index, dtype=np.int64)
        cand = self._candidates
        scores = (self._rewards[cand] + lam) * node_probs[:, cand]
        return cand[np.argmax(scores, axis=1)]

    def hedge_indices(self, probs: Any, lam: float) -> np.ndarray:
        """Indices into ``taxonomy.node_ids`` of the DARTS answers for multiplier ``lam``."""
        if lam < 0 or math.isnan(lam):
            raise ValueError(f"lambda must be >= 0, got {lam}")
        self._prepare()
        return self._decide(self._node_probs(self._check_probs(probs)), lam)

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        probs: Any,
        labels: Sequence[str | int],
        *,
        targets: Sequence[float] = DEFAULT_TARGETS,
    ) -> Hedger:
        """Learn λ for each target accuracy from calibration probabilities and true labels.

        ``labels`` are class names or column indices; labels that are not classes
        ("Not sure", "Other", negative indices) are left out.
        """
        self._prepare()
        arr = self._check_probs(probs)
        idx, keep = self._label_indices(labels, arr.shape[0])
        if idx.size == 0:
            raise ValueError("no calibration photos with a label among the classes")
        self._set_calibration(np.round(arr[keep], 6).astype(np.float32), idx)
        self.n_excluded_ = int((~keep).sum())
        targets = self._check_targets(targets)
        self.targets_ = tuple(sorted(set(targets)))
        self.lambdas_: dict[float, float] = {}
        self.calibration_accuracy_: dict[float, float] = {}
        previous = 0.0
        for target in self.targets_:
            lam = self._search(target, lo=previous, hi=None)
            self.lambdas_[target] = lam
            self.calibration_accuracy_[target] = self._accuracy(lam)
            previous = lam
        return self

    @staticmethod
    def _check_targets(targets: Sequence[float]) -> list[float]:
        out = [float(t) for t in targets]
        if not out:
            raise ValueError("targets must not be empty")
        for t in out:
            if not 0.0 < t < 1.0:
                raise ValueError(f"target accuracies must lie in (0, 1), got {t}")
        return out

    def _set_calibration(self, probs32: np.ndarray, labels: np.ndarray) -> None:
        self.calibration_probs_ = probs32
        self.calibration_labels_ = labels.astype(np.int64)
        node_probs = self._node_probs(self._check_probs(probs32))
        self._cal_node_probs = node_probs
        # correct[i, v]: node v covers the true class of calibration photo i
        self._cal_correct = self._membership[:, self.calibration_labels_].T > 0.5
        self._recomputed: dict[float, float] = {}

    def _correct_count(self, lam: float) -> int:
        chosen = self._decide(self._cal_node_probs, lam)
        return int(self._cal_correct[np.arange(chosen.size), chosen].sum())

    def _accuracy(self, lam: float) -> float:
        return self._correct_count(lam) / self.calibration_labels_.size

    def _meets(self, lam: float, target: float) -> bool:
        n = self.calibration_labels_.size
        return clopper_pearson_lower(self._correct_count(lam), n, self.confidence) >= target

    def _search(self, target: float, *, lo: float, hi: float | None) -> float:
        """Smallest λ in [lo, hi] meeting ``target``; ``hi`` (when given) is known to meet it."""
        n = self.calibration_labels_.size
        if clopper_pearson_lower(n, n, self.confidence) < target:
            return math.inf  # even an always-correct root cannot certify the target
        if math.isinf(lo):
            return math.inf
        if self._meets(lo, target):
            return lo
        if hi is None or math.isinf(hi):
            hi = max(_LAMBDA_START, 2.0 * lo)
            while not self._meets(hi, target):
                lo, hi = hi, 2.0 * hi
                if hi > _LAMBDA_CAP:
                    return math.inf
        # invariant: lo fails, hi meets
        for _ in range(_MAX_BISECTIONS):
            if hi - lo <= _REL_TOL * max(1.0, hi):
                break
            mid = 0.5 * (lo + hi)
            if self._meets(mid, target):
                hi = mid
            else:
                lo = mid
        return hi

    def _check_fitted(self) -> None:
        if not hasattr(self, "lambdas_"):
            raise RuntimeError("this Hedger is not fitted; call fit() or from_dict() first")

    def lambda_for(self, target: float) -> float:
        """λ for ``target``: the fitted value, or one found now on the stored calibration set.

        A recomputed λ is bracketed by the fitted neighbours, so λ never decreases as the
        target rises.
        """
        self._check_fitted()
        target = self._check_targets([target])[0]
        if target in self.lambdas_:
            return self.lambdas_[target]
        if target not in self._recomputed:
            below = [self.lambdas_[t] for t in self.targets_ if t < target]
            above = [self.lambdas_[t] for t in self.targets_ if t > target]
            lo = max(below) if below else 0.0
            hi = min(above) if above else None
            self._recomputed[target] = self._search(target, lo=lo, hi=hi)
        return self._recomputed[target]

    # ------------------------------------------------------------------ prediction
    def predict(self, probs: Any, target: float = 0.95) -> list[HedgedPrediction]:
        """Hedged answers for rows of class probabilities (columns in ``classes`` order)."""
        self._check_fitted()
        lam = self.lambda_for(target)
        node_probs = self._node_probs(self._check_probs(probs))
        chosen = self._decide(node_probs, lam)
        tax = self.taxonomy
        out = []
        for i, v in enumerate(chosen):
            node_id = tax.node_ids[v]
            out.append(
                HedgedPrediction(
                    label=node_id,
                    path=tax.path(node_id),
                    covers=tax.covers(node_id),
                    target_accuracy=float(target),
                    probability=float(node_probs[i, v]),
                )
            )
        return out

    # ------------------------------------------------------------------ serialisation
    def to_dict(self, *, include_taxonomy: bool = True) -> dict[str, Any]:
        """JSON-friendly state for a model-bundle manifest (``null`` λ means infinity)."""
        self._check_fitted()
        out: dict[str, Any] = {
            "format": FORMAT,
            "version": 1,
            "method": "darts",
            "reward": "information-gain",
            "confidence": float(self.confidence),
            "classes": list(self.classes),
            "targets": [float(t) for t in self.targets_],
            "lambdas": {repr(float(t)): _json_lambda(lam) for t, lam in self.lambdas_.items()},
            "calibration": {
                "n": int(self.calibration_labels_.size),
                "n_excluded": int(self.n_excluded_),
                "accuracy": {
                    repr(float(t)): round(float(a), 6)
                    for t, a in self.calibration_accuracy_.items()
                },
                "labels": [int(x) for x in self.calibration_labels_],
                "probs": [[round(float(x), 6) for x in row] for row in self.calibration_probs_],
            },
        }
        if include_taxonomy:
            out["taxonomy"] = self.taxonomy.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], taxonomy: Taxonomy | None = None) -> Hedger:
        """Rebuild a fitted hedger from :meth:`to_dict` output.

        The taxonomy comes from ``taxonomy``, else from ``d["taxonomy"]``, else the packaged
        one.
        """
        fmt = d.get("format", FORMAT)
        if fmt != FORMAT:
            raise ValueError(f"hedger: format is {fmt!r}, expected {FORMAT!r}")
        if taxonomy is None:
            taxonomy = (
                Taxonomy.from_dict(d["taxonomy"]) if d.get("taxonomy") else Taxonomy.load()
            )
        hedger = cls(taxonomy, list(d["classes"]), confidence=float(d["confidence"]))
        hedger._prepare()
        cal = d["calibration"]
        probs = np.asarray(cal["probs"], dtype=np.float32).reshape(-1, len(hedger.classes))
        labels = np.asarray(cal["labels"], dtype=np.int64)
        if labels.size != probs.shape[0] or labels.size == 0:
            raise ValueError("hedger: calibration labels and probabilities do not match")
        hedger._set_calibration(probs, labels)
        hedger.n_excluded_ = int(cal.get("n_excluded", 0))
        hedger.targets_ = tuple(sorted(float(t) for t in d["targets"]))
        hedger.lambdas_ = {
            float(t): (math.inf if lam is None else float(lam))
            for t, lam in d["lambdas"].items()
        }
        hedger.calibration_accuracy_ = {
            t: hedger._accuracy(lam) for t, lam in hedger.lambdas_.items()
        }
        return hedger


def evaluate_hedging(
    hedger: Hedger,
    probs: Any,
    labels: Sequence[str | int],
    targets: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """Accuracy and specificity of hedged answers on a labelled test set, one row per target.

    Each row holds: ``target``, ``lambda`` (``None`` = always the root), ``n``, ``accuracy``
    (answer is the true leaf or an ancestor), ``accuracy_lower_bound`` (Clopper–Pearson at
    the hedger's confidence), ``information_gain`` (mean of ``1 - log|covers| / log C``: 1 for
    leaves, 0 for the root), ``depth_share`` (share of answers at each depth, index = depth),
    ``leaf_share``, ``root_share``, and ``flat_accuracy`` (plain argmax over classes, the
    comparison). Photos whose label is not a class are left out (``n_excluded``).
    """
    hedger._check_fitted()
    hedger._prepare()
    arr = hedger._check_probs(probs)
    idx, keep = hedger._label_indices(labels, arr.shape[0])
    arr = arr[keep]
    n = idx.size
    if n == 0:
        raise ValueError("no photos with a label among the classes")
    node_probs = hedger._node_probs(arr)
    correct_matrix = hedger._membership[:, idx].T > 0.5
    n_classes = len(hedger.classes)
    gains = hedger._rewards / math.log2(n_classes) if n_classes > 1 else hedger._rewards
    max_depth = int(hedger._depths.max())
    leaves = np.array([not hedger.taxonomy.nodes[v].children for v in hedger.taxonomy.node_ids])
    flat = float(np.mean(np.argmax(arr, axis=1) == idx))
    rows = []
    for target in hedger.targets_ if targets is None else targets:
        lam = hedger.lambda_for(target)
        chosen = hedger._decide(node_probs, lam)
        correct = correct_matrix[np.arange(n), chosen]
        depth_counts = np.bincount(hedger._depths[chosen], minlength=max_depth + 1)
        rows.append(
            {
                "target": float(target),
                "lambda": _json_lambda(lam),
                "n": int(n),
                "n_excluded": int((~keep).sum()),
                "accuracy": float(correct.mean()),
                "accuracy_lower_bound": clopper_pearson_lower(
                    int(correct.sum()), n, hedger.confidence
                ),
                "information_gain": float(gains[chosen].mean()),
                "depth_share": [float(c / n) for c in depth_counts],
                "leaf_share": float(leaves[chosen].mean()),
                "root_share": float(np.mean(chosen == hedger._root_index)),
                "flat_accuracy": flat,
            }
        )
    return rows


def hedger_from_bundle(bundle: Any) -> Hedger:
    """The hedger stored in a classifier bundle's manifest (``ModelBundle`` or its manifest)."""
    manifest = bundle.manifest if hasattr(bundle, "manifest") else bundle
    state = manifest.get("hedging")
    if not state:
        raise ValueError("this classifier bundle has no hedging calibration; retrain or refit it")
    return Hedger.from_dict(state)
