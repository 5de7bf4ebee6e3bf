"""Catalog files sent by strangers (the REST API's audit upload), made safe to ingest.

An uploaded catalog is a CSV or JSONL file, or a ZIP holding one such file and the photos it
names by relative path. Nothing in it is trusted:

* Photos are read from the ZIP member by member, each capped at the image byte limit, decoded
  through the safe door and **re-encoded** as JPEG under a random name in the job folder: no
  EXIF/GPS or other metadata survives, and no name from the upload ever becomes a path.
* A row naming a photo outside the ZIP (an absolute path, ``..``) is rejected, as is any local
  path in a bare CSV/JSONL (there is no photo to read); http(s) URLs are kept only when the
  server allows fetching them (off by default: it would let a stranger make the server
  request addresses of their choosing).
* Member count, member sizes and the declared total are checked before reading (ZIP bombs).

Rejected rows carry a reason and never stop the others.
"""

from __future__ import annotations

import secrets
import zipfile
from dataclasses import replace
from pathlib import Path, PurePosixPath

from fashionlens.catalog.rows import CatalogRow, RowReject, read_rows
from fashionlens.imaging import DEFAULT_LIMITS, ImageLimits, InvalidImage, open_image

__all__ = ["MAX_MEMBERS", "UploadError", "rows_from_upload", "store_photo"]

MAX_MEMBERS = 20_000
CATALOG_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json")
MAX_CATALOG_FILE = 64 * 1024 * 1024


class UploadError(ValueError):
    """The upload as a whole cannot be used (not a catalog, a broken or hostile ZIP)."""


def store_photo(data: bytes, folder: Path, *, limits: ImageLimits = DEFAULT_LIMITS,
                quality: int = 92, max_side: int = 2048) -> Path:
    """Decode ``data`` through the door and save it re-encoded (JPEG, no metadata, at most
    ``max_side`` px) under a random name in ``folder``; raises :class:`InvalidImage` for
    anything that is not a photo."""
    photo = open_image(data, limits=limits)  # EXIF orientation applied, alpha on white
    photo.thumbnail((max_side, max_side))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(16)}.jpg"
    photo.convert("RGB").save(path, format="JPEG", quality=quality)
    return path


def rows_from_upload(upload: Path, workdir: Path, *, limits: ImageLimits = DEFAULT_LIMITS,
                     allow_urls: bool = False) -> list[CatalogRow | RowReject]:
    """Rows ready for :func:`fashionlens.catalog.ingest.ingest` from an uploaded file."""
    if zipfile.is_zipfile(upload):
        return _rows_from_zip(upload, workdir, limits=limits, allow_urls=allow_urls)
    if upload.suffix.lower() not in CATALOG_SUFFIXES:
        raise UploadError(f"expected a .csv or .jsonl catalog or a .zip with one, got "
                          f"{upload.name!r}")
    _check_text(upload.read_bytes()[:4096], upload.name)
    base = upload.resolve().parent
    out: list[CatalogRow | RowReject] = []
    for row in read_rows(upload):
        if isinstance(row, RowReject) or row.is_url:
            out.append(_url_policy(row, allow_urls))
        else:
            rel = _relative(row.image, base)
            out.append(RowReject(row.line, row.id, f"image {rel or row.image!r} is a local "
                                 "path; upload a ZIP holding the catalog and its photos",
                                 ""))
    return out


