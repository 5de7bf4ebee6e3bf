"""Serving path: ONNX Runtime only (no torch import anywhere below this package)."""

from fashionlens.inference.bundle import ModelBundle
from fashionlens.inference.classifier import GarmentClassifier

__all__ = ["GarmentClassifier", "ModelBundle"]
