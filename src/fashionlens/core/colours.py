"""The colour dictionary: fashion colour names with CIELAB references, as data.

One dictionary serves every part of fashionlens that speaks about colour: naming the colours
measured on a garment (:meth:`ColourDictionary.nearest`, CIEDE2000 to the references), reading
colour words out of free-text listing titles in several languages (:meth:`ColourDictionary.lookup`,
"Rochie bleumarin" → ``navy``, "Платье бордовое" → ``burgundy``), and telling whether two names
are the same, neighbours or different colours (:meth:`ColourDictionary.relation`, for the
catalog audit: a listing that says "blue" for a navy garment is a *near* miss, "red" is not).

File format
-----------
The packaged dictionary lives in ``fashionlens/data/colours.json``. A replacement file with the
same shape can be passed to :meth:`ColourDictionary.load`, or a file with only additions
(extra colours, extra synonyms or references for existing ones) with ``extend=True``::

    {
      "format": "fashionlens-colours",             # optional, checked when present
      "version": 1,                                # optional
      "languages": ["en", "es", "ca", "ro", "ru"],
      "colours": [
        {"id": "navy",                             # stable lowercase identifier
         "lab": [[14.6, 3.9, -20.9], [22.4, 5.6, -26.0]],   # CIELAB (D65) reference points
         "near": ["blue", "black", "purple"],      # neighbours (made symmetric on load)
         "names": {"en": ["Navy", "navy blue", "dark blue"], "ro": ["Bleumarin", ...], ...}},
        ...
      ],
      "patterns": [
        {"id": "striped", "names": {"en": ["Striped", "stripes"], "ru": ["В полоску", ...], ...}},
        ...
      ]
    }

* ``id``: ``[a-z0-9]`` words joined by ``-``, unique across colours and patterns.
* ``lab``: one or more ``[L, a, b]`` points (L in 0..100, a and b in -128..128). Several points
  let one name cover a range (a light and a dark grey, royal blue and denim blue).
* ``names``: per language, the display name first, then synonyms as listing titles use them.
  Every language in ``languages`` must be present; English is required. A synonym may end in
  ``*`` to stand for a word stem followed by up to three more letters, which covers inflected
  forms (``"бордов*"`` matches бордовый, бордовая, бордовое, бордовые).

Synonym matching ignores case and diacritics ("bleumarin" matches "bleumarín", "ё" matches
"е"), treats spaces, hyphens and underscores between the words of a synonym as optional
("off-white" matches "off white" and "offwhite"), accepts a plural ``s`` after a synonym that
ends in a Latin letter, and only matches whole words; the longest synonym wins where matches
overlap ("navy blue" is navy, not blue; "verde oliva" is olive, not green).

Colour distances are CIEDE2000 (scikit-image's implementation); a colour's distance to a name is
the distance to the nearest of that name's reference points.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fashionlens.core.text import ID_RE, SynonymMatcher, synonym_key

__all__ = ["FORMAT", "ColourDictionary", "ColourName", "PatternName", "Relation", "delta_e"]

FORMAT = "fashionlens-colours"
Relation = Literal["same", "near", "different"]


@dataclass(frozen=True)
class ColourName:
    """One named colour: CIELAB reference points, neighbours and multilingual names."""

    id: str
    name: str
    lab: tuple[tuple[float, float, float], ...]
    near: tuple[str, ...]
    names: dict[str, list[str]]

    def display_name(self, lang: str = "en") -> str:
        """The display name in ``lang``, falling back to English."""
        return (self.names.get(lang) or self.names["en"])[0]


@dataclass(frozen=True)
class PatternName:
    """A pattern word (solid, multicolour, striped, …) with multilingual names."""

    id: str
    name: str
    names: dict[str, list[str]]

    def display_name(self, lang: str = "en") -> str:
        return (self.names.get(lang) or self.names["en"])[0]


_TWO_PI = 2.0 * math.pi
_P25_7 = 25.0 ** 7


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1), broadcasting over leading axes (last
    axis is L, a, b).

    The formula of Sharma, Wu and Dalal (2005), as scikit-image's ``deltaE_ciede2000`` computes
    it (equal to 1e-9, checked in the tests), written for the small arrays colour naming
    passes many times per photo (6 x 6 clusters, a few colours x the dictionary's references):
    half of scikit-image's time there, which goes to input handling.
    """
    x = np.asarray(lab1, dtype=np.float64)
    y = np.asarray(lab2, dtype=np.float64)
    single = x.ndim == 1 and y.ndim == 1
    if single:  # the steps below edit arrays in place
        x, y = x[None], y[None]
    L1, a1, b1 = x[..., 0], x[..., 1], x[..., 2]
    L2, a2, b2 = y[..., 0], y[..., 1], y[..., 2]
    cbar7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) * 0.5) ** 7
    g = 1.5 - 0.5 * np.sqrt(cbar7 / (cbar7 + _P25_7))  # 1 + G: a* stretch for greys
    a1p, a2p = a1 * g, a2 * g
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p, h2p = np.arctan2(b1, a1p), np.arctan2(b2, a2p)
    h1p[h1p < 0] += _TWO_PI
    h2p[h2p < 0] += _TWO_PI
    cc = c1p * c2p
    zero = cc == 0  # a neutral colour has no hue
    dh = h2p - h1p
    far = np.abs(dh) > math.pi
    dh[far] -= np.copysign(_TWO_PI, dh[far])
    dh[zero] = 0.0
    hsum = h1p + h2p
    hbar = hsum.copy()
    wrap = far & ~zero
    hbar[wrap] += np.where(hsum[wrap] < _TWO_PI, _TWO_PI, -_TWO_PI)
    hbar *= 0.5
    hbar[zero] = hsum[zero]
    cbarp = (c1p + c2p) * 0.5
    t = (1.0 - 0.17 * np.cos(hbar - math.pi / 6) + 0.24 * np.cos(2.0 * hbar)
         + 0.32 * np.cos(3.0 * hbar + math.pi / 30) - 0.20 * np.cos(4.0 * hbar - math.radians(63)))
    dtheta = math.radians(30) * np.exp(-((np.degrees(hbar) - 275.0) / 25.0) ** 2)
    cbarp7 = cbarp ** 7
    rc = 2.0 * np.sqrt(cbarp7 / (cbarp7 + _P25_7))
    l50 = ((L1 + L2) * 0.5 - 50.0) ** 2
    tl = (L2 - L1) / (1.0 + 0.015 * l50 / np.sqrt(20.0 + l50))
    tc = (c2p - c1p) / (1.0 + 0.045 * cbarp)
    th = 2.0 * np.sqrt(cc) * np.sin(dh * 0.5) / (1.0 + 0.015 * cbarp * t)
    out = np.sqrt(tl * tl + tc * tc + th * th - np.sin(2.0 * dtheta) * rc * tc * th)
    return out[0] if single else out


