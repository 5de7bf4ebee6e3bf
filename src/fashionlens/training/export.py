"""ONNX export of the classifier, checked against torch, and the optional INT8 variant."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

INPUT_NAME = "image"
OUTPUT_NAMES = ("logits", "embedding")


def export_graph(model: torch.nn.Module, path: Path, image_size: int, input_name: str,
                 output_names: tuple[str, ...] | list[str], *, opset: int = 18) -> None:
    """Write ``model`` as one self-contained ONNX file with a dynamic batch axis.

    Uses the torch.export-based exporter (the TorchScript one is deprecated in torch); the
    weights are kept inside the file, because a bundle is a folder of single-file models.
    """
    model = model.eval().to("cpu").to(memory_format=torch.contiguous_format)
    example = torch.zeros(2, 3, image_size, image_size)  # batch 2: a batch of 1 specialises
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates its steps
        torch.onnx.export(
            model, (example,), str(path), input_names=[input_name],
            output_names=list(output_names), dynamic_shapes=({0: torch.export.Dim("batch")},),
            opset_version=opset, dynamo=True, external_data=False,
        )
    strip_stack_traces(path)


STACK_TRACE_KEY = "pkg.torch.onnx.stack_trace"


def strip_stack_traces(path: Path) -> int:
    """Drop the exporter's per-node Python stack traces from an ONNX file, in place.

    They name the source files of the machine that exported the model (absolute paths into
    its checkout and virtual environment); ONNX Runtime never reads them. The graph, the
    weights and the other metadata stay as they are. Returns how many entries were dropped.
    """
    import onnx

    model = onnx.load(str(path))
    dropped = 0
    for graph_nodes in [model.graph.node, *(f.node for f in model.functions)]:
        for node in graph_nodes:
            keep = [(p.key, p.value) for p in node.metadata_props if p.key != STACK_TRACE_KEY]
            dropped += len(node.metadata_props) - len(keep)
            if len(keep) != len(node.metadata_props):
                del node.metadata_props[:]
                for key, value in keep:
                    node.metadata_props.add(key=key, value=value)
    if dropped:
        onnx.save(model, str(path))
    return dropped


def export_onnx(model: torch.nn.Module, path: Path, image_size: int) -> None:
    """The classifier (returning logits and embedding) as ONNX."""
    export_graph(model, path, image_size, INPUT_NAME, OUTPUT_NAMES)


def parity_check(model: torch.nn.Module, onnx_path: Path, batch: np.ndarray) -> dict:
    """Largest absolute differences between torch and ONNX Runtime outputs on ``batch``."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        t_logits, t_emb = model.eval()(torch.from_numpy(batch))
    o_logits, o_emb = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: batch})
    return {
        "photos": int(len(batch)),
        "max_abs_diff_logits": float(np.abs(t_logits.numpy() - o_logits).max()),
        "max_abs_diff_embedding": float(np.abs(t_emb.numpy() - o_emb).max()),
        "argmax_agreement": float((t_logits.numpy().argmax(1) == o_logits.argmax(1)).mean()),
    }


class _Calibration:
    """ONNX Runtime calibration reader over preprocessed photos."""

    def __init__(self, arrays: np.ndarray, batch: int = 16):
        # Equal-sized batches only: the percentile collector stacks them.
        full = len(arrays) - len(arrays) % batch or len(arrays)
        self._batches = iter([arrays[i:i + batch] for i in range(0, full, batch)])

    def get_next(self):
        b = next(self._batches, None)
        return None if b is None else {INPUT_NAME: b}


# Which layers an INT8 variant may keep in fp32, from none to the ones that suffer most from
# 8-bit rounding in EfficientNet-Lite: the stem convolution and the classifier head, then
# also the depthwise convolutions. Tried in this order; the first that holds accuracy wins.
KEEP_FP32_CHOICES = ("none", "stem+head", "stem+head+depthwise")


def _kept_nodes(model_path: Path, keep_fp32: str) -> list[str]:
    import onnx

    if keep_fp32 == "none":
        return []
    nodes = onnx.load(str(model_path), load_external_data=False).graph.node
    convs = [n for n in nodes if n.op_type == "Conv"]
    kept = [convs[0].name] if convs else []
    kept += [n.name for n in nodes if n.op_type in ("Gemm", "MatMul")]
    if keep_fp32 == "stem+head+depthwise":
        kept += [n.name for n in convs
                 if any(a.name == "group" and a.i > 1 for a in n.attribute)]
    return kept


def quantize_int8(fp32_path: Path, int8_path: Path, calibration: np.ndarray, *,
                  batch: int = 16, keep_fp32: str = "none") -> None:
    """Static INT8 (QDQ, per-channel weights) calibrated on real preprocessed photos.

    ``keep_fp32`` (one of KEEP_FP32_CHOICES) leaves those layers unquantised.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared), str(int8_path), _Calibration(calibration, batch),
            quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": 99.99},
            nodes_to_exclude=_kept_nodes(prepared, keep_fp32),
        )
    os.chmod(int8_path, 0o644)
