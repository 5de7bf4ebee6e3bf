"""Deterministic, stratified train/val/test splits, optionally keeping groups together.

Determinism. Shuffles are a Fisher-Yates shuffle driven by the raw 64-bit output of
``numpy.random.PCG64(seed)``. The raw PCG64 stream (and the ``SeedSequence`` that seeds it) is
fixed by numpy's stream-compatibility policy, whereas ``Generator.permutation`` and friends may
change between numpy versions; the shuffle itself is written here, so a seed gives the same
split on every machine and numpy version. (Each swap index is ``raw % (i + 1)``; the modulo
bias is below ``n / 2**64`` and irrelevant here.) Nothing depends on Python's ``hash()``.

Without groups (exact stratification). Classes are taken in sorted order; each class's
indices are shuffled and cut into parts whose sizes are ``n * fractions`` rounded by the
largest-remainder method (so they add up to ``n``). A class with at least as many items as
there are parts with a non-zero fraction (3 for the default) gets at least one item in each
such part, taken from the largest part.

With groups (approximate stratification). Every item of a group lands in the same part, so
exact per-class proportions are impossible in general. Groups are assigned whole, greedily:

1. the groups are shuffled with the seed, then stably sorted by size, largest first (big
   groups are the hard ones to place; ties keep the shuffled order, so the seed matters);
2. each group goes to the part where adding it lowers (or least raises) the cost
   ``sum_{part p, class c} (n[p, c] - f[p] * N[c])**2 / N[c]
   + sum_p (n[p] - f[p] * N)**2 / N``,
   a chi-square-like distance between the per-class counts and their targets plus the same
   for the part sizes, so small classes weigh as much as large ones;
3. a repair pass: while some class with at least 3 items is absent from a part (with a
   non-zero fraction), move the group holding that class which, among those whose move
   empties no other class in their current part, leaves the lowest cost. This is best effort:
   a class held by a single group stays on one side.

A group larger than a part's share (for the clothing dataset one sender took 12 % of the
photos) necessarily ends up in the largest part it fits best, so part sizes can miss the
fractions by a few points; check ``Split.fractions()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PARTS", "Split", "split_fingerprint", "stratified_split"]

PARTS: tuple[str, str, str] = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Split:
    """Sorted, disjoint index arrays into ``dataset.items`` (read-only ``int64``)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for name in PARTS:
            array = np.sort(np.asarray(getattr(self, name), dtype=np.int64).reshape(-1))
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return all(np.array_equal(getattr(self, n), getattr(other, n)) for n in PARTS)

    __hash__ = None  # type: ignore[assignment]

    def parts(self) -> dict[str, np.ndarray]:
        """``{"train": ..., "val": ..., "test": ...}``."""
        return {name: getattr(self, name) for name in PARTS}

    def sizes(self) -> dict[str, int]:
        return {name: int(array.size) for name, array in self.parts().items()}

    def fractions(self) -> dict[str, float]:
        total = sum(self.sizes().values())
        return {name: (n / total if total else 0.0) for name, n in self.sizes().items()}

    def assignment(self, n: int | None = None) -> np.ndarray:
        """Part number (0 train, 1 val, 2 test) of every index; -1 where none."""
        if n is None:
            n = 1 + max((int(a.max()) for a in self.parts().values() if a.size), default=-1)
        out = np.full(n, -1, dtype=np.int64)
        for part, array in enumerate(self.parts().values()):
            out[array] = part
        return out


def split_fingerprint(split: Split) -> str:
    """SHA-256 of the three index arrays, stable across machines and numpy versions."""
    digest = hashlib.sha256()
    for name in PARTS:
        array = getattr(split, name)
        digest.update(f"{name}:{array.size}:".encode())
        digest.update(np.ascontiguousarray(array, dtype="<i8").tobytes())
    return digest.hexdigest()


def _permutation(bitgen: np.random.PCG64, n: int) -> np.ndarray:
    """Fisher-Yates shuffle of ``arange(n)`` from the raw PCG64 stream (version-stable)."""
    out = np.arange(n, dtype=np.int64)
    if n < 2:
        return out
    draws = bitgen.random_raw(n - 1)
    for k, i in enumerate(range(n - 1, 0, -1)):
        j = int(draws[k] % np.uint64(i + 1))
        out[i], out[j] = out[j], out[i]
    return out


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,):
        raise ValueError(f"fractions must be three numbers (train, val, test), got {fractions}")
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        raise ValueError(f"fractions must be non-negative, got {fractions}")
    if abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must add up to 1, got {fractions} (sum {f.sum():g})")
    if f[0] <= 0:
        raise ValueError("the train fraction must be positive")
    return f / f.sum()