# ---------------------------------------------------------------------------- validation
def _check_names(where: str, names: Any, languages: Sequence[str]) -> dict[str, list[str]]:
    if not isinstance(names, Mapping):
        raise ValueError(f"colours: {where} needs a 'names' object")
    clean: dict[str, list[str]] = {}
    for lang, values in names.items():
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and v.strip() and v.strip() != "*" for v in values)
        ):
            raise ValueError(
                f"colours: {where} names[{lang!r}] must be a non-empty list of non-empty "
                "strings (display name first)"
            )
        clean[str(lang)] = [v.strip() for v in values]
    missing = [lang for lang in languages if lang not in clean]
    if missing:
        raise ValueError(f"colours: {where} has no names in {missing}")
    return clean


def _check_lab(where: str, lab: Any) -> tuple[tuple[float, float, float], ...]:
    if not isinstance(lab, list) or not lab:
        raise ValueError(f"colours: {where} needs 'lab', a non-empty list of [L, a, b] points")
    points = []
    for p in lab:
        if (
            not isinstance(p, list)
            or len(p) != 3
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in p)
        ):
            raise ValueError(f"colours: {where} has a lab point {p!r}; expected [L, a, b]")
        L, a, b = (float(x) for x in p)
        if not (0.0 <= L <= 100.0 and -128.0 <= a <= 128.0 and -128.0 <= b <= 128.0):
            raise ValueError(
                f"colours: {where} lab point {p!r} is out of range (L 0..100, a/b -128..128)"
            )
        points.append((L, a, b))
    return tuple(points)


