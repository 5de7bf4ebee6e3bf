"""REST API throughput of ``POST /v1/analyze`` against the same analysis in-process.

Side by side in one run, on the same real photos (examples/photos and the lookbook of
examples/catalog) and the same settings (``FASHIONLENS_*``):

- ``http``: N concurrent clients (one keep-alive httpx connection each, closed loop) against
  a real uvicorn server on loopback (a subprocess of this script, 1 worker, the app from
  ``create_app``), multipart upload of the photo, JSON back;
- ``in-process``: :meth:`fashionlens.analysis.Analyzer.analyze` on the same bytes from a
  thread pool of the same N threads.

HTTP requests/s is reported as a % of in-process (the cost of the HTTP layer: parsing the
upload, the event loop, JSON, the socket). The levels alternate per concurrency so a change
in background load hits both. Then **overload**: 2x the server's ``max_concurrent`` clients
(each pausing ``--overload-pause`` s after a 503 before retrying, as a polite client would);
reported are the counts by status code, the 200 goodput, the latency of the 503s (must be
fast) and any other error (there must be none). Usage::

    python benchmarks/api_throughput.py [--clients 1,2,4] [--requests 48] [--overload-s 20]

Writes benchmarks/results/api_throughput.json and .md and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTO_DIRS = (REPO / "examples" / "photos", REPO / "examples" / "catalog" / "lookbook")
RESULTS = REPO / "benchmarks" / "results"
BOUNDARY = "fashionlens-benchmark-boundary"


def photo_set() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for d in PHOTO_DIRS for p in sorted(d.glob("*.jpg"))]


def multipart(name: str, data: bytes) -> bytes:
    """A ``multipart/form-data`` body with the one ``image`` field (built once per photo)."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; "
            f"filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def _stats(seconds: list[float]) -> dict:
    if not seconds:
        return {"n": 0}
    ms = sorted(1000 * s for s in seconds)

    def pct(q: float) -> float:
        return round(ms[min(len(ms) - 1, int(q * len(ms)))], 2)

    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2), "p90_ms": pct(0.9),
            "p99_ms": pct(0.99), "max_ms": round(ms[-1], 2),
            "mean_ms": round(statistics.fmean(ms), 2)}


# ----------------------------------------------------------------------------------- server

def serve(port: int, data_dir: str, max_concurrent: int | None) -> None:
    """The server side (run in a subprocess): the app of ``create_app`` under uvicorn."""
    import uvicorn

    from fashionlens.api import create_app
    from fashionlens.core.settings import get_settings

    kwargs = {"max_concurrent": max_concurrent}
    import inspect

    if "data_dir" in inspect.signature(create_app).parameters:
        kwargs["data_dir"] = data_dir
    app = create_app(get_settings(), **kwargs)
    print(f"capacity={app.state.capacity.limit}", flush=True)
    timed = ServerTiming(app, Path(data_dir, SERVER_TIMINGS))
    uvicorn.run(timed, host="127.0.0.1", port=port, workers=1, log_level="warning",
                access_log=False, timeout_keep_alive=30)


SERVER_TIMINGS = "server-timings.json"


