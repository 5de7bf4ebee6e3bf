"""Catalog rows from CSV or JSONL files: every row is either a :class:`CatalogRow` or a
:class:`RowReject` with a reason, and a bad row never stops the reading.

A catalog file has one row per product photo or outfit photo ("look"):

- ``id`` (required, unique in the file), ``image`` (required: a local path, relative to the
  catalog file, or an ``http(s)://`` URL), ``title``, ``category``, ``colour`` (or ``color``);
- ``kind``: ``item`` or ``look`` (also accepted: a ``look`` column that is true/yes/1);
  empty means "decide from the photo" (a garment parser, when installed, tells looks apart);
- any other column is kept as metadata.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashionlens.imaging import DEFAULT_LIMITS, ImageLimits, InvalidImage, read_bytes

__all__ = ["CatalogRow", "RowReject", "fetch_image", "read_rows", "rows_from_dataset",
           "write_rejects"]

KNOWN = ("id", "image", "title", "category", "colour", "kind")
_ALIASES = {"color": "colour", "colour_name": "colour", "image_path": "image", "url": "image",
            "name": "title", "type": "kind"}
_TRUE = {"1", "true", "yes", "y", "look", "outfit"}
_FALSE = {"0", "false", "no", "n", "item", "product", ""}


@dataclass
class CatalogRow:
    """One catalog listing as the file states it (nothing is trusted yet)."""

    id: str
    image: str                       # as resolved: an absolute-or-relative path, or a URL
    title: str = ""
    category: str = ""
    colour: str = ""
    kind: str = "auto"               # "item", "look" or "auto"
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int = 0                    # line (CSV: record) number in the source file

    def fields_hash(self) -> str:
        """Hash of the stated (text) fields: a changed title is an update, not a new row."""
        doc = json.dumps([self.title, self.category, self.colour, self.kind, self.metadata],
                         sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(doc.encode("utf-8")).hexdigest()[:32]

    @property
    def is_url(self) -> bool:
        return self.image.startswith(("http://", "https://"))


@dataclass
class RowReject:
    """A row that cannot be used, with a sentence saying why."""

    line: int
    id: str | None
    reason: str
    raw: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "id": self.id, "reason": self.reason, "raw": self.raw}


def _norm_key(key: str) -> str:
    k = key.strip().lstrip("\ufeff").lower()
    return _ALIASES.get(k, k)


def _resolve_image(image: str, base: Path) -> str:
    image = image.strip()
    if image.startswith(("http://", "https://")):
        return image
    if image.startswith("file://"):
        image = urllib.parse.unquote(urllib.parse.urlparse(image).path)
    p = Path(image).expanduser()
    return str(p if p.is_absolute() else base / p)


def _make_row(rec: dict[str, Any], line: int, base: Path, raw: str) -> CatalogRow | RowReject:
    rid = rec.get("id")
    rid = "" if rid is None else str(rid).strip()
    if not rid:
        return RowReject(line, None, "row has no id", raw)
    image = rec.get("image")
    image = "" if image is None else str(image).strip()
    if not image:
        return RowReject(line, rid, "row has no image", raw)
    kind_raw = str(rec.get("kind") or "").strip().lower()
    look_flag = rec.get("look")
    if kind_raw in ("item", "look"):
        kind = kind_raw
    elif kind_raw in ("", "auto"):
        kind = "auto"
        if look_flag is not None:
            flag = str(look_flag).strip().lower()
            if flag in _TRUE:
                kind = "look"
            elif flag in _FALSE and flag:
                kind = "item"
    else:
        return RowReject(line, rid, f"kind must be item, look or empty, got {kind_raw!r}", raw)
    meta = {k: v for k, v in rec.items() if k not in KNOWN and k != "look"
            and v not in (None, "")}
    return CatalogRow(
        id=rid, image=_resolve_image(image, base),
        title=str(rec.get("title") or "").strip(),
        category=str(rec.get("category") or "").strip(),
        colour=str(rec.get("colour") or "").strip(),
        kind=kind, metadata=meta, line=line,
    )


def read_rows(path: str | Path) -> Iterator[CatalogRow | RowReject]:
    """Rows of a ``.csv`` (header required) or ``.jsonl``/``.ndjson`` catalog file.

    Rejected here: a wrong column count, a missing id or image, an unknown kind, invalid JSON,
    and an id seen earlier in the same file. Whether the image can be read is checked later
    (by ingest), since that needs the bytes.
    """
    path = Path(path)
    base = path.resolve().parent
    seen: dict[str, int] = {}
    rows = _read_jsonl(path, base) if path.suffix.lower() in (".jsonl", ".ndjson", ".json") \
        else _read_csv(path, base)
    for row in rows:
        if isinstance(row, CatalogRow):
            if row.id in seen:
                yield RowReject(row.line, row.id,
                                f"id {row.id!r} already used on line {seen[row.id]}")
                continue
            seen[row.id] = row.line
        yield row


def _read_csv(path: Path, base: Path) -> Iterator[CatalogRow | RowReject]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        keys = [_norm_key(h) for h in header]
        if "id" not in keys or "image" not in keys:
            raise ValueError(f"{path}: the header needs 'id' and 'image' columns, got {header}")
        for values in reader:
            line = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            raw = _csv_line(values)
            if len(values) != len(keys):
                rid = values[keys.index("id")].strip() if len(values) > keys.index("id") else None
                yield RowReject(line, rid or None,
                                f"row has {len(values)} columns, the header has {len(keys)}",
                                raw)
                continue
            yield _make_row(dict(zip(keys, values, strict=True)), line, base, raw)


def _csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(values)
    return buf.getvalue().rstrip("\r\n")


def _read_jsonl(path: Path, base: Path) -> Iterator[CatalogRow | RowReject]:
    with open(path, encoding="utf-8-sig") as f:
        for line_no, line in enumerate(f, 1):
            text = line.strip()
            if not text:
                continue
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as exc:
                yield RowReject(line_no, None, f"line is not valid JSON ({exc.msg})", text[:500])
                continue
            if not isinstance(rec, dict):
                yield RowReject(line_no, None, "line is not a JSON object", text[:500])
                continue
            rec = {_norm_key(str(k)): v for k, v in rec.items()}
            yield _make_row(rec, line_no, base, text[:500])


def fetch_image(row: CatalogRow, *, limits: ImageLimits = DEFAULT_LIMITS,
                timeout: float = 20.0) -> bytes:
    """The bytes of a row's photo (a local path, or a URL read up to the byte limit).

    Raises :class:`~fashionlens.imaging.InvalidImage` with a reason for anything unreadable.
    """
    if not row.is_url:
        return read_bytes(row.image, limits)
    req = urllib.request.Request(row.image, headers={"User-Agent": "fashionlens-catalog"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http(s) only)
            data = resp.read(limits.max_bytes + 1)
    except Exception as exc:  # URLError, HTTPError, timeouts, bad TLS ...
        raise InvalidImage(f"cannot download {row.image} ({exc})", "unreadable") from None
    return read_bytes(data, limits)


def write_rejects(path: str | Path, rejects: list[RowReject], *, source: str = "") -> None:
    """Append rejects as CSV (``source,line,id,reason,raw``), with a header for a new file."""
    path = Path(path)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["source", "line", "id", "reason", "raw"])
        for r in rejects:
            w.writerow([source, r.line, r.id or "", r.reason, r.raw])


def rows_from_dataset(path: str | Path) -> list[CatalogRow | RowReject]:
    """A labelled training set as catalog rows, to audit it for label errors and duplicates.

    ``path`` is anything :func:`fashionlens.datasets.read_dataset` reads (class folders, a
    folder with a ``labels.csv`` manifest, the clothing set). Each photo becomes an ``item``
    whose id is its path relative to the dataset root and whose category is its label; rows the
    reader rejected come back as :class:`RowReject`.
    """
    from fashionlens.datasets.labelled import read_dataset

    ds = read_dataset(path)
    root = Path(ds.root) if ds.root is not None else Path(path)
    out: list[CatalogRow | RowReject] = []
    for line, item in enumerate(ds.items, 1):
        p = Path(item.path)
        try:
            rid = p.relative_to(root).as_posix()
        except ValueError:
            rid = p.as_posix()
        meta = {k: v for k, v in {"group": item.group, **item.meta}.items()
                if v not in (None, "")}
        out.append(CatalogRow(id=rid, image=str(p), category=item.label, kind="item",
                              metadata=meta, line=line))
    for where, reason in ds.rejects:
        out.append(RowReject(where if isinstance(where, int) else 0, None, f"{where}: {reason}"))
    return out