class ColourDictionary:
    """Named fashion colours and pattern words. Build it with :meth:`load` or :meth:`from_dict`.

    Attributes:
        colours: id → :class:`ColourName`, in file order.
        ids: colour ids in file order.
        patterns: id → :class:`PatternName`, in file order.
        languages: the language codes every entry has names in.
        reference_lab: ``(R, 3)`` float64, every reference point of every colour.
        reference_owner: ``(R,)`` int, the index into :attr:`ids` of each reference point.
    """

    def __init__(
        self,
        colours: Iterable[ColourName],
        patterns: Iterable[PatternName] = (),
        *,
        languages: Sequence[str] = ("en",),
    ) -> None:
        self.colours: dict[str, ColourName] = {}
        for c in colours:
            if c.id in self.colours:
                raise ValueError(f"colours: duplicate colour id {c.id!r}")
            self.colours[c.id] = c
        if not self.colours:
            raise ValueError("colours: the dictionary needs at least one colour")
        self.patterns: dict[str, PatternName] = {}
        for p in patterns:
            if p.id in self.patterns or p.id in self.colours:
                raise ValueError(f"colours: duplicate id {p.id!r}")
            self.patterns[p.id] = p
        self.ids: list[str] = list(self.colours)
        self.languages: list[str] = list(languages)
        index = {cid: i for i, cid in enumerate(self.ids)}
        near: dict[str, set[str]] = {cid: set() for cid in self.ids}
        for c in self.colours.values():
            for other in c.near:
                if other not in index:
                    raise ValueError(f"colours: {c.id!r} lists unknown neighbour {other!r}")
                if other == c.id:
                    raise ValueError(f"colours: {c.id!r} lists itself as a neighbour")
                near[c.id].add(other)
                near[other].add(c.id)
        self._near = {cid: frozenset(v) for cid, v in near.items()}
        self._index = index
        self.reference_lab = np.array(
            [p for c in self.colours.values() for p in c.lab], dtype=np.float64
        )
        self.reference_owner = np.array(
            [index[c.id] for c in self.colours.values() for _ in c.lab], dtype=np.intp
        )
        self.reference_lab.flags.writeable = False
        self.reference_owner.flags.writeable = False
        # Each colour's reference points are contiguous: where each colour's run starts, for
        # one minimum.reduceat per distance table (None when a colour has no points).
        per_colour = np.bincount(self.reference_owner, minlength=len(self.ids))
        self._reference_starts = (np.concatenate([[0], np.cumsum(per_colour)[:-1]])
                                  if per_colour.all() else None)
        self._matchers: dict[tuple[str, str | None], SynonymMatcher] = {}
        for lang in self.languages:  # a synonym must not name two entries in one language
            self._table("colour", lang)
            self._table("pattern", lang)
            self._table("any", lang)

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(
        cls, path: str | PathLike[str] | None = None, *, extend: bool = False
    ) -> ColourDictionary:
        """Read a dictionary file; without ``path``, the one packaged with fashionlens.

        With ``extend=True`` the file at ``path`` only adds to the packaged dictionary: new
        colours and patterns are appended, and entries with an existing id add their names,
        reference points and neighbours to it.
        """
        packaged = resources.files("fashionlens").joinpath("data", "colours.json")
        if path is None:
            return cls.from_dict(_read_json(packaged.read_text(encoding="utf-8"), "packaged"))
        data = _read_json(Path(path).read_text(encoding="utf-8"), str(path))
        if not extend:
            return cls.from_dict(data)
        base = _read_json(packaged.read_text(encoding="utf-8"), "packaged")
        return cls.from_dict(_merge(base, data))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColourDictionary:
        """Build and validate a dictionary from the JSON structure in the module doc."""
        if not isinstance(d, Mapping):
            raise ValueError("colours: expected a JSON object at the top level")
        fmt = d.get("format", FORMAT)
        if fmt != FORMAT:
            raise ValueError(f"colours: format is {fmt!r}, expected {FORMAT!r}")
        languages = d.get("languages", ["en"])
        if (
            not isinstance(languages, list)
            or not languages
            or not all(isinstance(x, str) and x for x in languages)
        ):
            raise ValueError("colours: 'languages' must be a non-empty list of language codes")
        if "en" not in languages:
            raise ValueError("colours: 'languages' must include 'en'")
        raw_colours = d.get("colours")
        if not isinstance(raw_colours, list) or not raw_colours:
            raise ValueError("colours: 'colours' must be a non-empty list")
        raw_patterns = d.get("patterns", [])
        if not isinstance(raw_patterns, list):
            raise ValueError("colours: 'patterns' must be a list")
        colours: list[ColourName] = []
        patterns: list[PatternName] = []
        seen: set[str] = set()
        for kind, raws in (("colour", raw_colours), ("pattern", raw_patterns)):
            allowed = {"id", "lab", "near", "names"} if kind == "colour" else {"id", "names"}
            for i, raw in enumerate(raws):
                if not isinstance(raw, Mapping):
                    raise ValueError(f"colours: {kind} #{i} is not an object")
                cid = raw.get("id")
                if not isinstance(cid, str) or not ID_RE.match(cid):
                    raise ValueError(
                        f"colours: {kind} #{i} has id {cid!r}; ids are lowercase [a-z0-9] and '-'"
                    )
                if cid in seen:
                    raise ValueError(f"colours: duplicate id {cid!r}")
                seen.add(cid)
                unknown = set(raw) - allowed
                if unknown:
                    raise ValueError(f"colours: {kind} {cid!r} has unknown keys {sorted(unknown)}")
                names = _check_names(f"{kind} {cid!r}", raw.get("names"), languages)
                if kind == "pattern":
                    patterns.append(PatternName(id=cid, name=names["en"][0], names=names))
                    continue
                near = raw.get("near", [])
                if not isinstance(near, list) or not all(isinstance(x, str) for x in near):
                    raise ValueError(f"colours: colour {cid!r} 'near' must be a list of ids")
                colours.append(
                    ColourName(
                        id=cid,
                        name=names["en"][0],
                        lab=_check_lab(f"colour {cid!r}", raw.get("lab")),
                        near=tuple(near),
                        names=names,
                    )
                )
        return cls(colours, patterns, languages=languages)

    def to_dict(self) -> dict[str, Any]:
        """The JSON structure :meth:`from_dict` reads (neighbour lists written in full)."""
        return {
            "format": FORMAT,
            "version": 1,
            "languages": list(self.languages),
            "colours": [
                {
                    "id": c.id,
                    "lab": [list(p) for p in c.lab],
                    "near": [x for x in self.ids if x in self._near[c.id]],
                    "names": {lang: list(v) for lang, v in c.names.items()},
                }
                for c in self.colours.values()
            ],
            "patterns": [
                {"id": p.id, "names": {lang: list(v) for lang, v in p.names.items()}}
                for p in self.patterns.values()
            ],
        }

    # ------------------------------------------------------------------ structure
    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, colour_id: object) -> bool:
        return colour_id in self.colours

    def __repr__(self) -> str:
        return (
            f"ColourDictionary(colours={len(self.ids)}, patterns={len(self.patterns)}, "
            f"languages={self.languages})"
        )

    def _check(self, colour_id: str) -> None:
        if colour_id not in self.colours:
            raise KeyError(f"unknown colour {colour_id!r}")

    def index(self, colour_id: str) -> int:
        """Position of ``colour_id`` in :attr:`ids`."""
        self._check(colour_id)
        return self._index[colour_id]

    def names(self, entry_id: str, lang: str = "en") -> list[str]:
        """Display name then synonyms of a colour or pattern in ``lang``."""
        entry = self.colours.get(entry_id) or self.patterns.get(entry_id)
        if entry is None:
            raise KeyError(f"unknown colour or pattern {entry_id!r}")
        if lang not in self.languages:
            raise ValueError(f"unknown language {lang!r}; the dictionary has {self.languages}")
        return list(entry.names[lang])

    def display_name(self, entry_id: str, lang: str = "en") -> str:
        """The display name of a colour or pattern in ``lang``."""
        return self.names(entry_id, lang)[0]

    def neighbours(self, colour_id: str) -> list[str]:
        """Colours :meth:`relation` calls ``"near"`` to ``colour_id``, in dictionary order."""
        self._check(colour_id)
        return [x for x in self.ids if x in self._near[colour_id]]

    def relation(self, a: str, b: str) -> Relation:
        """``"same"``, ``"near"`` (neighbours: navy/blue, burgundy/red, …) or ``"different"``."""
        self._check(a)
        self._check(b)
        if a == b:
            return "same"
        return "near" if b in self._near[a] else "different"

    # ------------------------------------------------------------------ colour science
    def distances(self, lab: np.ndarray | Sequence[float]) -> np.ndarray:
        """CIEDE2000 from each colour in ``lab`` (``(3,)`` or ``(N, 3)``) to every name.

        Returns ``(N, len(ids))`` float64 (``(len(ids),)`` for one colour): the distance to the
        nearest reference point of each name.
        """
        arr = np.asarray(lab, dtype=np.float64)
        single = arr.ndim == 1
        pts = arr.reshape(-1, 3)
        if arr.shape[-1] != 3 or arr.ndim > 2:
            raise ValueError(f"expected Lab colours of shape (3,) or (N, 3), got {arr.shape}")
        d_ref = delta_e(pts[:, None, :], self.reference_lab[None, :, :])  # (N, R)
        if self._reference_starts is not None:
            out = np.minimum.reduceat(d_ref, self._reference_starts, axis=1)
        else:
            out = np.full((pts.shape[0], len(self.ids)), np.inf)
            np.minimum.at(out, (slice(None), self.reference_owner), d_ref)
        return out[0] if single else out

    def nearest(self, lab: np.ndarray | Sequence[float]) -> str | list[str]:
        """The colour name(s) nearest to ``lab`` by CIEDE2000: one id, or a list for ``(N, 3)``."""
        d = self.distances(lab)
        if d.ndim == 1:
            return self.ids[int(np.argmin(d))]
        return [self.ids[i] for i in np.argmin(d, axis=1)]

    # ------------------------------------------------------------------ titles
    def _table(self, kind: str, lang: str | None) -> dict[str, str]:
        langs = self.languages if lang is None else [lang]
        entries: list[ColourName | PatternName] = []
        if kind in ("colour", "any"):
            entries += list(self.colours.values())
        if kind in ("pattern", "any"):
            entries += list(self.patterns.values())
        table: dict[str, str] = {}
        for code in langs:
            owner: dict[str, str] = {}
            for entry in entries:
                for text in entry.names.get(code, []):
                    key = synonym_key(text)
                    if not key.rstrip("*"):
                        continue
                    if owner.setdefault(key, entry.id) != entry.id:
                        raise ValueError(
                            f"colours: synonym {text!r} ({code}) names both "
                            f"{owner[key]!r} and {entry.id!r}"
                        )
                    table.setdefault(key, entry.id)
        return table

    def _matcher(self, kind: str, lang: str | None) -> SynonymMatcher:
        if lang is not None and lang not in self.languages:
            raise ValueError(f"unknown language {lang!r}; the dictionary has {self.languages}")
        key = (kind, lang)
        if key not in self._matchers:
            table = self._table(kind, lang)
            self._matchers[key] = SynonymMatcher({k: (v,) for k, v in table.items()})
        return self._matchers[key]

    def lookup(self, text: str, lang: str | None = None) -> list[str]:
        """Colour ids named in a free-text title, in order of appearance.

        ``"Rochie bleumarin cu buline albe"`` → ``["navy", "white"]``. Pattern words are
        read by :meth:`lookup_patterns`; a word that is both ("leopard") only counts there.
        ``lang`` restricts the synonyms to one language; by default all are tried.
        """
        return [x for x in self._matcher("any", lang).find(text) if x in self.colours]

    def lookup_patterns(self, text: str, lang: str | None = None) -> list[str]:
        """Pattern ids (striped, floral, …) named in a free-text title, in order of appearance."""
        return [x for x in self._matcher("any", lang).find(text) if x in self.patterns]


