"""Readers for labelled garment photos: class folders, CSV manifests, the clothing dataset.

Every reader returns a :class:`LabelledDataset`. Reading never stops on a bad row: a row that
cannot be used (wrong column count, empty label, missing file, ...) is recorded in
``dataset.rejects`` as ``(row number or path, reason)`` and the good rows are kept. Only
problems with the source as a whole (no such file, required column absent) raise.

The readers check that each photo exists; they do not decode it. Decoding untrusted bytes is
the job of ``fashionlens.imaging``.

This module uses the standard library and numpy only (it is shared by training and audit).
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGE_EXTENSIONS",
    "LabelledDataset",
    "LabelledImage",
    "read_clothing_dataset",
    "read_csv_manifest",
    "read_dataset",
    "read_image_folder",
]

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp")

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})


@dataclass(frozen=True)
class LabelledImage:
    """One labelled photo.

    ``group`` ties photos together that must stay on one side of a split (for the clothing
    dataset, the sender who took them). ``meta`` holds the remaining columns of the source.
    """

    path: Path
    label: str
    group: str | None = None
    meta: dict = field(default_factory=dict, hash=False)


@dataclass
class LabelledDataset:
    """A list of labelled photos with the class list and the rows that could not be read.

    ``classes`` is the sorted list of distinct labels in use; ``labels()`` indexes into it.
    ``root`` is the folder paths are reported relative to (used by :meth:`fingerprint`).
    """

    items: list[LabelledImage]
    classes: list[str]
    rejects: list[tuple[int | str, str]] = field(default_factory=list)
    root: Path | None = None

    @classmethod
    def from_items(
        cls,
        items: Iterable[LabelledImage],
        *,
        rejects: Iterable[tuple[int | str, str]] = (),
        root: str | Path | None = None,
    ) -> LabelledDataset:
        """Build a dataset whose class list is the sorted labels used by ``items``."""
        items = list(items)
        return cls(
            items=items,
            classes=sorted({item.label for item in items}),
            rejects=list(rejects),
            root=Path(root) if root is not None else None,
        )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> LabelledImage:
        return self.items[index]

    def __iter__(self):
        return iter(self.items)

    def labels(self) -> np.ndarray:
        """Class index of every item (``int64``, shape ``(n,)``), indexing ``classes``."""
        index = {name: i for i, name in enumerate(self.classes)}
        try:
            return np.fromiter((index[item.label] for item in self.items), np.int64, len(self))
        except KeyError as err:
            raise ValueError(f"label {err.args[0]!r} is not in classes") from None

    def groups(self) -> np.ndarray:
        """Group of every item as strings; an item with no group is a group of its own."""
        groups = [
            item.group if item.group is not None else f"\0item{i}"
            for i, item in enumerate(self.items)
        ]
        return np.array(groups, dtype=object)

    def class_counts(self) -> dict[str, int]:
        """Number of items per class, in ``classes`` order (zero for an unused class)."""
        counts = Counter(item.label for item in self.items)
        return {name: counts.get(name, 0) for name in self.classes}

    def subset(self, indices: Sequence[int] | np.ndarray) -> LabelledDataset:
        """The items at ``indices``, in that order.

        The subset keeps this dataset's class list, so label indices agree between the parts
        of a split even when a part lacks a class; it carries no rejects.
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask has shape {idx.shape}, expected ({len(self)},)")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False).reshape(-1)
        return LabelledDataset(
            items=[self.items[int(i)] for i in idx],
            classes=list(self.classes),
            rejects=[],
            root=self.root,
        )

    def relative_name(self, item: LabelledImage) -> str:
        """The item's path relative to ``root`` in POSIX form (the file name if outside it)."""
        if self.root is not None:
            try:
                return item.path.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return item.path.name

    def fingerprint(self) -> str:
        """SHA-256 over the sorted ``(relative path, label)`` pairs.

        Paths are taken relative to ``root``, so the same data gives the same fingerprint on
        every machine; any change of a label, or a photo added or removed, changes it.
        """
        pairs = sorted((self.relative_name(item), item.label) for item in self.items)
        digest = hashlib.sha256()
        for name, label in pairs:
            digest.update(name.encode("utf-8"))
            digest.update(b"\0")
            digest.update(label.encode("utf-8"))
            digest.update(b"\n")
        return digest.hexdigest()

    def describe(self) -> str:
        """A plain-text table of photos per class, with the total and the imbalance ratio."""
        counts = self.class_counts()
        total = len(self)
        name_width = max([len("class"), len("total"), *(len(c) for c in counts)])
        count_width = max(len("photos"), len(str(total)))
        lines = [f"{'class':<{name_width}}  {'photos':>{count_width}}  {'share':>6}"]
        lines.append("-" * len(lines[0]))
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            share = 100.0 * n / total if total else 0.0
            lines.append(f"{name:<{name_width}}  {n:>{count_width}}  {share:>5.1f}%")
        lines.append("-" * len(lines[0]))
        lines.append(f"{'total':<{name_width}}  {total:>{count_width}}  {100.0:>5.1f}%")
        used = [n for n in counts.values() if n > 0]
        if used:
            ratio = max(used) / min(used)
            largest = max(counts, key=lambda c: (counts[c], c))
            smallest = min((c for c in counts if counts[c] > 0), key=lambda c: (counts[c], c))
            lines.append(
                f"{len(counts)} classes; imbalance ratio {ratio:.1f} "
                f"(largest {largest} {counts[largest]}, smallest {smallest} {counts[smallest]})"
            )
            empty = [c for c, n in counts.items() if n == 0]
            if empty:
                lines.append(f"classes with no photos: {', '.join(empty)}")
        else:
            lines.append(f"{len(counts)} classes; no photos")
        if self.rejects:
            lines.append(f"{len(self.rejects)} rows rejected")
        return "\n".join(lines)


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def read_image_folder(
    root: str | Path,
    *,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
) -> LabelledDataset:
    """Read ``root/<class>/<image>``: each sub-folder of ``root`` is a class.

    Only files directly inside a class folder count (deeper folders are ignored), hidden files
    and folders (name starting with ".") are skipped, and extensions match case-insensitively.
    A class folder with no photos does not appear in ``classes``.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"image folder {root} does not exist or is not a directory")
    wanted = {ext.lower() if ext.startswith(".") else f".{ext.lower()}" for ext in extensions}
    items: list[LabelledImage] = []
    for class_dir in sorted(root.iterdir(), key=lambda p: p.name):
        if _is_hidden(class_dir) or not class_dir.is_dir():
            continue
        for file in sorted(class_dir.iterdir(), key=lambda p: p.name):
            if _is_hidden(file) or file.suffix.lower() not in wanted or not file.is_file():
                continue
            items.append(LabelledImage(path=file, label=class_dir.name))
    return LabelledDataset.from_items(items, root=root)


def read_csv_manifest(
    path: str | Path,
    *,
    image_column: str = "image",
    label_column: str = "label",
    group_column: str | None = None,
    root: str | Path | None = None,
) -> LabelledDataset:
    """Read a CSV with a header row naming at least the image and label columns.

    Image paths are relative to ``root`` (default: the CSV's folder) unless absolute. Other
    columns go to ``meta`` as strings; ``group_column`` (if given) becomes ``group``. A row
    with the wrong number of columns, an empty image or label, a missing file or an image
    already listed is rejected as ``(line number, reason)``; line 1 is the header.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"CSV manifest {path} does not exist")
    base = Path(root).expanduser().resolve() if root is not None else path.parent

    items: list[LabelledImage] = []
    rejects: list[tuple[int | str, str]] = []
    seen: dict[Path, int] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"CSV manifest {path} is empty (no header row)")
        header = [name.strip() for name in header]
        columns = {name: i for i, name in enumerate(header)}
        required = [image_column, label_column] + ([group_column] if group_column else [])
        missing = [name for name in required if name not in columns]
        if missing:
            raise ValueError(
                f"CSV manifest {path} has no column(s) {', '.join(map(repr, missing))}; "
                f"its header is {header}"
            )
        skip = set(required)
        meta_columns = [(name, i) for name, i in columns.items() if name not in skip]

        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                rejects.append((reader.line_num, f"unreadable CSV row: {err}"))
                continue
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue  # blank line
            if len(row) != len(header):
                rejects.append((line, f"expected {len(header)} columns, got {len(row)}"))
                continue
            image = row[columns[image_column]].strip()
            label = row[columns[label_column]].strip()
            if not image:
                rejects.append((line, f"empty {image_column!r}"))
                continue
            if not label:
                rejects.append((line, f"empty {label_column!r} for {image}"))
                continue
            file = (base / image).resolve()
            if not file.is_file():
                rejects.append((line, f"missing file {image}"))
                continue
            if file in seen:
                rejects.append((line, f"duplicate of line {seen[file]}: {image}"))
                continue
            seen[file] = line
            group = None
            if group_column:
                group = row[columns[group_column]].strip() or None
            meta = {name: row[i] for name, i in meta_columns}
            items.append(LabelledImage(path=file, label=label, group=group, meta=meta))
    return LabelledDataset.from_items(items, rejects=rejects, root=base)


