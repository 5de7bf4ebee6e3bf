"""Torch-side networks (imported only by training and export, never by serving)."""

from fashionlens.models.backbone import BACKBONES, create_backbone, lukemelas_to_timm
from fashionlens.models.classifier import GarmentNet

__all__ = ["BACKBONES", "GarmentNet", "create_backbone", "lukemelas_to_timm"]
