"""Drop the exporter's stack traces (absolute source paths) from shipped bundles' ONNX files.

Bundles exported before ``export_graph`` stripped them carry, per node, the Python stack of
the machine that exported them. This removes them in place, checks that ONNX Runtime gives
bit-identical outputs before and after on random inputs, and updates the sha256 that the
bundle's manifest records for each file.

Usage:
    python tools/strip_onnx_stack_traces.py models/garment-classifier models/garment-parser
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from fashionlens.training.export import strip_stack_traces
from fashionlens.training.provenance import file_sha256


def _outputs(path: Path, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def strip_bundle(bundle: Path) -> dict[str, int]:
    """Strip every ONNX file the manifest lists; returns entries dropped per variant."""
    manifest_path = bundle / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    size = int(manifest["preprocessing"]["size"])
    x = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
    dropped = {}
    for variant, name in manifest["files"].items():
        path = bundle / name
        with tempfile.TemporaryDirectory() as tmp:
            before = Path(tmp) / name
            shutil.copy2(path, before)
            dropped[variant] = strip_stack_traces(path)
            same = all(np.array_equal(a, b) for a, b in
                       zip(_outputs(before, x), _outputs(path, x), strict=True))
            if not same:
                shutil.copy2(before, path)
                raise SystemExit(f"{path}: outputs changed; left as it was")
        hashes = manifest.get("training", {}).get("onnx_sha256", {})
        if variant in hashes:
            hashes[variant] = file_sha256(path)
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    return dropped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundles", type=Path, nargs="+")
    args = ap.parse_args(argv)
    for bundle in args.bundles:
        print(f"{bundle}: stack-trace entries dropped {strip_bundle(bundle)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