def _parse_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def read_clothing_dataset(
    root: str | Path,
    *,
    exclude_labels: Iterable[str] = ("Not sure", "Other"),
    include_kids: bool = True,
) -> LabelledDataset:
    """Read the clothing dataset layout: ``root/labels.csv`` (image,label,kids,sender_id).

    ``group`` is the sender, ``meta["kids"]`` a bool. Rows whose label is in
    ``exclude_labels`` (by default the labeller's "Not sure" and the catch-all "Other") and,
    with ``include_kids=False``, children's clothes are left out (they are not rejects).
    """
    root = Path(root).expanduser().resolve()
    manifest = root / "labels.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"{root} has no labels.csv: not a clothing dataset folder")
    raw = read_csv_manifest(manifest, group_column="sender_id", root=root)
    excluded = set(exclude_labels)
    rejects = list(raw.rejects)
    items: list[LabelledImage] = []
    for item in raw.items:
        if item.label in excluded:
            continue
        meta = dict(item.meta)
        kids = _parse_bool(meta.get("kids", "False"))
        if kids is None:
            rejects.append((raw.relative_name(item), f"kids is not true/false: {meta['kids']!r}"))
            continue
        if kids and not include_kids:
            continue
        meta["kids"] = kids
        items.append(LabelledImage(path=item.path, label=item.label, group=item.group, meta=meta))
    return LabelledDataset.from_items(items, rejects=rejects, root=root)


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [name.strip() for name in next(csv.reader(handle), [])]


