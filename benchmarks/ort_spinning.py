"""ONNX Runtime spin-waiting on vs off, side by side in one process: full photo analyses
(classifier + parser + colours, as ``POST /v1/analyze`` runs them) with N concurrent callers,
rounds interleaved (on, off, on, off, ...) so both see the same machine.

Spinning keeps idle intra-op threads busy-waiting for the next parallel section; with several
requests sharing 2 cores, those spinning threads take CPU from the requests that have work.

Usage: python benchmarks/ort_spinning.py [--clients 4] [--rounds 4] [--requests 32]
Writes benchmarks/results/ort_spinning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PHOTOS = sorted((REPO / "examples" / "photos").glob("*.jpg")) + sorted(
    (REPO / "examples" / "catalog" / "lookbook").glob("*.jpg"))


def _analyzer(spinning: bool):
    from fashionlens.analysis import Analyzer

    os.environ["FASHIONLENS_ORT_SPINNING"] = "1" if spinning else "0"  # read at session creation
    return Analyzer.from_settings()


def _round(analyzer, data: list[bytes], clients: int, requests: int) -> dict:
    jobs = [data[i % len(data)] for i in range(requests)]
    latencies: list[float] = []

    def one(photo: bytes) -> None:
        t = time.perf_counter()
        analyzer.analyze(photo)
        latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, jobs))
    wall = time.perf_counter() - start
    return {"per_s": requests / wall, "p50_ms": 1000 * statistics.median(latencies)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--out", default=str(RESULTS / "ort_spinning.json"))
    args = ap.parse_args()
    data = [p.read_bytes() for p in PHOTOS]
    engines = {"spinning on": _analyzer(True), "spinning off": _analyzer(False)}
    for a in engines.values():  # warm-up
        a.analyze(data[0])
    rounds: dict[str, list[dict]] = {k: [] for k in engines}
    load_start = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, a in engines.items():
            rounds[name].append(_round(a, data, args.clients, args.requests))
    summary = {name: {"analyses_per_s_median": round(statistics.median(r["per_s"] for r in rs), 2),
                      "analyses_per_s_rounds": [round(r["per_s"], 2) for r in rs],
                      "p50_ms_median": round(statistics.median(r["p50_ms"] for r in rs), 1)}
               for name, rs in rounds.items()}
    on, off = (summary[k]["analyses_per_s_median"] for k in ("spinning on", "spinning off"))
    doc = {"benchmark": "ONNX Runtime spin-waiting, full photo analysis, concurrent callers",
           "command": "python benchmarks/ort_spinning.py", "clients": args.clients,
           "requests_per_round": args.requests, "rounds": args.rounds,
           "photos": len(data), "results": summary, "off_vs_on": round(off / on, 3),
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                       "load_average_1min_at_start": round(load_start, 2),
                       "load_average_1min_at_end": round(os.getloadavg()[0], 2)}}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    for name, s in summary.items():
        print(f"{name:13s} {s['analyses_per_s_median']:6.2f} analyses/s (rounds "
              f"{s['analyses_per_s_rounds']}), p50 {s['p50_ms_median']} ms")
    print(f"off / on = {doc['off_vs_on']}")


if __name__ == "__main__":
    main()
