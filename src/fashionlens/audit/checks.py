"""Catalog audit checks: one function per check, each returning :class:`Finding` objects.

Every finding has the listing ``id``, the ``check`` name, a ``score`` in 0..1 (higher = more
certainly wrong; 0.5 is the default reporting threshold), a one-sentence ``reason`` for a
person and ``evidence`` (a JSON-ready dict) for tools.

Checks:

- ``category_mismatch``: the stated category, read through the taxonomy, against the photo's
  class probabilities. Hierarchy-aware: a listing that says "top" (or "Tops y camisas") for a
  blouse is fine, because the blouse is under that node; the score is the probability the
  model puts *outside* the stated node.
- ``colour_mismatch``: the stated colour, read through the colour dictionary in any language,
  against the colours measured on the garment. Neighbours ("navy" listed, "blue" seen) are a
  near miss with a low score, not an error.
- ``title_mismatch``: garment words or colour words in the title that contradict the stated
  category or colour (multilingual, via the taxonomy's and dictionary's synonyms).
- ``near_duplicate``: the same photo (or a rotated, cropped, rescaled copy) under two ids.
- ``label_issue``: likely label errors over the whole catalog, confident-learning style
  (:mod:`fashionlens.audit.labels`), for catalogs used as training sets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fashionlens.audit.labels import find_label_issues
from fashionlens.core.colours import ColourDictionary
from fashionlens.core.taxonomy import Taxonomy

__all__ = [
    "CHECKS",
    "Finding",
    "find_category_mismatches",
    "find_colour_mismatches",
    "find_label_issues_in_catalog",
    "find_near_duplicates",
    "find_title_mismatches",
    "resolve_category",
    "resolve_colours",
]

CHECKS = ("category_mismatch", "colour_mismatch", "title_mismatch", "near_duplicate",
          "label_issue")
SEEN_SHARE = 0.15          # a measured colour counts when it covers this share of the garment
NEAR_MISS_SCORE = 0.2
SURPRISE_DECADES = 3.0     # category_mismatch: score 1 when the stated node gets p <= 1e-3
DUPLICATE_SIMILARITY = 0.97  # embedding cosine that alone makes two photos near-duplicates


@dataclass
class Finding:
    id: str
    check: str
    score: float
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "check": self.check, "score": round(float(self.score), 4),
                "reason": self.reason, "evidence": self.evidence}


# --------------------------------------------------------------------------- reading text
# Words that listings use for a broad kind even where a class has the same name: a shop that
# says "top" means any top (a blouse too), not the dataset's catch-all class "Top".
BROAD_WORDS = {"top": "tops", "tops": "tops", "shirt/blouse": "shirt-like"}


def resolve_category(text: str, taxonomy: Taxonomy) -> str | None:
    """Taxonomy node for a stated category: a class name, a node id or a synonym."""
    t = (text or "").strip()
    if not t:
        return None
    if t.lower() in BROAD_WORDS and BROAD_WORDS[t.lower()] in taxonomy.nodes:
        return BROAD_WORDS[t.lower()]
    for cls in taxonomy.leaf_classes():
        if cls.lower() == t.lower():
            return taxonomy.node_for_class(cls)
    if t.lower() in taxonomy.nodes:
        return t.lower()
    found = taxonomy.lookup(t)
    return found[0] if found else None


def resolve_colours(text: str, dictionary: ColourDictionary) -> list[str]:
    """Colour ids named in a stated colour ("navy", "Bleumarin", "black/white")."""
    t = (text or "").strip()
    if not t:
        return []
    if t.lower() in dictionary.colours:
        return [t.lower()]
    return dictionary.lookup(t)


def _node_probability(probs: np.ndarray, classes: Sequence[str], node: str,
                      taxonomy: Taxonomy) -> float:
    covered = set(taxonomy.covers(node))
    return float(sum(p for c, p in zip(classes, probs, strict=True) if c in covered))


def _name(taxonomy: Taxonomy, node: str) -> str:
    return taxonomy.nodes[node].name


def _compatible(a: str, b: str, taxonomy: Taxonomy) -> bool:
    return taxonomy.is_ancestor_or_self(a, b) or taxonomy.is_ancestor_or_self(b, a)


# --------------------------------------------------------------------------- checks
def category_surprise(p_stated: float) -> float:
    """Score of a stated category the model gives probability ``p_stated``: its surprisal in
    decades, ``-log10(p) / SURPRISE_DECADES``, clipped to 0..1. 0.5 is p ≈ 3 %, the threshold
    that gave precision 0.98 at recall 0.93 on the validation split with half of the
    categories changed (benchmarks/catalog_audit.py); 1 is p ≤ 0.1 %."""
    p = min(1.0, max(float(p_stated), 1e-12))
    return float(min(1.0, max(0.0, -math.log10(p) / SURPRISE_DECADES)))


def find_category_mismatches(items: Iterable[Any], *, classes: Sequence[str],
                             taxonomy: Taxonomy, min_score: float = 0.5) -> list[Finding]:
    """Listings whose photo does not show the stated category (hierarchy-aware).

    The probability of the stated node is the sum over the classes under it, so a broad
    stated category ("top", "outerwear") is only flagged when the photo is outside all of it;
    the score is :func:`category_surprise` of that probability.
    """
    out = []
    for it in items:
        if it.kind != "item" or it.probs is None or not it.category:
            continue
        node = resolve_category(it.category, taxonomy)
        if node is None:
            continue
        p_in = _node_probability(it.probs, classes, node, taxonomy)
        score = category_surprise(p_in)
        if score < min_score:
            continue
        seen = it.hedged["label"] if it.hedged else taxonomy.node_for_class(it.label) \
            if it.label in taxonomy.leaf_classes() else None
        seen_name = _name(taxonomy, seen) if seen else it.label
        out.append(Finding(
            it.id, "category_mismatch", score,
            f'Listed as "{it.category}", but the photo looks like {seen_name} '
            f"({it.label} {it.confidence:.0%}); {_name(taxonomy, node)} gets only {p_in:.0%}.",
            {"stated": it.category, "stated_node": node, "seen": it.label,
             "seen_hedged": seen, "p_stated": round(p_in, 4),
             "p_seen": round(float(it.confidence or 0.0), 4)}))
    return out


def find_colour_mismatches(items: Iterable[Any], *, dictionary: ColourDictionary,
                           min_score: float = 0.0) -> list[Finding]:
    """Listings whose stated colour is not among the garment's measured colours.

    A stated colour that is a dictionary neighbour of a measured one (navy/blue) is a near
    miss scored ``NEAR_MISS_SCORE``; a different colour scores the share of the garment it
    does not explain (lower for multicolour garments, whose measurement is less certain).
    """
    out = []
    for it in items:
        if it.kind != "item" or not it.colour or not it.colours:
            continue
        stated = resolve_colours(it.colour, dictionary)
        if not stated:
            continue
        seen = [(c["name"], float(c.get("share", 1.0))) for c in it.colours
                if float(c.get("share", 1.0)) >= SEEN_SHARE and c["name"] in dictionary.colours]
        if not seen:
            continue
        rel = {name: _best_relation(name, stated, dictionary) for name, _ in seen}
        if "same" in rel.values():
            continue
        names = ", ".join(f"{n} {s:.0%}" for n, s in seen)
        evidence = {"stated": it.colour, "stated_ids": stated,
                    "seen": [{"name": n, "share": round(s, 3)} for n, s in seen],
                    "pattern": it.pattern}
        if "near" in rel.values():
            score = NEAR_MISS_SCORE
            evidence["relation"] = "near"
            reason = (f'Listed as "{it.colour}"; the garment measures {names}: a neighbouring '
                      "shade, a near miss rather than an error.")
        else:
            different = sum(s for n, s in seen if rel[n] == "different")
            score = min(1.0, different) * (0.9 if it.pattern == "solid" else 0.7)
            evidence["relation"] = "different"
            reason = f'Listed as "{it.colour}", but the garment measures {names}.'
        if score >= min_score:
            out.append(Finding(it.id, "colour_mismatch", score, reason, evidence))
    return out


def _best_relation(name: str, stated: list[str], d: ColourDictionary) -> str:
    rels = {d.relation(name, s) for s in stated}
    return "same" if "same" in rels else "near" if "near" in rels else "different"


def find_title_mismatches(items: Iterable[Any], *, classes: Sequence[str], taxonomy: Taxonomy,
                          dictionary: ColourDictionary) -> list[Finding]:
    """Titles naming another garment or colour than the stated category or colour.

    The score is 0.6 for the contradiction itself, plus up to 0.4 by how much the photo
    supports the title rather than the stated value.
    """
    out = []
    for it in items:
        if it.kind != "item" or not it.title:
            continue
        node = resolve_category(it.category, taxonomy)
        title_nodes = [BROAD_WORDS.get(n, n) for n in taxonomy.lookup(it.title)
                       if n != taxonomy.root]
        title_nodes = [n for n in dict.fromkeys(title_nodes) if n in taxonomy.nodes]
        if node is not None and title_nodes and \
                not any(_compatible(n, node, taxonomy) for n in title_nodes):
            tn = title_nodes[0]
            support = _node_probability(it.probs, classes, tn, taxonomy) \
                if it.probs is not None else 0.0
            out.append(Finding(
                it.id, "title_mismatch", 0.6 + 0.4 * support,
                f'The title "{it.title}" names {_name(taxonomy, tn)}, but the category says '
                f'"{it.category}"; the photo gives the title\'s reading {support:.0%}.',
                {"field": "category", "title_nodes": title_nodes, "stated": it.category,
                 "stated_node": node, "p_title": round(support, 4)}))
        stated = resolve_colours(it.colour, dictionary)
        title_colours = dictionary.lookup(it.title)
        if stated and title_colours and not any(
                dictionary.relation(a, b) in ("same", "near")
                for a in title_colours for b in stated):
            seen = [c["name"] for c in it.colours
                    if float(c.get("share", 1.0)) >= SEEN_SHARE and c["name"] in dictionary]
            photo_agrees = any(dictionary.relation(a, b) in ("same", "near")
                               for a in title_colours for b in seen)
            out.append(Finding(
                it.id, "title_mismatch", 0.6 + (0.4 if photo_agrees else 0.0),
                f'The title "{it.title}" says {", ".join(title_colours)}, but the colour field '
                f'says "{it.colour}"' + ("; the photo agrees with the title." if photo_agrees
                                         else "."),
                {"field": "colour", "title_colours": title_colours, "stated": it.colour,
                 "stated_ids": stated, "seen": seen}))
    return out


def find_near_duplicates(store: Any, index: Any, *, threshold: float = DUPLICATE_SIMILARITY,
                         k: int = 10, views: dict[int, tuple[np.ndarray, np.ndarray]] | None
                         = None) -> list[Finding]:
    """Pairs of listings (different ids) whose photos are the same photo or a copy of it.

    - identical bytes: score 1;
    - a copy (cropped, rescaled, recompressed): the pixel fingerprints match (NCC ≥
      ``COPY_NCC``, see :mod:`fashionlens.catalog.fingerprint`) and the embeddings agree
      (cosine ≥ ``COPY_MIN_COSINE``); score 0.5..1 from the NCC;
    - embeddings alone at cosine ≥ ``threshold`` (0.97; different photos of similar garments
      reach 0.95, benchmarks/catalog_retrieval.py).

    ``views``: per item pk, (embeddings, fingerprints) of its photo turned by ±45°/±90°, so
    rotated copies are found too. Each pair is reported once, on the listing added later.
    """
    import faiss

    from fashionlens.catalog.fingerprint import COPY_MIN_COSINE, COPY_NCC

    out: list[Finding] = []
    items = {it.pk: it for it in store.items()}
    seen_pairs: set[tuple[int, int]] = set()
    by_hash: dict[str, Any] = {}
    for it in items.values():
        first = by_hash.setdefault(it.image_hash, it)
        if first is not it:
            seen_pairs.add((first.pk, it.pk))
            out.append(Finding(
                it.id, "near_duplicate", 1.0,
                f'The photo of "{it.id}" is the same file as the photo of "{first.id}".',
                {"other": first.id, "similarity": 1.0, "identical": True}))
    emb = store.whole_photo_embeddings(list(items), first_garment=True)
    best: dict[tuple[int, int], tuple[float, float]] = {}  # pair → (score, ncc or -1)

    def consider(a: int, b: int, score: float, ncc: float) -> None:
        pair = (min(a, b), max(a, b))
        if a != b and pair not in seen_pairs and score > best.get(pair, (-1.0, -1.0))[0]:
            best[pair] = (score, ncc)

    pks, fps = store.fingerprints()
    if len(pks):
        fp_index = faiss.IndexFlatIP(fps.shape[-1])
        fp_index.add(np.ascontiguousarray(fps.reshape(-1, fps.shape[-1])))
        owners = np.repeat(pks, fps.shape[1])
        for a, fa in zip(pks.tolist(), fps, strict=True):
            q_fp, q_emb = fa[:1], emb.get(a)[None, :] if a in emb else None
            if views is not None and a in views:
                q_emb = np.concatenate([q_emb, views[a][0]]) if q_emb is not None else None
                q_fp = np.concatenate([q_fp, views[a][1]])
            scores, ids = fp_index.search(np.ascontiguousarray(q_fp), min(k, fp_index.ntotal))
            for s_, i in zip(scores.reshape(-1).tolist(), ids.reshape(-1).tolist(), strict=True):
                b = int(owners[i]) if i >= 0 else a
                if b == a or s_ < COPY_NCC or q_emb is None or b not in emb:
                    continue
                if float(np.max(q_emb @ emb[b])) >= COPY_MIN_COSINE:
                    consider(a, b, 0.5 + 0.5 * (s_ - COPY_NCC) / (1.0 - COPY_NCC), s_)
    if index is not None and index.ntotal:
        for a, e in emb.items():
            q = e[None, :]
            if views is not None and a in views:
                q = np.concatenate([q, views[a][0]])
            scores, nn = index.search(q, min(k, index.ntotal))
            others = store.vectors_by_vid(set(nn.reshape(-1).tolist()))
            for s_, vid in zip(scores.reshape(-1).tolist(), nn.reshape(-1).tolist(),
                               strict=True):
                o = others.get(vid)
                if o is not None and o.region < 0 and s_ >= threshold:
                    consider(a, o.item_pk, 0.5 + 0.5 * (s_ - threshold) / (1.0 - threshold), -1)
    for (pa, pb), (score, ncc) in sorted(best.items()):
        a, b = items[pa], items[pb]
        cos = float(emb[pa] @ emb[pb]) if pa in emb and pb in emb else None
        how = f"pixel match {ncc:.3f}" if ncc >= 0 else f"similarity {cos:.3f}"
        out.append(Finding(
            b.id, "near_duplicate", min(1.0, score),
            f'The photo of "{b.id}" looks like a copy of the photo of "{a.id}" ({how}).',
            {"other": a.id, "pixel_ncc": None if ncc < 0 else round(ncc, 4),
             "similarity": None if cos is None else round(cos, 4), "identical": False}))
    return out


def find_label_issues_in_catalog(items: Iterable[Any], *, classes: Sequence[str],
                                 taxonomy: Taxonomy,
                                 filter_by: str = "prune_by_noise_rate") -> list[Finding]:
    """Confident-learning label issues among listings whose category names one class."""
    rows = []
    for it in items:
        if it.kind != "item" or it.probs is None:
            continue
        node = resolve_category(it.category, taxonomy)
        if node is None or taxonomy.nodes[node].leaf_class not in classes:
            continue
        rows.append((it, list(classes).index(taxonomy.nodes[node].leaf_class)))
    if len(rows) < 2:
        return []
    labels = np.array([y for _, y in rows])
    probs = np.stack([np.asarray(it.probs, np.float64) for it, _ in rows])
    ranked = find_label_issues(labels, probs, filter_by=filter_by)
    out = []
    for i in ranked.tolist():
        it, y = rows[i]
        p_given = float(probs[i, y])
        best = int(np.argmax(probs[i]))
        out.append(Finding(
            it.id, "label_issue", 1.0 - p_given,
            f'The label "{classes[y]}" is likely wrong: compared with the rest of the catalog '
            f"the photo reads as {classes[best]} ({probs[i, best]:.0%}).",
            {"given": classes[y], "suggested": classes[best],
             "p_given": round(p_given, 4), "p_suggested": round(float(probs[i, best]), 4),
             "method": f"confident learning ({filter_by})"}))
    return out
