"""Dominant colours of a garment, measured in CIELAB and named by the colour dictionary.

Only the garment's own pixels count: a parser's mask for outfit photos
(:func:`colours_of_garments`), or, for single-garment product photos, a mask that separates the
garment from its backdrop and from skin (:func:`garment_mask_for_product_photo`).

How a region is read (:func:`colours_of_region`; every knob is in :class:`ColourConfig`):

1. The region is sampled on a regular grid (at most ``max_pixels``, 2,000 by default), after
   a one-pixel erosion that drops the mixed pixels along its edge.
2. Light (:func:`white_balance_gains`; colour constancy, roughly): a tint that the garment
   and its backdrop share is taken for the light's and removed (a white shirt on a cream
   mattress under warm light), then the photo is brightened in linear light so that the
   brightest 2% of its near-neutral pixels outside the garment reach a white point (a
   saturated backdrop is never taken for white).
3. Pixels go to CIELAB (D65) through a 64³ lookup table built once with scikit-image;
   distinct colours (5 bits per channel) are clustered with their counts as weights.
4. k-means (k-means++ seeding with a fixed seed, so results are reproducible) finds up to
   ``k`` clusters. Clusters closer than ``merge_delta_e`` (CIEDE2000), or differing only by
   shading (same hue and similar chroma, lighter or darker), are linked into one colour, so
   the lit and shadowed sides of a fold stay one colour.
5. Each colour is named by its weighted median Lab, nearest dictionary reference by
   CIEDE2000; same names are pooled. Names under ``min_share`` are dropped and the rest
   renormalised, so shares sum to 1.
6. The pattern is ``"solid"`` when one name (alone, or with its dictionary neighbours: shading
   across navy/black) covers the region, ``"striped"`` when the two main colours alternate
   along one image axis, otherwise ``"multicolour"``.
7. With a learned namer (``namer=``, :mod:`fashionlens.colour_namer`), a small network that
   looks at the garment and a stacker over the pixel statistics choose the main colour,
   which is listed first; without one the largest named colour is the main one.

Serving-path module: numpy, scipy, Pillow and scikit-image; no torch.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from fashionlens.colour_namer import ColourNamer, RegionSummary, weighted_medians
from fashionlens.colour_namer import summarise as summarise_region
from fashionlens.core.colours import ColourDictionary, delta_e

__all__ = [
    "ColourConfig",
    "ColourShare",
    "GarmentColours",
    "apply_gains",
    "colours_of_garments",
    "colours_of_region",
    "default_dictionary",
    "garment_mask_for_product_photo",
    "rgb_to_lab",
    "white_balance_gains",
]

_LUT_BITS = 6
_LUMA = np.array([0.2126, 0.7152, 0.0722])  # linear sRGB → luminance Y


@dataclass(frozen=True)
class ColourConfig:
    """Knobs of :func:`colours_of_region`, defaults visible in one place."""

    max_pixels: int = 2000          # pixels sampled per region (regular grid)
    k: int = 6                      # k-means clusters before merging
    iterations: int = 10            # Lloyd iterations at most
    merge_delta_e: float = 9.0      # merge clusters closer than this (CIEDE2000) ...
    merge_shading: bool = True      # ... and clusters that differ by shading only:
    shading_hue: float = 15.0       #     same hue (degrees) and similar chroma, lightness
    shading_chromatic_dl: float = 45.0  # within this (chromatic colours)
    shading_neutral_dl: float = 30.0    # or this (near-neutral colours)
    min_share: float = 0.05         # drop names below this share, then renormalise
    solid_share: float = 0.8        # one name this large → solid
    solid_family_share: float = 0.85  # one name plus its dictionary neighbours → solid
    erode: bool = True              # drop the region's one-pixel edge when it is big enough
    white_balance: bool = True      # exposure correction, see white_balance_gains
    white_point: float = 0.8        # luminance Y the photo's brightest 2% is brought to ...
    max_gain: float = 1.6           # ... by at most this factor in linear light
    white_patch_chroma: float = 20.0  # only near-neutral pixels can stand for white
    remove_cast: bool = False       # neutralise a nearly neutral white patch's tint ...
    max_cast: float = 1.3           # ... by at most this factor between channels
    shared_tint: bool = True        # a tint shared by garment and backdrop is the light's ...
    shared_tint_chroma: tuple[float, float] = (8.0, 30.0)  # ... when both have this chroma,
    shared_tint_hue: float = 20.0   #     hues this close (degrees), chromas within 1.5x,
    max_tint_gain: float = 1.8      #     the garment no darker; removed up to this factor
    seed: int = 0


DEFAULT_CONFIG = ColourConfig()


class ColourShare(NamedTuple):
    """One named colour of a garment: dictionary id, share of the garment (0..1), mean sRGB."""

    name: str
    share: float
    rgb: tuple[int, int, int]


@dataclass
class GarmentColours:
    """The colours of one garment, largest share first; ``main`` is the first name."""

    colours: list[ColourShare]
    pattern: str
    main: str | None
    pixels: int = 0                 # garment pixels the estimate is based on (before sampling)
    lab: list[tuple[float, float, float]] = field(default_factory=list, repr=False)
    display: list[str] = field(default_factory=list, repr=False)  # English display names

    def to_json(self, label: str | None = None) -> dict[str, Any]:
        """``{"label", "colours": [{"name", "display", "share", "rgb"}], "pattern"}``.

        ``name`` is the dictionary id, ``display`` its English display name ("Light blue").
        """
        out: dict[str, Any] = {} if label is None else {"label": label}
        out["colours"] = [
            {"name": c.name, "display": self._display(i), "share": round(float(c.share), 4),
             "rgb": [int(v) for v in c.rgb]}
            for i, c in enumerate(self.colours)
        ]
        out["pattern"] = self.pattern
        return out

    def with_main(self, name: str, d: ColourDictionary) -> GarmentColours:
        """These colours with ``name`` as the main one (a learned namer's choice).

        A name already in the list moves to the front; another name renames the largest
        colour (same pixels, share and rgb: the namer reads that colour differently).
        """
        if not self.colours or name == self.main:
            return self
        names = [c.name for c in self.colours]
        order = list(range(len(self.colours)))
        colours = list(self.colours)
        if name in names:
            i = names.index(name)
            order = [i, *[j for j in order if j != i]]
            colours = [self.colours[j] for j in order]
        else:
            colours[0] = colours[0]._replace(name=name)
        lab = [self.lab[j] for j in order] if len(self.lab) == len(order) else self.lab
        return replace(self, colours=colours, main=name, lab=lab,
                       display=[d.colours[c.name].display_name("en") if c.name in d.colours
                                else c.name for c in colours])

    def _display(self, i: int) -> str:
        if i < len(self.display):
            return self.display[i]
        name = self.colours[i].name
        entry = default_dictionary().colours.get(name)
        return entry.display_name("en") if entry is not None else name


@functools.lru_cache(maxsize=1)
def default_dictionary() -> ColourDictionary:
    """The packaged colour dictionary (loaded once)."""
    return ColourDictionary.load()


# --------------------------------------------------------------------------- colour space
@functools.lru_cache(maxsize=1)
def _lab_lut() -> np.ndarray:
    """CIELAB of every 6-bit-per-channel sRGB bin centre, ``(64**3, 3)`` float32."""
    from skimage.color import rgb2lab

    n = 1 << _LUT_BITS
    step = 256 // n
    levels = (np.arange(n) * step + (step - 1) / 2.0) / 255.0
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    rgb = np.stack([r, g, b], axis=-1).reshape(-1, 1, 3)
    lut = rgb2lab(rgb).reshape(-1, 3).astype(np.float32)
    lut.flags.writeable = False
    return lut


def rgb_to_lab(pixels: np.ndarray) -> np.ndarray:
    """sRGB ``uint8`` colours (``(..., 3)``) → CIELAB float32, via a 64³ lookup table.

    The table is exact at bin centres; the quantisation error is below about 1.5 ΔE2000,
    far under the distances between colour names.
    """
    px = np.asarray(pixels)
    if px.dtype != np.uint8 or px.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB pixels (..., 3), got {px.dtype} {px.shape}")
    shift = 8 - _LUT_BITS
    q = px >> shift
    idx = (q[..., 0].astype(np.intp) << (2 * _LUT_BITS)) | (
        q[..., 1].astype(np.intp) << _LUT_BITS
    ) | q[..., 2]
    return _lab_lut()[idx]


# CIE XYZ (D65) → linear sRGB (IEC 61966-2-1), and the D65 white point of the Lab tables.
_RGB_FROM_XYZ = np.array([[3.2404813, -1.5371515, -0.4985363],
                          [-0.9692550, 1.8759900, 0.0415559],
                          [0.0556466, -0.2040413, 1.0573111]])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (D65) colours ``(N, 3)`` → the nearest sRGB ``uint8`` colours (clipped to gamut).

    A few colours per garment: the plain formulas, without a library's per-call overhead.
    """
    lab = np.asarray(lab, dtype=np.float64).reshape(-1, 3)
    fy = (lab[:, 0] + 16.0) / 116.0
    f = np.stack([fy + lab[:, 1] / 500.0, fy, np.maximum(fy - lab[:, 2] / 200.0, 0.0)], axis=1)
    xyz = np.where(f > 6.0 / 29.0, f ** 3, (f - 16.0 / 116.0) * (3.0 * (6.0 / 29.0) ** 2))
    linear = (xyz * _D65_WHITE) @ _RGB_FROM_XYZ.T
    return np.clip(np.round(_linear_to_srgb(linear) * 255.0), 0, 255).astype(np.uint8)


def _srgb_to_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)