class ServerTiming:
    """ASGI wrapper: (status, seconds from the request reaching the app to the response
    start) for every ``POST /v1/analyze``, to tell server time from queueing and scheduling
    delay outside the event loop. Written to ``out`` when the server shuts down."""

    def __init__(self, app, out: Path) -> None:
        self.app, self.out = app, out
        self.records: list[tuple[int, float]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            async def dumping_send(message) -> None:
                if message["type"] == "lifespan.shutdown.complete":
                    self.out.write_text(json.dumps(self.records), encoding="utf-8")
                await send(message)

            await self.app(scope, receive, dumping_send)
            return
        if scope["type"] != "http" or scope["path"] != "/v1/analyze":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message) -> None:
            if message["type"] == "http.response.start":
                self.records.append((message["status"], time.perf_counter() - start))
            await send(message)

        await self.app(scope, receive, timed_send)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``serve`` in a subprocess; waits for ``/healthz`` and reads the capacity it chose."""

    def __init__(self, max_concurrent: int | None) -> None:
        import httpx

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp = tempfile.TemporaryDirectory(prefix="fashionlens-bench-")
        cmd = [sys.executable, __file__, "--serve", str(self.port), "--data-dir", self._tmp.name]
        if max_concurrent:
            cmd += ["--max-concurrent", str(max_concurrent)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("capacity="):
            self.close()
            raise SystemExit(f"server did not start: {line!r}")
        self.capacity = int(line.split("=")[1])
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise SystemExit("server did not answer /healthz")
            time.sleep(0.2)

    def server_timings(self) -> list[tuple[int, float]]:
        """Stop the server and return its own (status, seconds) records."""
        self.close(cleanup=False)
        path = Path(self._tmp.name, SERVER_TIMINGS)
        records = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        self._tmp.cleanup()
        return records

    def close(self, cleanup: bool = True) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if cleanup:
            self._tmp.cleanup()


# ---------------------------------------------------------------------------------- drivers

def closed_loop(workers: int, n_requests: int, make_worker) -> tuple[float, list]:
    """``n_requests`` calls shared by ``workers`` threads; (wall seconds, per-call records)."""
    lock = threading.Lock()
    next_i = iter(range(n_requests))
    records: list = []

    def run() -> None:
        call = make_worker()
        while True:
            with lock:
                i = next(next_i, None)
            if i is None:
                return
            records.append(call(i))

    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(run) for _ in range(workers)]:
            f.result()
    return time.perf_counter() - t, records


def in_process(analyzer, photos, workers: int, n_requests: int) -> dict:
    def make_worker():
        def call(i: int) -> float:
            t = time.perf_counter()
            analyzer.analyze(photos[i % len(photos)][1])
            return time.perf_counter() - t
        return call

    wall, lat = closed_loop(workers, n_requests, make_worker)
    return {"requests": n_requests, "wall_s": round(wall, 2),
            "requests_per_s": round(n_requests / wall, 2), "latency": _stats(lat)}


def _http_worker(url: str, bodies: list[bytes]):
    import httpx

    client = httpx.Client(timeout=120, headers={
        "content-type": f"multipart/form-data; boundary={BOUNDARY}"})

    def call(i: int) -> tuple[int, float, str | None]:
        t = time.perf_counter()
        try:
            r = client.post(url + "/v1/analyze", content=bodies[i % len(bodies)])
        except httpx.HTTPError as exc:
            return -1, time.perf_counter() - t, type(exc).__name__
        dt = time.perf_counter() - t
        code = None
        if r.status_code != 200:
            try:
                code = r.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "not-the-error-shape"
        elif "label" not in r.json():
            code = "200-without-label"
        return r.status_code, dt, code

    return call


def http(url: str, bodies: list[bytes], workers: int, n_requests: int) -> dict:
    wall, rec = closed_loop(workers, n_requests, lambda: _http_worker(url, bodies))
    ok = [dt for status, dt, code in rec if status == 200 and code is None]
    other = Counter(f"{status} {code}" for status, _, code in rec
                    if status != 200 or code is not None)
    return {"requests": n_requests, "wall_s": round(wall, 2),
            "requests_per_s": round(len(ok) / wall, 2), "latency": _stats(ok),
            "errors": dict(other)}


def overload(url: str, bodies: list[bytes], clients: int, seconds: float,
             pause: float) -> dict:
    """``clients`` closed-loop clients for ``seconds``; a 503 is followed by ``pause`` s."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    rec: list[tuple[int, float, str | None]] = []

    def run(k: int) -> None:
        call, i = _http_worker(url, bodies), k
        while time.monotonic() < stop:
            status, dt, code = call(i)
            with lock:
                rec.append((status, dt, code))
            i += clients
            if status == 503:
                time.sleep(pause)

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(run, k) for k in range(clients)]:
            f.result()
    wall = time.perf_counter() - t
    by_status = Counter(str(s) for s, _, _ in rec)
    codes_503 = Counter(code for s, _, code in rec if s == 503)
    others = Counter(f"{s} {code}" for s, _, code in rec
                     if s not in (200, 503) or (s == 200 and code is not None))
    ok = [dt for s, dt, code in rec if s == 200 and code is None]
    return {
        "clients": clients, "seconds": round(wall, 2), "pause_after_503_s": pause,
        "requests": len(rec), "by_status": dict(sorted(by_status.items())),
        "codes_503": dict(codes_503), "other_errors": dict(others),
        "ok_requests_per_s": round(len(ok) / wall, 2),
        "latency_200": _stats(ok), "latency_503": _stats([dt for s, dt, _ in rec if s == 503]),
    }


