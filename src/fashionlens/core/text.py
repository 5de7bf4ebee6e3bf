"""Text matching shared by the taxonomy and the colour dictionary (stdlib only).

Names in :mod:`fashionlens.core.taxonomy` and :mod:`fashionlens.core.colours` are read back
out of free-text listing titles with the same rules:

* matching ignores case and diacritics ("cămașă" matches "camasa", "ё" matches "е") and
  unifies typographic apostrophes (:func:`fold`);
* spaces, hyphens and underscores between the words of a synonym are optional ("t-shirt"
  matches "T shirt" and "tshirt");
* a synonym that ends in a Latin letter also matches with a plural ``s``;
* a synonym ending in ``*`` stands for a word stem followed by up to three more letters
  (``"бордов*"`` matches бордовый, бордовая, …), where stems are enabled;
* only whole words match, and the longest synonym wins where matches overlap ("navy blue" is
  navy, not blue).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

__all__ = ["ID_RE", "SynonymMatcher", "fold", "synonym_key", "synonym_pattern"]

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
"""Stable lowercase identifiers: ``[a-z0-9]`` words joined by ``-``."""

_SEPARATORS = r"[\s\-_\u2010\u2011]*"
_SPLIT_RE = re.compile(r"[\s\-_\u2010\u2011]+")
_STEM_SUFFIX = r"\w{0,3}"


def fold(text: str) -> str:
    """Lower-case, strip diacritics and unify apostrophes, for matching only."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("\u2019", "'").replace("\u02bc", "'").casefold()


def synonym_key(text: str) -> str:
    """The folded synonym with its words joined by single spaces ("T-Shirt" → ``"t shirt"``)."""
    return " ".join(t for t in _SPLIT_RE.split(fold(text).strip()) if t)


def synonym_pattern(key: str, *, stems: bool = True) -> str:
    """Regex source matching a :func:`synonym_key` in folded text (no word boundaries).

    With ``stems`` (the default) a trailing ``*`` stands for up to three more word
    characters; without, ``*`` is an ordinary character.
    """
    if stems and key.endswith("*"):
        tokens = key.rstrip("*").rstrip().split(" ")
        return _SEPARATORS.join(re.escape(t) for t in tokens) + _STEM_SUFFIX
    body = _SEPARATORS.join(re.escape(t) for t in key.split(" "))
    if key[-1].isascii() and key[-1].isalpha():
        body += "s?"
    return body


class SynonymMatcher:
    """Whole-word, longest-first matching of many synonyms in free text.

    ``table`` maps a :func:`synonym_key` to the owners (ids) it names. :meth:`find` returns
    the owners of the synonyms found, in order of appearance, each once.
    """

    def __init__(self, table: Mapping[str, Sequence[str]], *, stems: bool = True) -> None:
        def length(k: str) -> int:
            return len(k.rstrip("*")) if stems else len(k)

        keys = sorted((k for k in table if length(k)), key=lambda k: (-length(k), k))
        by_first: dict[str, list[str]] = {}
        self._owners: dict[str, tuple[str, ...]] = {}
        for i, k in enumerate(keys):
            by_first.setdefault(k[0], []).append(
                f"(?P<s{i}>{synonym_pattern(k, stems=stems)})"
            )
            self._owners[f"s{i}"] = tuple(table[k])
        self._patterns = {
            first: re.compile(rf"(?:{'|'.join(alts)})(?!\w)") for first, alts in by_first.items()
        }

    def find(self, text: str) -> list[str]:
        """Owners of the synonyms in ``text``, in order of appearance, without duplicates."""
        folded = fold(unicodedata.normalize("NFC", text))
        candidates: list[tuple[int, int, str]] = []
        for start, ch in enumerate(folded):
            if start and (folded[start - 1].isalnum() or folded[start - 1] == "_"):
                continue
            pattern = self._patterns.get(ch)
            if pattern is None:
                continue
            m = pattern.match(folded, start)
            if m is not None and m.lastgroup is not None:
                candidates.append((m.start(), m.end(), m.lastgroup))
        taken: list[tuple[int, int, str]] = []
        for cand in sorted(candidates, key=lambda c: (-(c[1] - c[0]), c[0])):
            if all(cand[1] <= t[0] or cand[0] >= t[1] for t in taken):
                taken.append(cand)
        found: list[str] = []
        for _, _, group in sorted(taken):
            for owner in self._owners[group]:
                if owner not in found:
                    found.append(owner)
        return found