def white_balance_gains(
    rgb: np.ndarray, config: ColourConfig = DEFAULT_CONFIG, *, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Per-channel linear-light gains ``(3,)`` that correct the photo's exposure.

    People judge a garment's colour relative to the scene (colour constancy): a white shirt
    in a dim phone photo is still white. The photo's brightest 2% of near-neutral pixels
    (chroma under ``config.white_patch_chroma``: a white backdrop, a white garment, a
    highlight; a saturated red cloth is not white however bright) stands for white
    ("white patch"): its luminance is brought to ``config.white_point`` (never darker, at
    most ``config.max_gain``). With ``config.remove_cast`` (off by default: backdrops are
    often coloured) a nearly neutral white patch also loses its tint (at most
    ``config.max_cast`` between channels). A photo with a bright white point, or with no
    near-neutral pixels, gets gains of 1. ``exclude`` (HxW bool, e.g. the garment being
    measured) keeps a region out of the white patch when enough of the photo is left, so a
    cream garment is not taken for the white of the scene.

    With ``config.shared_tint`` and ``exclude`` given, a tint that the excluded region (the
    garment) and the rest of the photo (the backdrop) share is taken for the light's and
    removed (:func:`_shared_tint_cast`): a white shirt on a cream mattress under warm light.
    """
    h, w = rgb.shape[:2]
    s = max(1, math.ceil(math.sqrt(h * w / 10000)))
    px = rgb[::s, ::s].reshape(-1, 3)
    lab = rgb_to_lab(px)
    gains = np.ones(3)
    inside = None if exclude is None else exclude[::s, ::s].reshape(-1)
    if config.shared_tint and inside is not None:
        cast = _shared_tint_cast(px, lab, inside, config)
        if cast is not None:  # the white patch is then looked for in the corrected photo
            gains = cast
            px = apply_gains(px, gains)
            lab = rgb_to_lab(px)
    if inside is not None and (~inside).sum() >= 0.1 * inside.size:
        px, lab = px[~inside], lab[~inside]
    neutral = np.hypot(lab[:, 1], lab[:, 2]) < config.white_patch_chroma
    px, lab = px[neutral], lab[neutral]
    L = lab[:, 0]
    hi = (np.percentile(L, 98) <= L) if L.size else np.zeros(0, dtype=bool)
    hi &= L < 99.0  # clipped pixels say nothing about the light
    if hi.sum() < 10:
        return gains
    lin = _srgb_to_linear(px[hi].astype(np.float64) / 255.0).mean(0)
    y = float(lin @ _LUMA)
    gains = gains * float(np.clip(config.white_point / max(y, 1e-4), 1.0, config.max_gain))
    chroma = float(np.hypot(*lab[hi, 1:].mean(0)))
    if config.remove_cast and chroma < 20.0 and y > 0.2:
        cast = y / np.maximum(lin, 1e-4)  # per channel, makes the white patch neutral
        cast = np.clip(cast, 1.0 / config.max_cast, config.max_cast)
        gains = gains * cast / float(cast @ _LUMA)
    return gains


def _shared_tint_cast(
    px: np.ndarray, lab: np.ndarray, inside: np.ndarray, cfg: ColourConfig
) -> np.ndarray | None:
    """Gains that neutralise the backdrop when garment and backdrop share one tint, else None.

    Two different surfaces with the same moderate chromaticity (a shirt and a mattress both
    L* 70-80, b* 20) are more likely white and off-white under warm light than two cream
    things; the garment must be at least about as light as the backdrop (a beige garment on
    a cream carpet is darker than it and keeps its colour). The backdrop's median colour is
    made neutral at the same luminance, each channel by at most ``cfg.max_tint_gain``.
    """
    n_in = int(inside.sum())
    if not 0.05 * inside.size <= n_in <= 0.9 * inside.size:
        return None
    lo, hi = cfg.shared_tint_chroma
    bg = np.median(lab[~inside][::2], 0)  # every other pixel: plenty for a median
    cb = float(np.hypot(bg[1], bg[2]))
    if not lo <= cb <= hi:  # most backdrops: neutral or saturated, done
        return None
    fg = np.median(lab[inside][::2], 0)
    cf = float(np.hypot(fg[1], fg[2]))
    if not (lo <= cf <= hi and cf <= 1.5 * cb and cb <= 1.5 * cf):
        return None
    dh = math.degrees(math.atan2(fg[2], fg[1]) - math.atan2(bg[2], bg[1]))
    if abs((dh + 180.0) % 360.0 - 180.0) > cfg.shared_tint_hue or fg[0] < bg[0] - 5.0:
        return None
    lin_bg = np.median(_srgb_to_linear(px[~inside].astype(np.float64) / 255.0), 0)
    cast = float(lin_bg @ _LUMA) / np.maximum(lin_bg, 1e-4)
    cast = np.clip(cast, 1.0 / cfg.max_tint_gain, cfg.max_tint_gain)
    return cast / float(cast @ _LUMA)


@functools.lru_cache(maxsize=64)
def _channel_tables(gains: tuple[float, float, float]) -> np.ndarray:
    """``(3, 256)`` uint8: each channel's sRGB value after its linear-light gain."""
    v = _srgb_to_linear(np.arange(256) / 255.0)
    out = np.stack([_linear_to_srgb(v * g) for g in gains])
    return np.round(out * 255.0).astype(np.uint8)


def apply_gains(pixels: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """uint8 RGB pixels ``(..., 3)`` with per-channel linear-light ``gains`` applied."""
    g = np.asarray(gains, dtype=np.float64)
    if float(np.abs(g - 1.0).max()) <= 1e-5 + 1e-8:  # np.allclose(gains, 1), at a tenth the cost
        return pixels
    tables = _channel_tables(tuple(round(float(v), 4) for v in g))
    out = np.empty_like(pixels)
    for c in range(3):
        out[..., c] = tables[c][pixels[..., c]]
    return out


# --------------------------------------------------------------------------- clustering
def _kmeans(
    x: np.ndarray, k: int, *, iterations: int, seed: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Small Lloyd k-means with k-means++ seeding: ``(centres (k, 3), labels (N,))``.

    Regions have about 130 distinct (binned) colours, so this is all per-call overhead; it is
    kept to a few numpy calls per step.
    """
    n = x.shape[0]
    xx = np.asarray(x, dtype=np.float64)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    uniforms = _seed_uniforms(seed, k)

    def draw(p: np.ndarray, j: int) -> int:  # as rng.choice(n, p=p) draws, without its checks
        cdf = np.cumsum(p)
        cdf /= cdf[-1]
        return int(np.searchsorted(cdf, uniforms[j], side="right"))

    centres = np.empty((k, xx.shape[1]))
    centres[0] = xx[draw(w / w.sum(), 0)]
    d2 = ((xx - centres[0]) ** 2).sum(1)
    for j in range(1, k):
        p = d2 * w
        total = p.sum()
        if total <= 0:
            centres = centres[:j]
            break
        centres[j] = xx[draw(p / total, j)]
        np.minimum(d2, ((xx - centres[j]) ** 2).sum(1), out=d2)
    k = centres.shape[0]
    labels = np.full(n, -1, dtype=np.intp)
    x2 = (xx * xx).sum(1, keepdims=True)
    onehot = np.empty((n, k))
    ids = np.arange(k)
    for _ in range(iterations):
        # x2 - 2 x.c + c2, with the factor 2 (exact in floating point) moved into the centres
        dist = x2 + xx @ (centres.T * -2.0) + (centres * centres).sum(1)
        new = dist.argmin(1)
        if (new == labels).all():
            break
        labels = new
        np.equal(labels[:, None], ids, out=onehot)
        onehot *= w[:, None]
        counts = onehot.sum(0)
        np.divide(onehot.T @ xx, counts[:, None], out=centres, where=counts[:, None] > 0)
    return centres, labels


@functools.lru_cache(maxsize=8)
def _seed_uniforms(seed: int, k: int) -> tuple[float, ...]:
    """The first ``k`` uniform draws of ``np.random.default_rng(seed)``: k-means++ needs one
    per centre, and making the generator costs more than the rest of the seeding."""
    return tuple(np.random.default_rng(seed).random(k).tolist())


def _shading_pairs(centres: np.ndarray, cfg: ColourConfig) -> np.ndarray:
    """``(k, k)`` bool: cluster pairs that look like one fabric in light and in shadow.

    Chromatic pairs share a hue (within ``shading_hue`` degrees) and a similar chroma;
    near-neutral pairs differ by at most ``shading_neutral_dl`` in lightness.
    """
    L = centres[:, 0]
    C = np.hypot(centres[:, 1], centres[:, 2])
    h = np.degrees(np.arctan2(centres[:, 2], centres[:, 1]))
    dh = np.abs((h[:, None] - h[None, :] + 180.0) % 360.0 - 180.0)
    dL = np.abs(L[:, None] - L[None, :])
    c_lo, c_hi = np.minimum(C[:, None], C[None, :]), np.maximum(C[:, None], C[None, :])
    chromatic = (c_lo >= 10.0) & (dh <= cfg.shading_hue) & (c_lo >= 0.5 * c_hi)
    chromatic &= dL <= cfg.shading_chromatic_dl
    neutral = (c_hi < 10.0) & (dL <= cfg.shading_neutral_dl)
    return chromatic | neutral


def _merge_close(
    centres: np.ndarray, counts: np.ndarray, cfg: ColourConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge clusters of one colour: closer than ``cfg.merge_delta_e`` (CIEDE2000) or related
    by shading (:func:`_shading_pairs`); linked clusters form one group (single linkage).

    Returns group centres (count-weighted means), group counts and, for each input cluster,
    its group index.
    """
    k = len(centres)
    linked = delta_e(centres[:, None, :], centres[None, :, :]) < cfg.merge_delta_e
    if cfg.merge_shading:
        linked |= _shading_pairs(centres, cfg)
    linked &= (counts > 0)[:, None] & (counts > 0)[None, :]
    mapping = np.arange(k)
    for _ in range(k):  # propagate the smallest index through the links
        new = np.where(linked, mapping[None, :], k).min(1)
        new = np.minimum(new, mapping)
        if (new == mapping).all():
            break
        mapping = new
    present = np.zeros(k, dtype=bool)  # np.unique(mapping, return_inverse=True), for k ≤ 8
    present[mapping] = True
    roots = np.flatnonzero(present)
    mapping = (np.cumsum(present) - 1)[mapping]
    g_counts = np.bincount(mapping, weights=counts, minlength=len(roots))
    g_centres = np.stack(
        [np.bincount(mapping, weights=counts * centres[:, c], minlength=len(roots))
         for c in range(centres.shape[1])], axis=1
    ) / np.maximum(g_counts, 1e-12)[:, None]
    return g_centres, g_counts, mapping


# --------------------------------------------------------------------------- one region
def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an RGB image as HxWx3 uint8, got {arr.dtype} {arr.shape}")
    return arr


def _bbox(mask: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _sample_grid(
    rgb: np.ndarray, mask: np.ndarray | None, cfg: ColourConfig
) -> tuple[np.ndarray, np.ndarray, int]:
    """Grid-sampled region: ``(rgb crop (h, w, 3), mask crop (h, w), pixel count)``."""
    if mask is None:
        n = rgb.shape[0] * rgb.shape[1]
        s = max(1, math.ceil(math.sqrt(n / cfg.max_pixels)))
        crop = rgb[::s, ::s]
        sub = np.ones(crop.shape[:2], dtype=bool)
        return crop, sub, n
    box = _bbox(mask)
    if box is None:
        return rgb[:0, :0], mask[:0, :0], 0
    m = mask[box]
    n = int(np.count_nonzero(m))
    s = max(1, math.ceil(math.sqrt(n / cfg.max_pixels)))
    sub = m[::s, ::s]
    crop = rgb[box][::s, ::s]
    if cfg.erode and sub.sum() >= 200:
        eroded = _erode(sub)
        if eroded.sum() >= 0.5 * sub.sum():
            sub = eroded
    return crop, sub, n


def _erode(mask: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.binary_erosion(mask)`` (cross-shaped, outside the array counts as
    off), in five numpy steps: the same pixels at a fifth of the time on a region's grid."""
    out = mask.copy()
    out[1:] &= mask[:-1]
    out[:-1] &= mask[1:]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    out[[0, -1]] = False
    out[:, [0, -1]] = False
    return out


def _stripe_score(labels2d: np.ndarray, valid: np.ndarray) -> float:
    """How much more often the label changes along one axis than along the other (≥ 1)."""
    changes = []
    for axis in (0, 1):
        a = np.moveaxis(labels2d, axis, 0)
        v = np.moveaxis(valid, axis, 0)
        both = v[1:] & v[:-1]
        pairs = int(both.sum())
        if pairs < 50:
            return 1.0
        changes.append(float(((a[1:] != a[:-1]) & both).sum()) / pairs)
    lo, hi = sorted(changes)
    if hi < 0.04:  # too few changes for stripes (large blocks of colour)
        return 1.0
    return hi / max(lo, 1e-3)


def _region_sample(
    arr: np.ndarray, mask: np.ndarray | None, config: ColourConfig, gains: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int] | None:
    """The region's distinct colours after the light correction, as CIELAB with their counts.

    Returns ``(lab (U, 3), counts (U,), inverse (sampled pixel → distinct colour), sampled-grid
    mask, region pixel count)``, or None for an empty region. Colours are binned at 5 bits per
    channel (bins about 2-4 ΔE wide, looked up at their centres in the 6-bit table): fewer
    points to cluster, same result.
    """
    crop, sub, n = _sample_grid(arr, mask, config)
    pixels = crop[sub]
    if pixels.shape[0] == 0:
        return None
    if config.white_balance:
        if gains is None:
            gains = white_balance_gains(arr, config, exclude=mask)
        pixels = apply_gains(pixels, gains)
    q = (pixels >> 3).astype(np.intp)
    codes = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    # np.unique(codes, return_inverse=True, return_counts=True), by counting the 2^15 bins
    binned = np.bincount(codes, minlength=1 << 15)
    uniq = np.flatnonzero(binned)
    counts = binned[uniq]
    rank = np.empty(1 << 15, dtype=np.intp)
    rank[uniq] = np.arange(uniq.size)
    inverse = rank[codes]
    r5, g5, b5 = uniq >> 10, (uniq >> 5) & 31, uniq & 31
    lut_index = ((r5 << 1 | 1) << 2 * _LUT_BITS) | ((g5 << 1 | 1) << _LUT_BITS) | (b5 << 1 | 1)
    return _lab_lut()[lut_index].astype(np.float64), counts, inverse, sub, n


def colours_of_region(
    rgb: np.ndarray,
    mask: np.ndarray | None,
    *,
    dictionary: ColourDictionary | None = None,
    max_colours: int = 4,
    config: ColourConfig = DEFAULT_CONFIG,
    gains: np.ndarray | None = None,
    namer: ColourNamer | None = None,
) -> GarmentColours:
    """Named colours of the ``mask`` pixels of ``rgb`` (all pixels when ``mask`` is None).

    ``rgb``: HxWx3 uint8 sRGB; ``mask``: HxW bool. Returns at most ``max_colours`` names with
    shares summing to 1 and a pattern flag; the main colour first, then by share. An empty
    mask gives no colours, ``main=None`` and pattern ``"unknown"``. ``gains``: white-balance
    gains already computed for this photo (:func:`white_balance_gains`); by default they are
    computed here. ``namer``: a learned namer (:mod:`fashionlens.colour_namer`) that chooses
    the main colour; without one the largest named colour is the main one.
    """
    found, summary = measure_region(rgb, mask, dictionary=dictionary, max_colours=max_colours,
                                     config=config, gains=gains, summarise=namer is not None)
    if namer is None or summary is None:
        return found
    d = dictionary if dictionary is not None else default_dictionary()
    main = namer.choose(_check_rgb(rgb), [mask], [summary], d)[0]
    return found.with_main(main, d)


def measure_region(
    rgb: np.ndarray,
    mask: np.ndarray | None,
    *,
    dictionary: ColourDictionary | None,
    max_colours: int,
    config: ColourConfig,
    gains: np.ndarray | None,
    summarise: bool,
) -> tuple[GarmentColours, RegionSummary | None]:
    """:func:`colours_of_region` without a namer, and (``summarise``) what a namer needs."""
    arr = _check_rgb(rgb)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != arr.shape[:2]:
            raise ValueError(f"mask shape {mask.shape} differs from image shape {arr.shape[:2]}")
        if mask.dtype != bool:
            mask = mask.astype(bool)
    if max_colours < 1:
        raise ValueError(f"max_colours must be at least 1, got {max_colours}")
    d = dictionary if dictionary is not None else default_dictionary()
    sample = _region_sample(arr, mask, config, gains)
    if sample is None:
        return GarmentColours(colours=[], pattern="unknown", main=None, pixels=0), None
    lab_u, counts, inverse, sub, n = sample
    k = min(config.k, len(counts))
    centres, lab_labels = _kmeans(
        lab_u, k, iterations=config.iterations, seed=config.seed, weights=counts
    )
    cl_counts = np.bincount(lab_labels, weights=counts, minlength=centres.shape[0])
    merged, m_counts, mapping = _merge_close(centres, cl_counts, config)
    group = mapping[lab_labels]
    # A merged group is named by its weighted median colour: robust to the long tail of
    # deep shadows and highlights that pulls a mean.
    merged = np.array([weighted_medians(lab_u[group == g], counts[group == g])
                       for g in range(merged.shape[0])])
    names = d.nearest(merged)
    assert isinstance(names, list)

    total = float(m_counts.sum())
    pooled: dict[str, list[float]] = {}  # name → [weight, L*w, a*w, b*w]
    for name, c, w in zip(names, merged, m_counts, strict=True):
        acc = pooled.setdefault(name, [0.0, 0.0, 0.0, 0.0])
        acc[0] += w
        acc[1:] = [acc[1 + i] + c[i] * w for i in range(3)]
    ranked = sorted(pooled.items(), key=lambda kv: -kv[1][0])
    kept = [(nm, acc) for nm, acc in ranked if acc[0] / total >= config.min_share] or ranked[:1]
    kept = kept[:max_colours]
    kept_total = sum(acc[0] for _, acc in kept)
    labs = np.array([[acc[1] / acc[0], acc[2] / acc[0], acc[3] / acc[0]] for _, acc in kept])
    rgbs = _lab_to_rgb(labs)
    colours = [
        ColourShare(nm, float(acc[0] / kept_total), (int(r), int(g), int(b)))
        for (nm, acc), (r, g, b) in zip(kept, rgbs, strict=True)
    ]

    main = colours[0].name
    shares_all = {nm: acc[0] / total for nm, acc in ranked}
    family = shares_all[main] + sum(shares_all.get(x, 0.0) for x in d.neighbours(main))
    if shares_all[main] >= config.solid_share or family >= config.solid_family_share:
        pattern = "solid"
    else:
        pattern = "multicolour"
        if len(colours) >= 2 and colours[0].share + colours[1].share >= 0.75:
            name_of_cluster = np.array([d.index(names[g]) for g in mapping])
            per_unique = name_of_cluster[lab_labels]
            labels2d = np.full(sub.shape, -1, dtype=np.intp)
            labels2d[sub] = per_unique[inverse.reshape(-1)]
            if _stripe_score(labels2d, sub) >= 2.5:
                pattern = "striped"
    found = GarmentColours(
        colours=colours,
        pattern=pattern,
        main=main,
        pixels=n,
        lab=[tuple(float(v) for v in row) for row in labs],
        display=[d.colours[c.name].display_name("en") for c in colours],
    )
    if not summarise:
        return found, None
    return found, summarise_region(
        lab_u, counts, centres, cl_counts, reference_main=main,
        shares={nm: acc[0] / total for nm, acc in ranked}, main_lab=labs[0])


# --------------------------------------------------------------------------- outfit photos
def colours_of_garments(
    rgb: np.ndarray,
    label_map: np.ndarray,
    class_names: Sequence[str],
    *,
    skip: Sequence[str] = ("background", "null", "skin", "hair"),
    dictionary: ColourDictionary | None = None,
    max_colours: int = 4,
    min_pixels: int = 64,
    config: ColourConfig = DEFAULT_CONFIG,
    namer: ColourNamer | None = None,
    namer_min_share: float = 0.02,
) -> list[tuple[str, GarmentColours]]:
    """Colours of every garment in a parsed outfit photo, largest garment first.

    ``label_map``: HxW integer map from a garment parser, value ``i`` meaning
    ``class_names[i]``. Classes named in ``skip`` and garments under ``min_pixels`` pixels
    are left out. ``namer``: as in :func:`colours_of_region`, in one batch for the garments
    that cover at least ``namer_min_share`` of the photo (the ones an outfit is described
    by, about 2.3 per CCP photo); smaller ones (a belt, a bag strap) keep the largest colour.
    """
    arr = _check_rgb(rgb)
    lm = np.asarray(label_map)
    if lm.shape != arr.shape[:2]:
        raise ValueError(f"label map shape {lm.shape} differs from image shape {arr.shape[:2]}")
    if not np.issubdtype(lm.dtype, np.integer):
        raise ValueError(f"label map must hold integers, got {lm.dtype}")
    counts = np.bincount(lm.reshape(-1).astype(np.intp, copy=False), minlength=len(class_names))
    if counts.shape[0] > len(class_names):
        raise ValueError(
            f"label map has value {counts.shape[0] - 1} but only {len(class_names)} class names"
        )
    skipped = set(skip)
    d = dictionary if dictionary is not None else default_dictionary()
    wanted = [int(i) for i in np.argsort(-counts, kind="stable")
              if counts[i] >= min_pixels and class_names[i] not in skipped]
    gains = None
    if config.white_balance and wanted:
        is_garment = np.array([n not in skipped for n in class_names])
        garments = is_garment[lm]
        gains = white_balance_gains(arr, config, exclude=garments)
    big = counts >= namer_min_share * lm.size
    masks = [lm == i for i in wanted]
    measured = [measure_region(arr, mask, dictionary=d, max_colours=max_colours,
                               config=config, gains=gains,
                               summarise=namer is not None and bool(big[i]))
                for i, mask in zip(wanted, masks, strict=True)]
    found = [m[0] for m in measured]
    named = [k for k, (_, summary) in enumerate(measured) if summary is not None]
    if namer is not None and named:
        mains = namer.choose(arr, [masks[k] for k in named],
                             [measured[k][1] for k in named], d)
        for k, main in zip(named, mains, strict=True):
            found[k] = found[k].with_main(main, d)
    return [(class_names[i], f) for i, f in zip(wanted, found, strict=True)]


# --------------------------------------------------------------------------- product photos
def _skin_like(lab: np.ndarray) -> np.ndarray:
    """Skin tones in CIELAB: hue 25–72°, chroma 8–48, L 20–92 (light to dark skin)."""
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a))
    return (L > 20) & (L < 92) & (chroma > 8) & (chroma < 48) & (hue > 25) & (hue < 72)


def _touching(region: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The connected components of ``region`` that contain a ``seeds`` pixel."""
    from scipy import ndimage

    comp, _ = ndimage.label(region)
    hit = np.unique(comp[seeds & region])
    return np.isin(comp, hit[hit > 0])


def garment_mask_for_product_photo(
    rgb: np.ndarray,
    *,
    work_size: int = 160,
    border: float = 0.03,
    max_skin_share: float = 0.35,
    smooth_gradient: float = 4.0,
    min_garment: float = 0.12,
) -> np.ndarray:
    """The garment's pixels in a single-garment product photo (HxW bool).

    The backdrop is estimated from the photo's border: its colours (up to four modes, so a
    wall and a floor, a wood grain or a patterned sheet are covered) and their spread give a
    tolerance; pixels within it that are connected to the border are backdrop. Thin
    structures (hanger hooks, strings) are opened away and small specks dropped. Skin-toned
    pixels (hands, feet, arms) are removed unless they make up more than ``max_skin_share``
    of the garment, which then is itself skin-coloured (beige, tan). When almost nothing is
    left (a garment filling the frame, a white garment on white), the central part of the
    photo is used.
    """
    from PIL import Image
    from scipy import ndimage

    arr = _check_rgb(rgb)
    H, W = arr.shape[:2]
    scale = work_size / max(H, W)
    if scale < 1:
        size = (max(1, round(W * scale)), max(1, round(H * scale)))
        small = np.asarray(
            Image.fromarray(arr).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        )
    else:
        small = arr
    h, w = small.shape[:2]
    lab = rgb_to_lab(small).astype(np.float64)
    weights = np.array([0.7, 1.0, 1.0])  # tolerate shading on the backdrop

    bw = max(2, round(border * min(h, w)))
    ring = np.zeros((h, w), dtype=bool)
    ring[:bw], ring[-bw:], ring[:, :bw], ring[:, -bw:] = True, True, True, True
    edge = lab[ring] * weights
    k = min(4, len(edge))
    centres, labels = _kmeans(edge, k, iterations=10, seed=0)
    centre = (slice(round(0.3 * h), round(0.7 * h) + 1), slice(round(0.3 * w), round(0.7 * w) + 1))
    candidate = np.zeros((h, w), dtype=bool)
    relaxed = np.zeros((h, w), dtype=bool)
    flat = lab.reshape(-1, 3) * weights
    for j in range(centres.shape[0]):
        members = labels == j
        if members.mean() < 0.05:  # a garment touching the border is not the backdrop
            continue
        spread = np.sqrt(((edge[members] - centres[j]) ** 2).sum(1))
        tol = float(np.clip(1.25 * np.percentile(spread, 90), 4.0, 10.0))
        dist = np.sqrt(((flat - centres[j]) ** 2).sum(1)).reshape(h, w)
        if members.mean() < 0.4 and (dist[centre] < tol).mean() > 0.5:
            continue  # the garment itself, touching the border (it fills the centre)
        candidate |= dist < tol
        relaxed |= dist < 2.5 * tol

    background = _touching(candidate, ring & candidate)
    # Grow the backdrop over smooth shading (sunlit patches, vignetting): pixels with a small
    # local gradient that connect to it, unless that would swallow much of the garment.
    smooth_lab = ndimage.uniform_filter(lab, size=(3, 3, 1))
    grad = np.zeros((h, w))
    for axis in (0, 1):
        g = np.abs(np.diff(smooth_lab, axis=axis)).sum(-1)
        pad = [(0, 0), (0, 0)]
        pad[axis] = (0, 1)
        grad = np.maximum(grad, np.pad(g, pad, mode="edge"))
    grown = _touching(background | (relaxed & (grad < smooth_gradient)), background)
    fg_before = (~background).sum()
    if fg_before and (grown & ~background).sum() <= 0.3 * fg_before:
        background = grown
    fg = ndimage.binary_opening(~background, structure=np.ones((3, 3), bool))
    comp, n = ndimage.label(fg)
    if n:
        sizes = np.bincount(comp.reshape(-1))[1:]
        keep = np.flatnonzero(sizes >= max(0.15 * sizes.max(), 0.005 * h * w)) + 1
        fg = np.isin(comp, keep)
    if fg.sum() < min_garment * h * w:
        yy, xx = np.mgrid[0:h, 0:w]
        fg = ((yy - h / 2) / (0.4 * h)) ** 2 + ((xx - w / 2) / (0.35 * w)) ** 2 <= 1.0
    skin = _skin_like(lab) & fg
    if 0 < skin.sum() <= max_skin_share * fg.sum():
        fg &= ~ndimage.binary_dilation(skin)
    if (h, w) != (H, W):
        fg = np.asarray(
            Image.fromarray(fg.astype(np.uint8) * 255).resize((W, H), Image.Resampling.NEAREST)
        ) > 127
    return fg
