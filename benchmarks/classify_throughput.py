"""End-to-end classify throughput (decode → label + embedding) on 2 CPU threads.

Compares, in one run and on the same photos, the shipped ONNX Runtime FP32 and INT8 variants
with PyTorch eager running the same weights (the bundle's checkpoint.pt), and reports the
accuracy of each. Usage:

    python benchmarks/classify_throughput.py [--data ../shared/data/clothing] [--repeat 2]

Writes benchmarks/results/classify_throughput.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "models" / "garment-classifier"


def test_photos(data: Path) -> tuple[list[str], list[str]]:
    """The bundle's own test split (never trained on), rebuilt from the manifest's seed."""
    from fashionlens.datasets import read_dataset, stratified_split
    from fashionlens.inference import ModelBundle

    m = ModelBundle.load(BUNDLE).manifest
    cfg = m["training"]["config"]
    ds = read_dataset(data)
    split = stratified_split(ds.labels(), fractions=tuple(cfg["split"]), seed=cfg["seed"])
    return [str(ds.items[i].path) for i in split.test], [ds.items[i].label for i in split.test]


def run_onnx(variant: str, photos: list[str], threads: int) -> tuple[float, list[str]]:
    from fashionlens.inference import GarmentClassifier

    clf = GarmentClassifier(BUNDLE, variant=variant, threads=threads)
    list(clf.classify(photos[:64], with_embedding=True))  # warm-up
    t = time.perf_counter()
    labels = [r.label for r in clf.classify(photos, with_embedding=True)]
    return len(photos) / (time.perf_counter() - t), labels


def run_torch(photos: list[str], threads: int) -> tuple[float, list[str]]:
    import torch

    from fashionlens.imaging import preprocess
    from fashionlens.inference import ModelBundle
    from fashionlens.models.classifier import GarmentNet

    torch.set_num_threads(threads)
    bundle = ModelBundle.load(BUNDLE)
    ckpt = torch.load(BUNDLE / "checkpoint.pt", map_location="cpu", weights_only=False)
    model = GarmentNet(len(bundle.classes), ckpt["config"]["backbone"], pretrained=False)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    pre = bundle.preprocessing

    def batches():
        with ThreadPoolExecutor(threads) as pool:
            for i in range(0, len(photos), 32):
                yield np.stack(list(pool.map(lambda p: preprocess(p, pre), photos[i:i + 32])))

    def classify(paths_iter):
        out = []
        with torch.inference_mode():
            for x in paths_iter:
                logits, _emb = model(torch.from_numpy(x))
                out += [bundle.classes[i] for i in logits.argmax(1).tolist()]
        return out

    classify(iter([next(batches())]))  # warm-up
    t = time.perf_counter()
    labels = classify(batches())
    return len(photos) / (time.perf_counter() - t), labels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "clothing"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="photos list repeated this many times")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" /
                                         "classify_throughput.json"))
    args = ap.parse_args()
    photos, truth = test_photos(Path(args.data))
    photos, truth = photos * args.repeat, truth * args.repeat
    rows = {}
    from fashionlens.inference import ModelBundle

    variants = list(ModelBundle.load(BUNDLE).manifest["files"])
    for name in variants:
        ips, labels = run_onnx(name, photos, args.threads)
        rows[f"onnxruntime-{name}"] = (ips, labels)
    if not (BUNDLE / "checkpoint.pt").exists():
        raise SystemExit("PyTorch eager needs the bundle's checkpoint.pt, which the training "
                         "command writes (it is not kept in git): train first")
    rows["pytorch-eager-fp32"] = run_torch(photos, args.threads)
    base = rows["pytorch-eager-fp32"][0]
    result = {
        "what": "end-to-end classify (decode + preprocess + logits + embedding), batch 32",
        "photos": len(photos), "threads": args.threads, "cpu": platform.processor() or
        platform.machine(), "cpu_count": os.cpu_count(),
        "default_variant": ModelBundle.load(BUNDLE).manifest["default_variant"],
        "engines": {
            name: {"images_per_s": round(ips, 1), "speedup_vs_torch": round(ips / base, 2),
                   "top1": round(float(np.mean([a == b for a, b in zip(labels, truth,
                                                                          strict=True)])), 4)}
            for name, (ips, labels) in rows.items()
        },
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'engine':<24}{'img/s':>8}{'× torch':>9}{'top-1':>8}")
    for name, r in result["engines"].items():
        print(f"{name:<24}{r['images_per_s']:>8}{r['speedup_vs_torch']:>9}{r['top1']:>8}")


if __name__ == "__main__":
    main()
