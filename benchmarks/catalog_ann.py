"""ANN query latency and recall@10 at 1M x 128-d against scikit-learn brute force, same run.

The vectors are unit-length, clustered like image embeddings of a catalog: 2,000 cluster
centres (a garment kind x a shade x a photo style), each vector a centre plus Gaussian noise,
normalised (``--source synthetic``, the default). ``--source embeddings`` uses instead the
PCA-128 projection of real classifier embeddings of the development photos (from
``catalog_retrieval.py``'s cache), replicated with noise up to the requested size.

Both indexes answer single queries (batch size 1, the latency a search request sees), on the
same threads. Usage:

    python benchmarks/catalog_ann.py [--n 1000000] [--queries 1000] [--threads 2]

Writes benchmarks/results/catalog_ann.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "catalog_ann.json"


def clustered(n: int, dim: int, *, clusters: int = 2000, noise: float = 0.35,
              seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    step = 100_000
    for i in range(0, n, step):
        m = min(step, n - i)
        c = rng.integers(0, clusters, m)
        x = centres[c] + rng.normal(scale=noise / np.sqrt(dim), size=(m, dim)).astype(np.float32)
        out[i:i + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def from_embeddings(n: int, dim: int, cache: Path, seed: int = 0) -> np.ndarray:
    from sklearn.decomposition import PCA

    emb = np.load(cache)["embeddings"].astype(np.float32)
    base = PCA(dim, random_state=seed).fit_transform(emb).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(base), n)
    x = base[idx] + rng.normal(scale=0.25 / np.sqrt(dim), size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def percentiles(t: list[float]) -> dict[str, float]:
    a = np.array(t) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 4),
            "p90_ms": round(float(np.percentile(a, 90)), 4),
            "p99_ms": round(float(np.percentile(a, 99)), 4),
            "mean_ms": round(float(a.mean()), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--source", choices=["synthetic", "embeddings"], default="synthetic")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "fashionlens-bench"
                                            / "embeddings.npz"),
                    help="embeddings written by catalog_retrieval.py (--source embeddings)")
    ap.add_argument("--factory", default="HNSW32")
    ap.add_argument("--ef-search", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import faiss
    from sklearn.neighbors import NearestNeighbors

    faiss.omp_set_num_threads(args.threads)
    t0 = time.perf_counter()
    data = clustered(args.n + args.queries, args.dim) if args.source == "synthetic" \
        else from_embeddings(args.n + args.queries, args.dim, Path(args.cache))
    base, queries = data[:args.n], data[args.n:]
    print(f"data {base.shape} in {time.perf_counter() - t0:.1f}s", flush=True)

    # scikit-learn brute force (exact), the reference
    nn = NearestNeighbors(n_neighbors=10, algorithm="brute", metric="euclidean",
                          n_jobs=args.threads).fit(base)
    truth = nn.kneighbors(queries, return_distance=False)  # batched: ground truth only
    brute_times = []
    for q in queries[: min(100, args.queries)]:
        t = time.perf_counter()
        nn.kneighbors(q[None, :], return_distance=False)
        brute_times.append(time.perf_counter() - t)
    brute = percentiles(brute_times)
    print("sklearn brute", brute, flush=True)

    # FAISS exact (IndexFlatIP), for reference
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(base)
    flat_times = []
    for q in queries[: min(100, args.queries)]:
        t = time.perf_counter()
        flat.search(q[None, :], 10)
        flat_times.append(time.perf_counter() - t)
    faiss_flat = percentiles(flat_times)
    del flat

    t = time.perf_counter()
    index = faiss.index_factory(args.dim, args.factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(base[:200_000])
    index.add(base)
    build_s = time.perf_counter() - t
    print(f"{args.factory} built in {build_s:.1f}s", flush=True)
    ps = faiss.ParameterSpace()
    rows = []
    for ef in args.ef_search:
        ps.set_index_parameter(index, "efSearch" if "HNSW" in args.factory else "nprobe", ef)
        found, times = [], []
        for q in queries:
            t = time.perf_counter()
            _, ids = index.search(q[None, :], 10)
            times.append(time.perf_counter() - t)
            found.append(ids[0])
        found = np.array(found)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth,
                                                                          strict=True)]))
        lat = percentiles(times)
        row = {"ef_search": ef, "recall_at_10": round(recall, 4), **lat,
               "speedup_vs_sklearn_brute_p50": round(brute["p50_ms"] / lat["p50_ms"], 1)}
        rows.append(row)
        print(row, flush=True)
    ok = [r for r in rows if r["recall_at_10"] >= 0.95 and r["p50_ms"] <= 1.0]
    result = {
        "benchmark": "ANN single-query latency and recall@10",
        "command": "python benchmarks/catalog_ann.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in
            {"n": args.n, "queries": args.queries, "threads": args.threads,
             "source": args.source}.items()),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "threads": args.threads, "note": "2 CPU cores shared with training runs"},
        "data": {"n": args.n, "dim": args.dim, "source": args.source,
                 "queries": args.queries, "metric": "inner product on unit vectors"},
        "sklearn_brute": brute,
        "faiss_flat": faiss_flat,
        "index": {"factory": args.factory, "build_s": round(build_s, 1), "sweep": rows},
        "acceptance": {"target": "p50 <= 1 ms at recall@10 >= 0.95",
                       "met": bool(ok), "best": ok[0] if ok else None},
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["acceptance"], indent=2))


if __name__ == "__main__":
    main()