def _check_text(head: bytes, name: str) -> None:
    if b"\0" in head:
        raise UploadError(f"{name!r} is not a text catalog (it holds binary data)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the end is fine
            raise UploadError(f"{name!r} is not UTF-8 text") from None


def _url_policy(row: CatalogRow | RowReject, allow_urls: bool) -> CatalogRow | RowReject:
    if isinstance(row, RowReject) or allow_urls:
        return row
    return RowReject(row.line, row.id, f"image {row.image!r} is a URL, and this server does "
                     "not fetch URLs (FASHIONLENS_ALLOW_URL_IMAGES)", "")


def _relative(image: str, base: Path) -> str | None:
    """``image`` (as resolved against ``base`` by the row reader) relative to ``base``, or None
    when it points outside it."""
    try:
        rel = Path(image).relative_to(base)
    except ValueError:
        return None
    parts = rel.parts
    if not parts or ".." in parts:
        return None
    return PurePosixPath(*parts).as_posix()


def _rows_from_zip(upload: Path, workdir: Path, *, limits: ImageLimits,
                   allow_urls: bool) -> list[CatalogRow | RowReject]:
    try:
        zf = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadError(f"the ZIP cannot be read ({exc})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise UploadError(f"the ZIP holds {len(infos)} files; at most {MAX_MEMBERS}")
        members = {_member_name(i.filename): i for i in infos}
        members.pop(None, None)
        catalogs = [n for n in members if n.lower().endswith(CATALOG_SUFFIXES)
                    and not n.split("/")[-1].startswith(".") and "__MACOSX" not in n]
        if len(catalogs) != 1:
            found = ", ".join(sorted(catalogs)) or "none"
            raise UploadError(f"the ZIP must hold exactly one .csv or .jsonl catalog "
                              f"(found: {found})")
        name = catalogs[0]
        info = members[name]
        if info.file_size > MAX_CATALOG_FILE:
            raise UploadError(f"the catalog file {name!r} is larger than "
                              f"{MAX_CATALOG_FILE // 1024 // 1024} MiB")
        text = _read_member(zf, info, MAX_CATALOG_FILE)
        _check_text(text[:4096], name)
        folder = PurePosixPath(name).parent
        workdir.mkdir(parents=True, exist_ok=True)
        local = workdir / ("catalog" + PurePosixPath(name).suffix.lower())
        local.write_bytes(text)
        base = workdir.resolve()
        photos = workdir / "photos"
        stored: dict[str, Path | str] = {}  # member → re-encoded file, or why it failed
        out: list[CatalogRow | RowReject] = []
        for row in read_rows(local):
            if isinstance(row, RowReject) or row.is_url:
                out.append(_url_policy(row, allow_urls))
                continue
            rel = _relative(row.image, base)
            member = _member_name(str(folder / rel)) if rel else None
            if member is None:
                out.append(RowReject(row.line, row.id, "image must be a relative path inside "
                                     "the ZIP (no absolute paths or '..')", ""))
                continue
            if member not in stored:
                stored[member] = _store_member(zf, members.get(member), member, photos, limits)
            got = stored[member]
            if isinstance(got, str):
                out.append(RowReject(row.line, row.id, f"image {rel}: {got}", ""))
            else:
                out.append(replace(row, image=str(got)))
        return out


def _member_name(name: str) -> str | None:
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if not parts or ".." in parts or parts[0] == "/":
        return None
    return "/".join(parts)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """At most ``cap`` bytes of a member, whatever its header claims (UploadError beyond)."""
    try:
        with zf.open(info) as f:
            data = f.read(cap + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError,
            EOFError) as exc:  # CRC errors, encryption, unknown compression, truncation
        raise UploadError(f"{info.filename!r} cannot be read from the ZIP ({exc})") from None
    if len(data) > cap:
        raise UploadError(f"{info.filename!r} is larger than {cap} bytes")
    return data


def _store_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo | None, member: str,
                  folder: Path, limits: ImageLimits) -> Path | str:
    if info is None:
        return "not in the ZIP"
    if info.file_size > limits.max_bytes:
        return f"larger than the {limits.max_bytes / 1024 / 1024:.1f} MiB limit"
    try:
        data = _read_member(zf, info, limits.max_bytes)
        return store_photo(data, folder, limits=limits)
    except UploadError as exc:
        return str(exc)
    except InvalidImage as exc:
        return exc.reason

