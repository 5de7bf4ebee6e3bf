"""Audit jobs over HTTP: ``POST /v1/audit`` starts one, ``GET /v1/audit/{job}`` follows it.

No ``from __future__ import annotations`` here: FastAPI reads the annotations at run time.

A job audits either the served catalog (no file sent) or an uploaded catalog file (CSV, JSONL,
or a ZIP with the photos; see :mod:`fashionlens.catalog.upload`), which is first ingested into
a catalog of its own under ``<data>/audit/<job>/``. Jobs run one at a time on a worker thread;
a few may wait, more are refused with 503. Job ids are random 128-bit hex strings checked
against a pattern before they touch the file system; finished jobs beyond ``keep`` are
deleted oldest first. A finished job is written to ``job.json`` in its folder, so it can still
be read after the server restarts.
"""

import contextlib
import json
import re
import secrets
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, Response

from fashionlens.api.catalog import item_urls
from fashionlens.api.errors import ApiError, error_responses

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

router = APIRouter(tags=["audit"], responses=error_responses(400, 404, 408, 409, 413, 422, 503))


@dataclass
class AuditJob:
    id: str
    source: str
    folder: Path
    status: str = "queued"
    created: float = field(default_factory=time.time)
    finished: float | None = None
    stage: str = "queued"
    done: int = 0
    total: int | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    served: bool = False

    def save(self) -> None:
        doc = {k: getattr(self, k) for k in ("id", "source", "status", "created", "finished",
                                              "stage", "done", "total", "findings", "rejects",
                                              "error", "served")}
        tmp = self.folder / "job.json.part"
        tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.folder / "job.json")

    @classmethod
    def load(cls, folder: Path) -> "AuditJob | None":
        try:
            doc = json.loads((folder / "job.json").read_text(encoding="utf-8"))
            return cls(folder=folder, **doc)
        except (OSError, ValueError, TypeError):
            return None

    def to_json(self) -> dict[str, Any]:
        prefix = "/v1/items" if self.served else f"/v1/audit/{self.id}/items"
        findings = [{**f, "thumb_url": item_urls(f["id"], prefix)["thumb_url"]}
                    for f in self.findings]
        return {
            "job": self.id, "status": self.status, "source": self.source,
            "stage": self.stage, "progress": {"done": self.done, "total": self.total},
            "created": self.created, "finished": self.finished,
            "findings": findings, "rejects": self.rejects, "error": self.error,
            "report_url": (f"/v1/audit/{self.id}/report.html" if self.status == "done"
                           else None),
        }