def _has_class_folders(root: Path) -> bool:
    for sub in root.iterdir():
        if _is_hidden(sub) or not sub.is_dir():
            continue
        for file in sub.iterdir():
            if not _is_hidden(file) and file.suffix.lower() in IMAGE_EXTENSIONS and file.is_file():
                return True
    return False


def read_dataset(path: str | Path, **kw) -> LabelledDataset:
    """Read a labelled dataset, choosing the reader from what ``path`` holds.

    - a folder with a ``labels.csv`` that has a ``sender_id`` column: the clothing dataset;
    - a ``.csv`` file, or a folder with a ``labels.csv``: a CSV manifest;
    - a folder of class folders holding photos: an image folder.

    Keyword arguments go to the chosen reader. Anything else raises ``ValueError``.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"dataset path {path} does not exist")
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return read_csv_manifest(path, **kw)
        raise ValueError(f"cannot read a dataset from {path}: expected a .csv manifest or a folder")
    manifest = path / "labels.csv"
    if manifest.is_file():
        if "sender_id" in _csv_header(manifest):
            return read_clothing_dataset(path, **kw)
        return read_csv_manifest(manifest, **kw)
    if _has_class_folders(path):
        return read_image_folder(path, **kw)
    raise ValueError(
        f"cannot read a dataset from folder {path}: it has no labels.csv and no class "
        f"sub-folders with images ({', '.join(IMAGE_EXTENSIONS)})"
    )
