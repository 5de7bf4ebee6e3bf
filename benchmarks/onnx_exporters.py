"""The two torch ONNX exporters side by side: the same weights, two graphs, one run.

For each shipped bundle with its ``checkpoint.pt`` (written by the training command; not in
git), exports the network with the TorchScript-based exporter (``dynamo=False``, what the
project used until 2026-11) and with the torch.export-based one (``dynamo=True``, used now),
then times both graphs under ONNX Runtime, interleaved, on 1 and 2 threads: the classifier on
batches of 32 at 224 px, the parser on single 448 px photos (the serving shapes). Inputs are
random tensors: the graphs' speed does not depend on pixel values. Also reports the largest
output difference between the two graphs.

Usage:
    python benchmarks/onnx_exporters.py [--repeat 8]
Writes benchmarks/results/onnx_exporters.json.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

REPO = Path(__file__).resolve().parents[1]


def networks() -> dict:
    from fashionlens.models.classifier import GarmentNet
    from fashionlens.training.parser import (
        ParserTrainConfig,
        create_parser_net,
        static_same_padding,
    )

    nets = {}
    ckpt = REPO / "models" / "garment-classifier" / "checkpoint.pt"
    if ckpt.is_file():
        saved = torch.load(ckpt, map_location="cpu", weights_only=True)
        net = GarmentNet(len(saved["classes"]), saved["config"]["backbone"], pretrained=False)
        net.load_state_dict(saved["state_dict"])
        nets["garment-classifier"] = (net.eval(), 224, 32, ["logits", "embedding"])
    ckpt = REPO / "models" / "garment-parser" / "checkpoint.pt"
    if ckpt.is_file():
        saved = torch.load(ckpt, map_location="cpu", weights_only=True)
        cfg = ParserTrainConfig(data="", out="", **{
            k: v for k, v in saved["config"].items()
            if k in ("arch", "backbone", "decoder_channels", "image_size")})
        net = create_parser_net(len(saved["classes"]), cfg.net, pretrained=False)
        net.load_state_dict(saved["state_dict"])
        nets["garment-parser"] = (static_same_padding(net.eval(), cfg.image_size),
                                  cfg.image_size, 1, ["logits"])
    return nets


def export(net, path: Path, size: int, outputs: list[str], dynamo: bool) -> None:
    example = torch.zeros(2, 3, size, size)
    kw = (dict(dynamic_shapes=({0: torch.export.Dim("batch")},), external_data=False,
               opset_version=18) if dynamo else
          dict(dynamic_axes={"image": {0: "batch"}, **{o: {0: "batch"} for o in outputs}},
               opset_version=17))
    with contextlib.redirect_stdout(io.StringIO()):
        torch.onnx.export(net, (example,), str(path), input_names=["image"],
                          output_names=outputs, dynamo=dynamo, **kw)


def session(path: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--out", type=Path,
                    default=REPO / "benchmarks" / "results" / "onnx_exporters.json")
    args = ap.parse_args(argv)
    result = {"benchmark": "TorchScript vs torch.export ONNX exporters, same weights",
              "command": "python benchmarks/onnx_exporters.py", "torch": torch.__version__,
              "onnxruntime": ort.__version__, "python": platform.python_version(),
              "machine": platform.machine(), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (net, size, batch, outputs) in networks().items():
            x = np.random.RandomState(0).randn(batch, 3, size, size).astype(np.float32)
            paths = {}
            for exporter, dynamo in (("torchscript", False), ("torch.export", True)):
                paths[exporter] = Path(tmp) / f"{name}-{exporter}.onnx"
                export(net, paths[exporter], size, outputs, dynamo)
            rows = {}
            for threads in (1, 2):
                sessions = {k: session(p, threads) for k, p in paths.items()}
                outs = {k: s.run(outputs[:1], {"image": x})[0] for k, s in sessions.items()}
                times = {k: [] for k in sessions}
                for _ in range(args.repeat):
                    for k, s in sessions.items():
                        t = time.perf_counter()
                        s.run(outputs, {"image": x})
                        times[k].append(time.perf_counter() - t)
                med = {k: float(np.median(v)) for k, v in times.items()}
                rows[f"{threads} threads"] = {
                    **{k: {"median_ms": round(1000 * v, 1), "images_per_s": round(batch / v, 1)}
                       for k, v in med.items()},
                    "speed_up": round(med["torchscript"] / med["torch.export"], 3),
                }
                print(name, threads, "threads", rows[f"{threads} threads"], flush=True)
            result["models"][name] = {
                "batch": batch, "size": size, "runs_each": args.repeat, "timings": rows,
                "max_abs_output_difference": float(np.abs(outs["torchscript"]
                                                          - outs["torch.export"]).max()),
                "bytes": {k: p.stat().st_size for k, p in paths.items()},
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"→ {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