class AuditJobs:
    """Runs audit jobs one at a time and remembers the last ``keep`` of them."""

    def __init__(self, root: Path, *, served_db: Path | None, analyzer: Any, settings: Any,
                 on_finish: Any = None, keep: int = 20, max_waiting: int = 4) -> None:
        self.root = Path(root)  # made on the first job: an idle server writes nothing
        self.served_db = served_db
        self.analyzer = analyzer
        self.settings = settings
        self.keep, self.max_waiting = keep, max_waiting
        self._on_finish = on_finish
        self._jobs: dict[str, AuditJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")
        self._reload()

    def _reload(self) -> None:
        """Jobs finished before a restart come back; those cut off by it are failed."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.suffix == ".part" and folder.is_file():  # an upload cut off mid-way
                folder.unlink(missing_ok=True)
            if not (folder.is_dir() and JOB_ID.match(folder.name)):
                continue
            job = AuditJob.load(folder)
            if job is None:  # the server stopped while it ran
                job = AuditJob(folder.name, "unknown", folder, status="failed",
                               error="the server stopped before this audit finished",
                               finished=time.time())
            self._jobs[job.id] = job
        self._prune()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def get(self, job_id: str) -> AuditJob:
        if not JOB_ID.match(job_id):
            raise ApiError(404, "not_found", "no such audit job")
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, "not_found", "no such audit job")
        return job

    def submit(self, upload: Path | None, name: str) -> AuditJob:
        if upload is None and self.served_db is None:
            raise ApiError(422, "invalid_request",
                           "send a catalog file: this server has no catalog of its own")
        with self._lock:
            waiting = sum(j.status == "queued" for j in self._jobs.values())
            if waiting >= self.max_waiting:
                raise ApiError(503, "overloaded", "too many audits are waiting; retry later",
                               headers={"Retry-After": "10"})
            job_id = secrets.token_hex(16)
            folder = self.root / job_id
            folder.mkdir(parents=True)
            if upload is not None:
                upload = Path(shutil.move(str(upload), folder / f"upload{_suffix(name)}"))
            job = AuditJob(job_id, name if upload is not None else "served catalog", folder,
                           served=upload is None)
            self._jobs[job_id] = job
            self._prune()
        self._pool.submit(self._run, job, upload)
        return job

    # ------------------------------------------------------------------ the work
    def _run(self, job: AuditJob, upload: Path | None) -> None:
        from fashionlens.audit import audit_catalog
        from fashionlens.audit.report import write_html
        from fashionlens.catalog.store import CatalogStore

        job.status = job.stage = "running"
        try:
            db = self.served_db if upload is None else self._ingest(job, upload)
            job.stage = "auditing"
            store = CatalogStore(db, create=False)
            try:
                listings = store.count_items()
            finally:
                store.close()
            job.done, job.total = 0, listings
            findings = audit_catalog(db, analyzer=self.analyzer)
            job.done = listings
            job.findings = [f.to_json() for f in findings]
            store = CatalogStore(db, create=False)
            try:
                write_html(findings, job.folder / "report.html", store=store,
                           title=f"fashionlens audit: {job.source}")
            finally:
                store.close()
            (job.folder / "findings.json").write_text(
                json.dumps(job.findings, ensure_ascii=False), encoding="utf-8")
            job.status = job.stage = "done"
        except Exception as exc:  # one failed job must not take the worker down
            job.status = "failed"
            job.error = _describe(exc).replace(str(job.folder / "files"), job.source).replace(
                str(upload), job.source).replace(str(job.folder), job.source)
        finally:
            job.finished = time.time()
            with contextlib.suppress(OSError):  # the job stays readable in memory
                job.save()
            if self._on_finish:
                self._on_finish(job.status)

    def _ingest(self, job: AuditJob, upload: Path) -> Path:
        from fashionlens.catalog.ingest import ingest
        from fashionlens.catalog.upload import rows_from_upload
        from fashionlens.imaging import ImageLimits

        job.stage = "reading"
        s = self.settings
        rows = rows_from_upload(upload, job.folder / "files",
                                limits=ImageLimits(s.max_image_bytes, s.max_image_pixels),
                                allow_urls=s.allow_url_images)
        job.total = len(rows)
        job.stage = "ingesting"

        def progress(done: int, total: int | None) -> None:
            job.done = done

        db = job.folder / "catalog"
        report = ingest(rows, db, analyzer=self.analyzer, progress=progress)
        job.rejects = [{"row": r.line, "id": r.id, "reason": r.reason}
                       for r in report.rejected]
        if not (db / "catalog.sqlite").exists() or report.to_json()["rejected"] == len(rows):
            raise ValueError("no row of the catalog could be ingested; see rejects")
        return db

    def _prune(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.status in ("done", "failed")),
                          key=lambda j: j.created)
        for job in finished[:max(0, len(self._jobs) - self.keep)]:
            self._jobs.pop(job.id, None)
            shutil.rmtree(job.folder, ignore_errors=True)

    def item_thumb(self, job_id: str, item_id: str) -> bytes:
        from fashionlens.catalog.store import CatalogStore

        job = self.get(job_id)
        db = self.served_db if job.served else job.folder / "catalog"
        try:
            store = CatalogStore(db, create=False)
        except FileNotFoundError:
            raise ApiError(404, "not_found", "this job has no catalog") from None
        try:
            thumb = store.thumb(item_id)
        finally:
            store.close()
        if not thumb:
            raise ApiError(404, "not_found", f"no photo for {item_id!r} in this job")
        return thumb


def _suffix(name: str) -> str:
    suffix = Path(name or "").suffix.lower()
    return suffix if suffix in (".csv", ".jsonl", ".ndjson", ".json", ".zip") else ".bin"


def _describe(exc: Exception) -> str:
    from fashionlens.catalog.upload import UploadError

    if isinstance(exc, UploadError | ValueError | FileNotFoundError):
        return str(exc)
    return f"the audit failed ({type(exc).__name__})"


def _jobs(request: Request) -> AuditJobs:
    return request.app.state.audit_jobs


@router.post("/v1/audit", status_code=202)
async def start_audit(
    request: Request,
    catalog: Annotated[UploadFile | None, File(
        description="A catalog: CSV or JSONL (id,image,title,category,colour; photos by "
                    "URL where the server allows it) or a ZIP holding one catalog file and "
                    "the photos it names. Leave out to audit the served catalog.")] = None,
) -> dict:
    """Start an audit job; follow it at the returned ``url``."""
    jobs = _jobs(request)
    upload = None
    name = ""
    if catalog is not None and (catalog.filename or catalog.size):
        name = Path(catalog.filename or "catalog").name
        cap = request.app.state.settings.max_catalog_bytes
        jobs.root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(delete=False, dir=jobs.root, suffix=".part") as f:
            upload = Path(f.name)
            size = 0
            while chunk := await catalog.read(1024 * 1024):
                size += len(chunk)
                if size > cap:
                    f.close()
                    upload.unlink(missing_ok=True)
                    raise ApiError(413, "too_large_bytes",
                                   f"catalog is larger than the {cap / 1024 / 1024:.0f} MiB "
                                   "limit")
                f.write(chunk)
        if size == 0:
            upload.unlink(missing_ok=True)
            raise ApiError(400, "empty", "the catalog file is empty")
    job = jobs.submit(upload, name)
    return {"job": job.id, "status": job.status, "url": f"/v1/audit/{job.id}"}


@router.get("/v1/audit/{job_id}")
def get_audit(request: Request, job_id: str) -> dict:
    """Status, progress, findings (ranked) and rejected rows of an audit job."""
    return _jobs(request).get(job_id).to_json()


@router.get("/v1/audit/{job_id}/report.html", response_class=FileResponse)
def get_audit_report(request: Request, job_id: str) -> FileResponse:
    """The job's self-contained HTML report (thumbnails, stated vs seen, reasons)."""
    job = _jobs(request).get(job_id)
    path = job.folder / "report.html"
    if job.status != "done" or not path.exists():
        raise ApiError(409, "not_ready", f"the audit is {job.status}; the report comes when "
                                         "it is done")
    return FileResponse(path, media_type="text/html",
                        headers={"Content-Security-Policy": REPORT_CSP})


@router.get("/v1/audit/{job_id}/items/{item_id}/image", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def get_audit_item_thumb(request: Request, job_id: str, item_id: str) -> Response:
    """Thumbnail of a listing in an audited (uploaded) catalog."""
    return Response(_jobs(request).item_thumb(job_id, item_id), media_type="image/jpeg")
