"""A learned namer of a garment's main colour: a small network that looks at the garment.

Naming each colour cluster by its nearest dictionary reference (:mod:`fashionlens.colour`)
reads pixels; people read garments. A dark fabric whose lit folds are blue is navy, a heathered
charcoal knit is grey, light-wash denim is blue, a print is named by its ground, a dark
garment on a warm-lit bed is navy where the same pixels in a street photo are black. The
namer is an image classifier over the colour dictionary's ids, fine-tuned from ImageNet
weights on garments people named (``fashionlens train colour-namer``), run with ONNX Runtime.

It sees a *garment view*: the garment's box (with a margin, made square), its surroundings
kept but faded halfway to grey, so that the light and the backdrop are there to judge by
while the garment stands out (:func:`garment_view`). Its probabilities are not used alone:
a linear *stacker* scores every dictionary colour from the network's log-probability and
from features that relate the colour to the garment's pixels (CIEDE2000 from the colour's
references to the main cluster, to the median, to the darker and the lighter third; its
share of the k-means clusters and of the named colours; whether nearest-reference naming
chose it; :func:`candidate_features`), plus a per-colour prior; the highest score is the
main colour. The stacker is fitted on a validation set the network did not train on.

The pixel analysis still measures the colours and their shares; the namer only decides which
name is the main one (:meth:`fashionlens.colour.GarmentColours.with_main`). Every weight but
the prior is shared by all colours, so an extended dictionary still works: a colour the
network does not know gets the smallest log-probability it can give and no prior.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from fashionlens.core.colours import ColourDictionary, delta_e

if TYPE_CHECKING:
    import onnxruntime as ort

VIEW_GREY = 128
BUNDLE_NAME = "colour-namer"
PIXEL_FEATURES = (
    "de_main", "de_median", "de_dark", "de_light", "de_nearest",
    "cluster_vote", "cluster_soft", "share", "is_reference_main",
    "nearest_to_median", "nearest_to_main", "second_to_median",
)
FEATURES = (*PIXEL_FEATURES, "network_log_prob")
SOFT_VOTE_DE = 6.0   # ΔE scale of the soft cluster vote: exp(-ΔE / 6)
# A garment whose colour is solid and sits this close (CIEDE2000) to one of its name's
# reference points is named by its pixels: the dictionary defines that name there.
PIXELS_DECIDE_DE = 3.0
PIXELS_DECIDE_SHARE = 0.8
LOG_PROB_FLOOR = 1e-4


def garment_view(
    rgb: np.ndarray, mask: np.ndarray | None, *, size: int = 160, context: float = 0.5,
    margin: float = 0.1,
) -> Image.Image:
    """The square ``size`` x ``size`` view of the garment that the namer classifies.

    ``rgb``: HxWx3 uint8; ``mask``: HxW bool (None or empty: the whole photo). The mask's box
    grows by ``margin`` of its sides on each side and is made square (padding with grey
    beyond the photo); pixels outside the mask keep ``context`` of their contrast to grey.
    """
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 photo, got {arr.dtype} {arr.shape}")
    h, w = arr.shape[:2]
    if mask is None or not np.any(mask):
        m = np.ones((h, w), dtype=bool)
    else:
        m = np.asarray(mask, dtype=bool)
        if m.shape != (h, w):
            raise ValueError(f"mask shape {m.shape} differs from image shape {(h, w)}")
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = max(y1 - y0, x1 - x0) * (1 + 2 * margin)
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    top, left = int(round(cy - side / 2)), int(round(cx - side / 2))
    s = max(1, int(round(side)))
    # Crop (padding with grey beyond the photo), shrink to the view size, then fade: the
    # work is on size x size pixels, whatever the photo's size.
    crop = np.full((s, s, 3), VIEW_GREY, dtype=np.uint8)
    inside = np.zeros((s, s), dtype=np.uint8)
    sy0, sx0 = max(0, top), max(0, left)
    sy1, sx1 = min(h, top + s), min(w, left + s)
    crop[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = arr[sy0:sy1, sx0:sx1]
    inside[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = m[sy0:sy1, sx0:sx1].view(np.uint8)
    inside *= 255
    small = np.asarray(Image.fromarray(crop).resize(
        (size, size), Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.float32)
    weight = np.asarray(Image.fromarray(inside).resize(
        (size, size), Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.float32) / 255.0
    keep = (weight + (1.0 - weight) * context)[..., None]
    return Image.fromarray(np.clip(VIEW_GREY + keep * (small - VIEW_GREY) + 0.5, 0, 255)
                           .astype(np.uint8))


# --------------------------------------------------------------------------- pixel features
@dataclass
class RegionSummary:
    """What the stacker knows of a region's pixels, in CIELAB after the light correction."""

    reference_main: str              # the main name by nearest-reference naming
    shares: dict[str, float]         # every name's share of the region (before small ones drop)
    main_lab: np.ndarray             # (3,) the main name's pooled colour
    median_lab: np.ndarray           # (3,) weighted median of the region's pixels
    dark_lab: np.ndarray             # (3,) median of the darker third (by L*)
    light_lab: np.ndarray            # (3,) median of the lighter third
    centres: np.ndarray              # (k, 3) k-means centres before merging
    weights: np.ndarray = field(default_factory=lambda: np.ones(1))  # (k,) summing to 1