def _read_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"colours: {where} is not valid JSON: {exc}") from exc


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The packaged dictionary with a user's additions (see :meth:`ColourDictionary.load`)."""
    if not isinstance(extra, Mapping):
        raise ValueError("colours: expected a JSON object at the top level")
    fmt = extra.get("format", FORMAT)
    if fmt != FORMAT:
        raise ValueError(f"colours: format is {fmt!r}, expected {FORMAT!r}")
    out = json.loads(json.dumps(base))
    langs = list(out["languages"])
    for lang in extra.get("languages", []):
        if lang not in langs:
            langs.append(lang)
    out["languages"] = langs
    for key in ("colours", "patterns"):
        items = extra.get(key, [])
        if not isinstance(items, list):
            raise ValueError(f"colours: {key!r} must be a list")
        by_id = {item["id"]: item for item in out[key]}
        for item in items:
            if not isinstance(item, Mapping) or "id" not in item:
                raise ValueError(f"colours: every entry of {key!r} needs an 'id'")
            old = by_id.get(item["id"])
            if old is None:
                new = json.loads(json.dumps(item))
                out[key].append(new)
                by_id[item["id"]] = new
                continue
            for lang, values in dict(item.get("names", {})).items():
                have = old["names"].setdefault(lang, [])
                have += [v for v in values if v not in have]
            if key == "colours":
                old["lab"] = list(old["lab"]) + list(item.get("lab", []))
                old["near"] = list(old["near"]) + [
                    x for x in item.get("near", []) if x not in old["near"]
                ]
    return out
