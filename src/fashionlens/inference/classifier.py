"""The garment classifier on ONNX Runtime: batched, decoding photos while the model runs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fashionlens.core.results import Classification, ImageFailure, ScoredLabel
from fashionlens.imaging import DEFAULT_LIMITS, ImageLimits, InvalidImage, preprocess
from fashionlens.inference.bundle import ModelBundle


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def make_session(onnx_path: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if os.environ.get("FASHIONLENS_ORT_SPINNING", "0") != "1":
        # Idle ONNX Runtime threads sleep instead of spinning. Measured on 2 cores: +21 %
        # analyses/s with 4 concurrent callers (benchmarks/ort_spinning.py, interleaved
        # rounds); batch classification within 5 % (benchmarks/classify_throughput.py).
        # FASHIONLENS_ORT_SPINNING=1 turns spinning back on.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


class GarmentClassifier:
    """Names the garment in a photo; also returns the search embedding.

    ``threads`` bounds both the ONNX Runtime threads and the decoding threads (decoding of the
    next batch overlaps with inference on the current one).
    """

    def __init__(self, bundle: ModelBundle | str | Path, *, variant: str = "default",
                 threads: int = 2, batch_size: int = 32, limits: ImageLimits = DEFAULT_LIMITS):
        self.bundle = bundle if isinstance(bundle, ModelBundle) else ModelBundle.load(bundle)
        self.variant = variant
        self.threads = threads
        self.batch_size = batch_size
        self.limits = limits
        self.classes = self.bundle.classes
        self.preprocessing = self.bundle.preprocessing
        self.temperature = self.bundle.temperature
        self.session = make_session(self.bundle.onnx_path(variant), threads)

    # -- arrays in, arrays out -------------------------------------------------------------
    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities (N, C) and unit embeddings (N, D) for preprocessed input."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W) float32, got {batch.shape}")
        logits, emb = self.session.run(["logits", "embedding"], {"image": batch})
        return _softmax(logits, self.temperature), emb

    # -- photos in, results out ------------------------------------------------------------
    def _load(self, source) -> np.ndarray | ImageFailure:
        try:
            return preprocess(source, self.preprocessing, limits=self.limits)
        except InvalidImage as exc:
            return ImageFailure(_name(source), exc.reason, exc.code)

    def classify(self, sources: Iterable, *, top_k: int = 3,
                 with_embedding: bool = False,
                 with_probs: bool = False) -> Iterator[Classification | ImageFailure]:
        """Results in input order; a bad photo yields an :class:`ImageFailure` and no stop."""
        top_k = max(1, min(top_k, len(self.classes)))
        with ThreadPoolExecutor(max_workers=max(1, self.threads)) as pool:
            it = iter(sources)
            pending = _submit(pool, self._load, it, self.batch_size)
            while pending:
                chunk = [(src, fut.result()) for src, fut in pending]
                pending = _submit(pool, self._load, it, self.batch_size)  # decode ahead
                good = [(src, arr) for src, arr in chunk if not isinstance(arr, ImageFailure)]
                if good:
                    probs, emb = self.run(np.stack([a for _, a in good]))
                    by_src = {id(src): (p, e) for (src, _), p, e in zip(good, probs, emb,
                                                                       strict=True)}
                for src, arr in chunk:
                    if isinstance(arr, ImageFailure):
                        yield arr
                        continue
                    p, e = by_src[id(src)]
                    order = np.argsort(-p)[:top_k]
                    yield Classification(
                        image=_name(src), label=self.classes[order[0]],
                        confidence=float(p[order[0]]),
                        top=[ScoredLabel(self.classes[i], float(p[i])) for i in order],
                        embedding=e if with_embedding else None,
                        probs=p if with_probs else None,
                    )


def _submit(pool, fn, it: Iterator, n: int) -> list:
    return [(src, pool.submit(fn, src)) for src in islice(it, n)]


def _name(source) -> str:
    return source if isinstance(source, str) else str(source) if isinstance(source, Path) \
        else "<bytes>"