def weighted_medians(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-column weighted median of ``x`` ``(N, C)``: the first value, in each column's
    order, at which the cumulative weight reaches half of that column's total."""
    order = np.argsort(x, axis=0, kind="stable")
    cum = np.cumsum(w[order], axis=0)
    first = (cum >= cum[-1] / 2.0).argmax(axis=0)
    cols = np.arange(x.shape[1])
    return x[order[first, cols], cols].astype(np.float64)


def summarise(
    lab: np.ndarray, counts: np.ndarray, centres: np.ndarray, centre_weights: np.ndarray, *,
    reference_main: str, shares: dict[str, float], main_lab: Sequence[float],
) -> RegionSummary:
    """A :class:`RegionSummary` from a region's distinct colours (``lab``) and their counts."""
    w = np.asarray(counts, dtype=np.float64)
    lab = np.asarray(lab)
    order = np.argsort(lab[:, 0], kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    dark, light = order[cum <= 1 / 3], order[cum >= 2 / 3]
    med = weighted_medians(lab, w)
    cw = np.asarray(centre_weights, dtype=np.float64)
    return RegionSummary(
        reference_main=reference_main, shares=dict(shares),
        main_lab=np.asarray(main_lab, dtype=np.float64), median_lab=med,
        dark_lab=weighted_medians(lab[dark], w[dark]) if len(dark) else med,
        light_lab=weighted_medians(lab[light], w[light]) if len(light) else med,
        centres=np.asarray(centres, dtype=np.float64), weights=cw / cw.sum(),
    )


def candidate_features(s: RegionSummary, d: ColourDictionary) -> np.ndarray:
    """``(len(d.ids), len(PIXEL_FEATURES))``: how each dictionary colour fits the pixels."""
    return candidate_features_of([s], d)[0]


def candidate_features_of(summaries: Sequence[RegionSummary],
                          d: ColourDictionary) -> list[np.ndarray]:
    """:func:`candidate_features` of several regions, their distances in one call (the call
    has fixed costs; each distance is computed alone, so the values are the same)."""
    points = [np.concatenate([np.stack([s.main_lab, s.median_lab, s.dark_lab, s.light_lab]),
                              np.asarray(s.centres, dtype=np.float64).reshape(-1, 3)])
              for s in summaries]
    if not points:
        return []
    dist = d.distances(np.concatenate(points))
    ends = np.cumsum([len(p) for p in points])
    return [_features(s, part, d)
            for s, part in zip(summaries, np.split(dist, ends[:-1]), strict=True)]


def _features(s: RegionSummary, dist: np.ndarray, d: ColourDictionary) -> np.ndarray:
    ids = d.ids
    d_main, d_med, d_dark, d_light = dist[:4]
    d_centres = dist[4:]
    vote = np.zeros(len(ids))
    np.add.at(vote, d_centres.argmin(axis=1), s.weights)
    soft = (s.weights[:, None] * np.exp(-d_centres / SOFT_VOTE_DE)).sum(axis=0)
    share = np.array([s.shares.get(c, 0.0) for c in ids])
    is_main = np.array([c == s.reference_main for c in ids], dtype=np.float64)
    rank_med = np.argsort(np.argsort(d_med, kind="stable"), kind="stable")
    nearest_main = (np.arange(len(ids)) == int(np.argmin(d_main))).astype(np.float64)
    return np.stack([
        d_main, d_med, d_dark, d_light, np.minimum(d_main, d_med), vote, soft, share, is_main,
        (rank_med == 0).astype(np.float64), nearest_main, (rank_med == 1).astype(np.float64),
    ], axis=1)


def stack_features(
    summary: RegionSummary, log_probs: dict[str, float], d: ColourDictionary,
) -> np.ndarray:
    """``(len(d.ids), len(FEATURES))``: pixel features plus the network's log-probability."""
    return _with_log_probs(candidate_features(summary, d), log_probs, d)


def _with_log_probs(pixel_features: np.ndarray, log_probs: dict[str, float],
                    d: ColourDictionary) -> np.ndarray:
    floor = float(np.log(LOG_PROB_FLOOR))
    lp = np.array([log_probs.get(c, floor) for c in d.ids])[:, None]
    return np.concatenate([pixel_features, lp], axis=1)


# --------------------------------------------------------------------------- the stacker
@dataclass
class Stacker:
    """A linear score per dictionary colour over :func:`stack_features` plus a prior."""

    weights: np.ndarray              # (len(FEATURES),) on standardised features
    mean: np.ndarray
    scale: np.ndarray
    prior: dict[str, float]          # colour id → added score
    c: float = 0.01                  # the inverse regularisation it was fitted with

    def scores(self, x: np.ndarray, ids: Sequence[str]) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.weights + np.array(
            [self.prior.get(c, 0.0) for c in ids])

    @classmethod
    def fit(cls, xs: list[np.ndarray], labels: list[str], ids: Sequence[str], *,
            c: float = 0.01, seed: int = 0) -> Stacker:
        """Logistic regression on (region, colour) pairs; ``labels[i]`` names region ``i``.

        A region labelled by several people appears once per label.
        """
        from sklearn.linear_model import LogisticRegression

        if len(xs) != len(labels) or not xs:
            raise ValueError("need one feature matrix per label, and at least one")
        unknown = sorted({lab for lab in labels if lab not in ids})
        if unknown:
            raise ValueError(f"labels not in the colour dictionary: {', '.join(unknown)}")
        x = np.concatenate(xs)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        onehot = np.tile(np.eye(len(ids)), (len(xs), 1))
        y = np.concatenate([(np.asarray(ids) == lab).astype(int) for lab in labels])
        model = LogisticRegression(C=c, max_iter=5000, random_state=seed).fit(
            np.concatenate([(x - mean) / scale, onehot], axis=1), y)
        coef = model.coef_[0]
        k = x.shape[1]
        return cls(weights=coef[:k].copy(), mean=mean, scale=scale, c=c,
                   prior={cid: float(coef[k + i]) for i, cid in enumerate(ids)})

    def to_json(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "c": self.c,
                "weights": [round(float(v), 6) for v in self.weights],
                "mean": [round(float(v), 6) for v in self.mean],
                "scale": [round(float(v), 6) for v in self.scale],
                "prior": {k: round(v, 6) for k, v in self.prior.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stacker:
        if list(data.get("features", [])) != list(FEATURES):
            raise ValueError(f"colour namer stacker features {data.get('features')} differ "
                             f"from this version's {list(FEATURES)}; retrain the namer")
        arrays = {k: np.asarray(data[k], dtype=np.float64) for k in ("weights", "mean", "scale")}
        if any(a.shape != (len(FEATURES),) for a in arrays.values()):
            raise ValueError(f"colour namer stacker needs {len(FEATURES)} weights, means and "
                             "scales")
        return cls(prior={str(k): float(v) for k, v in data.get("prior", {}).items()},
                   c=float(data.get("c", 0.0)), **arrays)


# --------------------------------------------------------------------------- the namer
class ColourNamer:
    """The network (ONNX Runtime) and its stacker, from a ``colour-namer`` model bundle.

    ``variant``: the bundle's network file to run (``fp32``, ``int8``); by default the one
    its manifest names."""

    def __init__(self, bundle: str | Path, *, threads: int = 1, variant: str = "default"):
        from fashionlens.inference.bundle import ModelBundle
        from fashionlens.inference.classifier import make_session

        self.bundle = ModelBundle.load(bundle)
        manifest = self.bundle.manifest
        self.variant = manifest.get("default_variant", "fp32") if variant == "default" else variant
        self.classes = self.bundle.classes
        self.preprocessing = self.bundle.preprocessing
        self.view = dict(manifest.get("view", {}))
        # each variant's stacker was fitted on that variant's log-probabilities
        stacker = manifest.get("stackers", {}).get(self.variant, manifest["stacker"])
        self.stacker = Stacker.from_json(stacker)
        self.session: ort.InferenceSession = make_session(self.bundle.onnx_path(self.variant),
                                                          threads)

    def view_of(self, rgb: np.ndarray, mask: np.ndarray | None) -> Image.Image:
        """The garment view this namer was trained on."""
        return garment_view(rgb, mask, size=int(self.view.get("size", 160)),
                            context=float(self.view.get("context", 0.5)),
                            margin=float(self.view.get("margin", 0.1)))

    def log_probs(self, views: Sequence[Image.Image]) -> list[dict[str, float]]:
        """The network's log-probability of each of its classes, per view."""
        from fashionlens.imaging import fit_to_input, to_array

        if not views:
            return []
        batch = np.stack([to_array(fit_to_input(v, self.preprocessing), self.preprocessing)
                          for v in views]).astype(np.float32)
        logits = self.session.run(["logits"], {"image": batch})[0].astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return [dict(zip(self.classes, row.tolist(), strict=True)) for row in lp]

    def choose(self, rgb: np.ndarray, masks: Sequence[np.ndarray | None],
               summaries: Sequence[RegionSummary], d: ColourDictionary) -> list[str]:
        """The main colour id of each region of a photo (one mask and summary per region).

        Regions the pixels decide (:func:`pixels_decide`) are not shown to the network; the
        others go through it in one batch.
        """
        if len(masks) != len(summaries):
            raise ValueError("need one mask per region summary")
        decided = [pixels_decide(s, d) for s in summaries]
        ask = [i for i, name in enumerate(decided) if name is None]
        views = [self.view_of(rgb, masks[i]) for i in ask]
        pixel_features = candidate_features_of([summaries[i] for i in ask], d)
        for i, x, lp in zip(ask, pixel_features, self.log_probs(views), strict=True):
            scores = self.stacker.scores(_with_log_probs(x, lp, d), d.ids)
            decided[i] = d.ids[int(np.argmax(scores))]
        return [str(name) for name in decided]


def pixels_decide(s: RegionSummary, d: ColourDictionary) -> str | None:
    """The pixel name when the garment is solid and on one of that name's references."""
    if s.shares.get(s.reference_main, 0.0) < PIXELS_DECIDE_SHARE:
        return None
    refs = d.reference_lab[d.reference_owner == d.ids.index(s.reference_main)]
    distance = float(delta_e(s.main_lab, refs).min())  # to that name's references only
    return s.reference_main if distance <= PIXELS_DECIDE_DE else None


@functools.lru_cache(maxsize=4)
def _load_namer(path: str) -> ColourNamer:
    return ColourNamer(path)


def default_namer(models_dir: str | Path | None = None) -> ColourNamer | None:
    """The ``colour-namer`` bundle of the models folder (loaded once), or None without one."""
    from fashionlens.core.settings import get_settings

    path = Path(models_dir or get_settings().models_dir) / BUNDLE_NAME
    if not (path / "manifest.json").is_file():
        return None
    return _load_namer(str(path.resolve()))