def _part_sizes(n: int, f: np.ndarray) -> np.ndarray:
    """Largest-remainder rounding of ``n * f``; every used part gets one item if n allows."""
    raw = n * f
    sizes = np.floor(raw).astype(np.int64)
    remainders = raw - sizes
    # largest remainder first; ties go to the earlier part (train before val before test)
    order = sorted(range(len(f)), key=lambda p: (-remainders[p], p))
    for p in order[: n - int(sizes.sum())]:
        sizes[p] += 1
    used = np.flatnonzero(f > 0)
    if n >= used.size:
        for p in used:
            if sizes[p] == 0:
                donor = int(np.argmax(sizes))  # first of the largest parts
                sizes[donor] -= 1
                sizes[p] += 1
    return sizes


def stratified_split(
    labels: np.ndarray,
    *,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    groups: np.ndarray | Sequence | None = None,
) -> Split:
    """Split ``range(len(labels))`` into train/val/test, stratified by label.

    ``labels`` may hold class indices or names. With ``groups`` (one value per item, e.g. the
    sender of each photo) every group lands in one part; see the module notes for the method.
    The result depends only on the inputs and ``seed``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    f = _check_fractions(fractions)
    n = labels.size
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return Split(empty, empty, empty)
    _, class_of = np.unique(labels, return_inverse=True)
    class_of = class_of.reshape(-1)
    bitgen = np.random.PCG64(seed)

    if groups is None:
        parts: list[list[np.ndarray]] = [[], [], []]
        for c in range(int(class_of.max()) + 1):
            members = np.flatnonzero(class_of == c)
            shuffled = members[_permutation(bitgen, members.size)]
            start = 0
            for p, size in enumerate(_part_sizes(members.size, f)):
                parts[p].append(shuffled[start : start + size])
                start += size
        return Split(*(np.concatenate(chunks) for chunks in parts))

    group_values = [str(g) for g in (groups.tolist() if hasattr(groups, "tolist") else groups)]
    if len(group_values) != n:
        raise ValueError(f"groups has {len(group_values)} entries, labels {n}")
    _, group_of = np.unique(np.array(group_values, dtype=object), return_inverse=True)
    group_of = group_of.reshape(-1)
    part_of_group = _assign_groups(class_of, group_of, f, bitgen)
    part_of = part_of_group[group_of]
    return Split(*(np.flatnonzero(part_of == p) for p in range(3)))


def _cost(counts: np.ndarray, targets: np.ndarray, class_totals: np.ndarray, f: np.ndarray):
    total = class_totals.sum()
    per_class = ((counts - targets) ** 2 / class_totals).sum()
    sizes = counts.sum(axis=1)
    return per_class + ((sizes - f * total) ** 2).sum() / total


def _assign_groups(
    class_of: np.ndarray, group_of: np.ndarray, f: np.ndarray, bitgen: np.random.PCG64
) -> np.ndarray:
    n_groups = int(group_of.max()) + 1
    n_classes = int(class_of.max()) + 1
    per_group = np.zeros((n_groups, n_classes), dtype=np.float64)
    np.add.at(per_group, (group_of, class_of), 1.0)
    class_totals = per_group.sum(axis=0)
    total = class_totals.sum()
    targets = f[:, None] * class_totals[None, :]
    used = np.flatnonzero(f > 0)

    order = _permutation(bitgen, n_groups)
    sizes = per_group.sum(axis=1)
    order = order[np.argsort(-sizes[order], kind="stable")]

    counts = np.zeros((3, n_classes), dtype=np.float64)
    part_of_group = np.full(n_groups, -1, dtype=np.int64)
    for g in order:
        row = per_group[g]
        # change in cost from adding the group to each part
        delta = ((2 * (counts - targets) * row + row**2) / class_totals).sum(axis=1)
        part_sizes = counts.sum(axis=1)
        delta += (2 * (part_sizes - f * total) * sizes[g] + sizes[g] ** 2) / total
        best = int(used[np.argmin(delta[used])])
        part_of_group[g] = best
        counts[best] += row

    _repair_presence(per_group, part_of_group, counts, targets, class_totals, f, used)
    return part_of_group


def _repair_presence(per_group, part_of_group, counts, targets, class_totals, f, used) -> None:
    """Move whole groups so that each class with >= 3 items reaches every used part."""
    need = class_totals >= max(3, used.size)
    for _ in range(per_group.shape[0] * 3 + 1):  # bounded: each move fixes one gap
        missing = [(c, p) for c in np.flatnonzero(need) for p in used if counts[p, c] == 0]
        if not missing:
            return
        moved = False
        for c, p in missing:
            best_cost, best_group = None, None
            for g in np.flatnonzero(per_group[:, c] > 0):
                q = part_of_group[g]
                if q == p:
                    continue
                row = per_group[g]
                after = counts[q] - row
                # do not empty a part of a class that needs to be there
                if np.any(need & (counts[q] > 0) & (after <= 0)):
                    continue
                trial = counts.copy()
                trial[q] = after
                trial[p] += row
                cost = _cost(trial, targets, class_totals, f)
                if best_cost is None or cost < best_cost:
                    best_cost, best_group = cost, g
            if best_group is not None:
                q = part_of_group[best_group]
                counts[q] -= per_group[best_group]
                counts[p] += per_group[best_group]
                part_of_group[best_group] = p
                moved = True
                break
        if not moved:
            return