# ------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", default="1,2,4", help="concurrency levels, comma-separated "
                    "(default 1,2,4; 4 is the default capacity on 2 threads)")
    ap.add_argument("--requests", type=int, default=48, help="requests per level and mode")
    ap.add_argument("--max-concurrent", type=int, default=0,
                    help="server capacity (default: the app's, FASHIONLENS_MAX_CONCURRENT)")
    ap.add_argument("--overload-s", type=float, default=20.0)
    ap.add_argument("--overload-pause", type=float, default=0.05,
                    help="seconds an overload client waits after a 503")
    ap.add_argument("--out", default=str(RESULTS / "api_throughput.json"))
    ap.add_argument("--note", default="", help="conditions worth recording with the results "
                    "(e.g. other jobs on the machine)")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the server subprocess
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.data_dir, args.max_concurrent or None)
        return

    import onnxruntime

    from fashionlens.analysis import Analyzer
    from fashionlens.core.settings import get_settings

    load_start = os.getloadavg()[0]
    photos = photo_set()
    bodies = [multipart(n, d) for n, d in photos]
    settings = get_settings()
    analyzer = Analyzer.from_settings(settings)
    levels = [int(c) for c in args.clients.split(",")]
    server = Server(args.max_concurrent or None)
    try:
        if max(levels) > server.capacity:
            raise SystemExit(f"--clients above the server capacity ({server.capacity}) "
                             "measure refusals, not throughput: see the overload phase")
        warm = len(photos)  # every photo once through both paths before timing
        in_process(analyzer, photos, 2, warm)
        http(server.url, bodies, 2, warm)
        rows = []
        for n in levels:
            ip = in_process(analyzer, photos, n, args.requests)
            h = http(server.url, bodies, n, args.requests)
            rows.append({"clients": n, "in_process": ip, "http": h,
                         "http_pct_of_in_process": round(
                             100 * h["requests_per_s"] / ip["requests_per_s"], 1)})
            print(f"clients={n}: in-process {ip['requests_per_s']} req/s, http "
                  f"{h['requests_per_s']} req/s ({rows[-1]['http_pct_of_in_process']} %)",
                  flush=True)
        over = overload(server.url, bodies, 2 * server.capacity, args.overload_s,
                        args.overload_pause)
        before = warm + len(levels) * args.requests  # analyze requests before the overload
        served = server.server_timings()[before:]
        over["server_side_latency_503"] = _stats([dt for st, dt in served if st == 503])
        over["server_side_latency_200"] = _stats([dt for st, dt in served if st == 200])
    finally:
        server.close()
    load_end = os.getloadavg()[0]

    at_capacity = next(r for r in rows if r["clients"] == max(levels))
    result = {
        "benchmark": "POST /v1/analyze over HTTP (uvicorn, loopback) vs Analyzer.analyze "
                     "in-process, same photos, same concurrency",
        "command": f"python benchmarks/api_throughput.py --clients {args.clients} "
                   f"--requests {args.requests} --overload-s {args.overload_s:g}",
        "photos": len(photos),
        "photo_source": "examples/photos + examples/catalog/lookbook (JPEG, 180-320 x 240-360)",
        "server": {"workers": 1, "capacity_max_concurrent": server.capacity,
                   "onnx_threads": settings.threads,
                   "parser": analyzer.parser is not None},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "onnxruntime": onnxruntime.__version__,
                    "load_average_1min_at_start": round(load_start, 2),
                    "load_average_1min_at_end": round(load_end, 2)},
        "results": rows,
        "http_pct_of_in_process_at_capacity": at_capacity["http_pct_of_in_process"],
        "acceptance_http_at_least_80_pct": at_capacity["http_pct_of_in_process"] >= 80,
        "overload": over,
        "acceptance_overload": (over["latency_503"].get("p99_ms", 0) < 50
                                and not over["other_errors"]),
        "note": args.note,
        "date": time.strftime("%Y-%m-%d"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md = markdown(result)
    out.with_suffix(".md").write_text(md, encoding="utf-8")
    print(md)
    print(f"→ {out} and {out.with_suffix('.md').name}")


def markdown(r: dict) -> str:
    m, s, o = r["machine"], r["server"], r["overload"]
    lines = [
        "# POST /v1/analyze: HTTP vs in-process",
        "",
        f"`{r['command']}` — {r['date']}, {m['cpu_count']} CPUs, Python {m['python']}, "
        f"ONNX Runtime {m['onnxruntime']}; server: uvicorn, {s['workers']} worker, "
        f"capacity {s['capacity_max_concurrent']}, {s['onnx_threads']} ONNX threads; "
        f"{r['photos']} photos; load average {m['load_average_1min_at_start']} at start, "
        f"{m['load_average_1min_at_end']} at end (the benchmark's own threads count too).",
        *(["", f"Note: {r['note']}"] if r.get("note") else []),
        "",
        "| clients | in-process req/s | HTTP req/s | HTTP / in-process | HTTP p50 ms | "
        "HTTP p99 ms | in-process p50 ms | in-process p99 ms | HTTP errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in r["results"]:
        ip, h = row["in_process"], row["http"]
        lines.append(
            f"| {row['clients']} | {ip['requests_per_s']} | {h['requests_per_s']} | "
            f"{row['http_pct_of_in_process']} % | {h['latency']['p50_ms']} | "
            f"{h['latency']['p99_ms']} | {ip['latency']['p50_ms']} | {ip['latency']['p99_ms']} | "
            f"{h['errors'] or 'none'} |")
    l503, l200 = o["latency_503"], o["latency_200"]
    lines += [
        "",
        f"Acceptance (HTTP ≥ 80 % of in-process at capacity): "
        f"{r['http_pct_of_in_process_at_capacity']} % — "
        f"{'met' if r['acceptance_http_at_least_80_pct'] else 'NOT met'}.",
        "",
        f"## Overload: {o['clients']} clients against capacity "
        f"{s['capacity_max_concurrent']} for {o['seconds']} s "
        f"(a client waits {o['pause_after_503_s']} s after a 503)",
        "",
        "| status | count | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for status, count in o["by_status"].items():
        lat = {"200": l200, "503": l503}.get(status, {})
        lines.append(f"| {status} | {count} | {lat.get('p50_ms', '')} | {lat.get('p99_ms', '')} "
                     f"| {lat.get('max_ms', '')} |")
    s503 = o.get("server_side_latency_503", {})
    if s503.get("n"):
        lines += ["", f"Inside the server (request reaching the app → response start), the "
                      f"503s took p50 {s503['p50_ms']} ms, p99 {s503['p99_ms']} ms; the rest "
                      "of the client-side time is queueing and scheduling outside the app."]
    lines += [
        "",
        f"Goodput under overload: {o['ok_requests_per_s']} req/s of 200s. 503 codes: "
        f"{o['codes_503'] or 'none'}. Other errors: {o['other_errors'] or 'none'}. "
        f"Acceptance (503 p99 < 50 ms, no other errors): "
        f"{'met' if r['acceptance_overload'] else 'NOT met'}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
