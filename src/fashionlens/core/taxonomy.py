"""The garment taxonomy: a tree of garment kinds over the classifier's classes, as data.

The tree is what lets the system *hedge*: when the classifier cannot tell a shirt from a
blouse it can still say "shirts and blouses" (see :mod:`fashionlens.hedging`). The same tree
carries display names and synonyms in several languages, so that free-text listing titles
("Camiseta roja manga corta", "Платье синее") can be read back to a node
(:meth:`Taxonomy.lookup`).

File format
-----------
The packaged tree lives in ``fashionlens/data/taxonomy.json``; a replacement file with the
same shape can be passed to :meth:`Taxonomy.load`::

    {
      "format": "fashionlens-taxonomy",          # optional, checked when present
      "version": 1,                              # optional
      "languages": ["en", "es", "ca", "ro", "ru"],
      "nodes": [
        {"id": "garment", "parent": null,
         "names": {"en": ["Garment", "clothing", ...], "es": ["Prenda", "ropa", ...], ...}},
        {"id": "t-shirt", "parent": "tee-like", "class": "T-Shirt",
         "names": {"en": ["T-shirt", "tee", ...], "ru": ["Футболка", "футболочка", ...], ...}},
        ...
      ]
    }

* ``id``: a stable lowercase identifier (``[a-z0-9]`` and ``-``), unique in the file.
* ``parent``: the parent's id, or ``null`` for the one root.
* ``class``: on leaves, and only on leaves: the exact classifier label the leaf stands for.
  Every leaf needs one, and each class appears once.
* ``names``: per language code, a non-empty list of strings: the display name first, then
  synonyms as people write them in shop listing titles. Every language listed in
  ``languages`` (default ``["en"]``) must be present on every node; English is required.

Children keep the order in which they appear in the file; node order everywhere
(:attr:`Taxonomy.node_ids`, :meth:`Taxonomy.leaf_classes`) is preorder.

Synonym matching (:meth:`Taxonomy.lookup`) ignores case and diacritics ("cămașă" matches
"camasa", "ё" matches "е"), treats spaces, hyphens and underscores between the words of a
synonym as optional ("t-shirt" matches "T shirt" and "tshirt"), accepts a plural ``s`` after a
synonym written in Latin letters, and only matches whole words.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.text import ID_RE, SynonymMatcher, synonym_key

__all__ = ["FORMAT", "Taxonomy", "TaxonomyNode"]

FORMAT = "fashionlens-taxonomy"


@dataclass(frozen=True)
class TaxonomyNode:
    """One node of the garment tree.

    ``names`` maps a language code to the display name followed by its synonyms.
    ``leaf_class`` is the classifier label of a leaf and ``None`` on inner nodes.
    """

    id: str
    name: str
    parent: str | None
    children: tuple[str, ...]
    leaf_class: str | None
    names: dict[str, list[str]]

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def display_name(self, lang: str = "en") -> str:
        """The display name in ``lang``, falling back to English."""
        return (self.names.get(lang) or self.names["en"])[0]


class Taxonomy:
    """A garment tree with multilingual names. Build it with :meth:`load` or :meth:`from_dict`.

    Attributes:
        root: id of the root node.
        nodes: id → :class:`TaxonomyNode`, in preorder.
        node_ids: node ids in preorder (the row order of :meth:`membership`).
        languages: the language codes every node has names in.
    """

    def __init__(
        self, nodes: Iterable[TaxonomyNode], *, languages: Sequence[str] = ("en",)
    ) -> None:
        given = list(nodes)
        by_id: dict[str, TaxonomyNode] = {}
        for node in given:
            if node.id in by_id:
                raise ValueError(f"taxonomy: duplicate node id {node.id!r}")
            by_id[node.id] = node
        roots = [n.id for n in given if n.parent is None]
        if len(roots) != 1:
            raise ValueError(f"taxonomy: expected exactly one root (parent null), found {roots}")
        self.root: str = roots[0]
        self.languages: list[str] = list(languages)

        order: list[str] = []
        stack = [self.root]
        seen: set[str] = set()
        while stack:
            nid = stack.pop()
            if nid in seen:
                raise ValueError(f"taxonomy: node {nid!r} is reached twice (cycle)")
            seen.add(nid)
            order.append(nid)
            for child in by_id[nid].children:
                if child not in by_id or by_id[child].parent != nid:
                    raise ValueError(
                        f"taxonomy: node {nid!r} lists child {child!r} whose parent is not {nid!r}"
                    )
            stack.extend(reversed(by_id[nid].children))
        unreachable = [n.id for n in given if n.id not in seen]
        if unreachable:
            raise ValueError(
                f"taxonomy: nodes not reachable from root {self.root!r} (a cycle?): {unreachable}"
            )
        self.nodes: dict[str, TaxonomyNode] = {nid: by_id[nid] for nid in order}
        self.node_ids: list[str] = order
        self._index = {nid: i for i, nid in enumerate(order)}
        self._class_to_node: dict[str, str] = {}
        for nid in order:
            cls = self.nodes[nid].leaf_class
            if cls is not None:
                self._class_to_node[cls] = nid
        self._paths: dict[str, list[str]] = {}
        for nid in order:
            parent = self.nodes[nid].parent
            self._paths[nid] = [*self._paths[parent], nid] if parent is not None else [nid]
        self._covers: dict[str, list[str]] = {}
        for nid in reversed(order):
            node = self.nodes[nid]
            if node.leaf_class is not None:
                self._covers[nid] = [node.leaf_class]
            else:
                self._covers[nid] = [c for ch in node.children for c in self._covers[ch]]
        self._matchers: dict[str | None, SynonymMatcher] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, path: str | PathLike[str] | None = None) -> Taxonomy:
        """Read a taxonomy JSON file; without ``path``, the one packaged with fashionlens."""
        if path is None:
            source = resources.files("fashionlens").joinpath("data", "taxonomy.json")
            text, where = source.read_text(encoding="utf-8"), "packaged taxonomy.json"
        else:
            text, where = Path(path).read_text(encoding="utf-8"), str(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"taxonomy: {where} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Taxonomy:
        """Build and validate a taxonomy from the JSON structure described in the module doc."""
        if not isinstance(d, Mapping):
            raise ValueError("taxonomy: expected a JSON object at the top level")
        fmt = d.get("format", FORMAT)
        if fmt != FORMAT:
            raise ValueError(f"taxonomy: format is {fmt!r}, expected {FORMAT!r}")
        languages = d.get("languages", ["en"])
        if (
            not isinstance(languages, list)
            or not languages
            or not all(isinstance(x, str) and x for x in languages)
        ):
            raise ValueError("taxonomy: 'languages' must be a non-empty list of language codes")
        if "en" not in languages:
            raise ValueError("taxonomy: 'languages' must include 'en'")
        raw_nodes = d.get("nodes")
        if not isinstance(raw_nodes, list) or not raw_nodes:
            raise ValueError("taxonomy: 'nodes' must be a non-empty list")

        parsed: list[dict[str, Any]] = []
        ids: set[str] = set()
        for i, raw in enumerate(raw_nodes):
            if not isinstance(raw, Mapping):
                raise ValueError(f"taxonomy: node #{i} is not an object")
            nid = raw.get("id")
            if not isinstance(nid, str) or not ID_RE.match(nid):
                raise ValueError(
                    f"taxonomy: node #{i} has id {nid!r}; ids are lowercase [a-z0-9] and '-'"
                )
            if nid in ids:
                raise ValueError(f"taxonomy: duplicate node id {nid!r}")
            ids.add(nid)
            unknown = set(raw) - {"id", "parent", "class", "names"}
            if unknown:
                raise ValueError(f"taxonomy: node {nid!r} has unknown keys {sorted(unknown)}")
            parent = raw.get("parent")
            if parent is not None and not isinstance(parent, str):
                raise ValueError(f"taxonomy: node {nid!r} has a non-string parent {parent!r}")
            if parent == nid:
                raise ValueError(f"taxonomy: node {nid!r} is its own parent (cycle)")
            leaf_class = raw.get("class")
            if leaf_class is not None and (not isinstance(leaf_class, str) or not leaf_class):
                raise ValueError(f"taxonomy: node {nid!r} has an invalid class {leaf_class!r}")
            names = raw.get("names")
            if not isinstance(names, Mapping):
                raise ValueError(f"taxonomy: node {nid!r} needs a 'names' object")
            clean: dict[str, list[str]] = {}
            for lang, values in names.items():
                if (
                    not isinstance(values, list)
                    or not values
                    or not all(isinstance(v, str) and v.strip() for v in values)
                ):
                    raise ValueError(
                        f"taxonomy: node {nid!r} names[{lang!r}] must be a non-empty list of "
                        "non-empty strings (display name first)"
                    )
                clean[str(lang)] = [v.strip() for v in values]
            missing = [lang for lang in languages if lang not in clean]
            if missing:
                raise ValueError(f"taxonomy: node {nid!r} has no names in {missing}")
            parsed.append({"id": nid, "parent": parent, "class": leaf_class, "names": clean})

        children: dict[str, list[str]] = {p["id"]: [] for p in parsed}
        for p in parsed:
            if p["parent"] is not None:
                if p["parent"] not in children:
                    raise ValueError(
                        f"taxonomy: node {p['id']!r} has unknown parent {p['parent']!r}"
                    )
                children[p["parent"]].append(p["id"])
        parent_of = {p["id"]: p["parent"] for p in parsed}
        for start in parent_of:
            chain = [start]
            while parent_of[chain[-1]] is not None:
                nxt = parent_of[chain[-1]]
                if nxt in chain:
                    loop = " -> ".join([*chain[chain.index(nxt):], nxt])
                    raise ValueError(f"taxonomy: parent links form a cycle: {loop}")
                chain.append(nxt)

        classes: dict[str, str] = {}
        for p in parsed:
            is_leaf = not children[p["id"]]
            if is_leaf and p["class"] is None:
                raise ValueError(f"taxonomy: leaf {p['id']!r} has no 'class'")
            if not is_leaf and p["class"] is not None:
                raise ValueError(
                    f"taxonomy: node {p['id']!r} has children, so it cannot carry class "
                    f"{p['class']!r}; classes belong on leaves"
                )
            if p["class"] is not None:
                if p["class"] in classes:
                    raise ValueError(
                        f"taxonomy: class {p['class']!r} is on both {classes[p['class']]!r} "
                        f"and {p['id']!r}"
                    )
                classes[p["class"]] = p["id"]

        nodes = [
            TaxonomyNode(
                id=p["id"],
                name=p["names"]["en"][0],
                parent=p["parent"],
                children=tuple(children[p["id"]]),
                leaf_class=p["class"],
                names=p["names"],
            )
            for p in parsed
        ]
        taxonomy = cls(nodes, languages=languages)
        for lang in languages:  # a synonym must not name two nodes in one language
            taxonomy._synonym_table(lang)
        return taxonomy

    def to_dict(self) -> dict[str, Any]:
        """The JSON structure :meth:`from_dict` reads (nodes in preorder)."""
        nodes = []
        for nid in self.node_ids:
            node = self.nodes[nid]
            item: dict[str, Any] = {"id": nid, "parent": node.parent}
            if node.leaf_class is not None:
                item["class"] = node.leaf_class
            item["names"] = {lang: list(v) for lang, v in node.names.items()}
            nodes.append(item)
        return {"format": FORMAT, "version": 1, "languages": list(self.languages), "nodes": nodes}

    # ------------------------------------------------------------------ structure
    def __len__(self) -> int:
        return len(self.node_ids)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nodes

    def __repr__(self) -> str:
        return (
            f"Taxonomy(root={self.root!r}, nodes={len(self.nodes)}, "
            f"classes={len(self._class_to_node)}, languages={self.languages})"
        )

    def _check(self, node_id: str) -> None:
        if node_id not in self.nodes:
            raise KeyError(f"unknown taxonomy node {node_id!r}")

    def index(self, node_id: str) -> int:
        """Position of ``node_id`` in :attr:`node_ids`."""
        self._check(node_id)
        return self._index[node_id]

    def leaf_classes(self) -> list[str]:
        """Classifier labels of the leaves, in tree (preorder) order."""
        return list(self._covers[self.root])

    def node_for_class(self, cls_name: str) -> str:
        """Id of the leaf that stands for classifier label ``cls_name``."""
        try:
            return self._class_to_node[cls_name]
        except KeyError:
            raise KeyError(f"class {cls_name!r} is not a leaf of the taxonomy") from None

    def path(self, node_id: str) -> list[str]:
        """Node ids from the root down to ``node_id`` (both included)."""
        self._check(node_id)
        return list(self._paths[node_id])

    def covers(self, node_id: str) -> list[str]:
        """Classifier labels of the leaves under ``node_id`` (itself if it is a leaf)."""
        self._check(node_id)
        return list(self._covers[node_id])

    def depth(self, node_id: str) -> int:
        """Number of edges from the root (the root has depth 0)."""
        self._check(node_id)
        return len(self._paths[node_id]) - 1

    def is_ancestor_or_self(self, ancestor: str, node: str) -> bool:
        """Whether ``ancestor`` lies on the path from the root to ``node``."""
        self._check(ancestor)
        self._check(node)
        return ancestor in self._paths[node]

    def membership(self, classes: Sequence[str]) -> np.ndarray:
        """0/1 matrix (n_nodes, n_classes): row ``v`` marks the classes node ``v`` covers.

        Rows follow :attr:`node_ids`; columns follow ``classes`` (the classifier's order), so
        ``membership(classes) @ p`` turns class probabilities into node probabilities.
        """
        classes = list(classes)
        duplicated = sorted({c for c in classes if classes.count(c) > 1})
        missing = [c for c in self.leaf_classes() if c not in classes]
        extra = [c for c in classes if c not in self._class_to_node]
        if duplicated or missing or extra:
            parts = []
            if missing:
                parts.append(f"taxonomy leaves missing from the classes: {missing}")
            if extra:
                parts.append(f"classes that are not taxonomy leaves: {extra}")
            if duplicated:
                parts.append(f"duplicated classes: {duplicated}")
            raise ValueError("classes and taxonomy leaves differ; " + "; ".join(parts))
        col = {c: j for j, c in enumerate(classes)}
        matrix = np.zeros((len(self.node_ids), len(classes)), dtype=np.float64)
        for i, nid in enumerate(self.node_ids):
            for c in self._covers[nid]:
                matrix[i, col[c]] = 1.0
        return matrix

    # ------------------------------------------------------------------ names
    def names(self, node_id: str, lang: str = "en") -> list[str]:
        """Display name then synonyms of ``node_id`` in ``lang``."""
        self._check(node_id)
        if lang not in self.languages:
            raise ValueError(f"unknown language {lang!r}; the taxonomy has {self.languages}")
        return list(self.nodes[node_id].names[lang])

    def _synonym_table(self, lang: str | None) -> dict[str, list[str]]:
        langs = self.languages if lang is None else [lang]
        table: dict[str, list[str]] = {}
        for code in langs:
            owner: dict[str, str] = {}
            for nid in self.node_ids:
                for text in self.nodes[nid].names.get(code, []):
                    key = synonym_key(text)
                    if not key:
                        continue
                    if owner.setdefault(key, nid) != nid:
                        raise ValueError(
                            f"taxonomy: synonym {text!r} ({code}) names both "
                            f"{owner[key]!r} and {nid!r}"
                        )
                    ids = table.setdefault(key, [])
                    if nid not in ids:
                        ids.append(nid)
        return table

    def _matcher(self, lang: str | None) -> SynonymMatcher:
        if lang not in self._matchers:
            if lang is not None and lang not in self.languages:
                raise ValueError(f"unknown language {lang!r}; the taxonomy has {self.languages}")
            # taxonomy synonyms have no ``*`` stems: a trailing ``*`` is matched literally
            self._matchers[lang] = SynonymMatcher(self._synonym_table(lang), stems=False)
        return self._matchers[lang]

    def lookup(self, text: str, lang: str | None = None) -> list[str]:
        """Node ids whose names occur in a free-text title, in order of appearance.

        Matching is case- and diacritic-insensitive on whole words, and the longest synonym
        wins where matches overlap ("polo shirt" is a polo, not a shirt). ``lang`` restricts
        the synonyms to one language; by default all languages are tried.
        """
        return self._matcher(lang).find(text)
