"""Ingest throughput: listings per second through the whole pipeline (read, safe decode,
classify + hedge + embed, colours with the product-photo mask, thumbnail, SQLite commit per
listing, FAISS), on the first N development photos, into a fresh catalog; then a re-run
(everything unchanged: hashing only) and a rebuild of the index from the database.

Usage: python benchmarks/catalog_ingest.py [--n 300] → benchmarks/results/catalog_ingest.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_common import DATA, RESULTS  # noqa: E402

from fashionlens.catalog import CatalogStore, ingest  # noqa: E402
from fashionlens.catalog.index import build_index  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    with open(DATA / "labels.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] not in ("Not sure", "Other")]
    rows = rows[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        cat = Path(tmp) / "catalog.csv"
        with open(cat, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "image", "title", "category", "colour"])
            for i, r in enumerate(rows):
                w.writerow([f"sku-{i:05d}", str(DATA / r["image"]), r["label"], r["label"], ""])
        db = Path(tmp) / "db"
        t = time.perf_counter()
        first = ingest(cat, db)
        first_s = time.perf_counter() - t
        t = time.perf_counter()
        again = ingest(cat, db)
        again_s = time.perf_counter() - t
        with CatalogStore(db) as store:
            t = time.perf_counter()
            idx = build_index(store, "Flat")
            rebuild_s = time.perf_counter() - t
            size = sum(p.stat().st_size for p in db.iterdir())
    result = {
        "benchmark": "catalog ingest throughput",
        "command": f"python benchmarks/catalog_ingest.py --n {args.n}",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "threads": int(os.environ.get("FASHIONLENS_THREADS", "2")),
                    "note": "2 CPU cores shared with training runs"},
        "listings": args.n,
        "first_run": {"seconds": round(first_s, 2),
                      "listings_per_s": round(first.added / first_s, 2), **first.to_json()},
        "rerun_unchanged": {"seconds": round(again_s, 2),
                            "listings_per_s": round(args.n / again_s, 1), **again.to_json()},
        "rebuild_index_from_db": {"seconds": round(rebuild_s, 3), "vectors": idx.ntotal},
        "catalog_bytes_per_listing": round(size / max(1, args.n)),
    }
    (RESULTS / "catalog_ingest.json").write_text(json.dumps(result, indent=2) + "\n",
                                                 encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
