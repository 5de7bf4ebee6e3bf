"""The garment classifier network: backbone + linear head, with the search embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fashionlens.models.backbone import create_backbone


class GarmentNet(nn.Module):
    """EfficientNet-Lite classifier that also returns an L2-normalised embedding.

    ``forward`` returns ``(logits, embedding)``: the embedding is the pooled backbone feature
    (what the classifier head reads), normalised to unit length for cosine search.
    """

    def __init__(self, num_classes: int, backbone: str = "efficientnet_lite0", *,
                 pretrained: bool = True, drop_rate: float = 0.2, drop_path_rate: float = 0.1):
        super().__init__()
        self.net = create_backbone(backbone, pretrained=pretrained, num_classes=num_classes,
                                   drop_rate=drop_rate, drop_path_rate=drop_path_rate)

    def freeze_stages(self, n: int) -> None:
        """Freeze the stem and the first ``n`` block stages (a lighter CPU recipe)."""
        frozen = [self.net.conv_stem, self.net.bn1, *self.net.blocks[:n]] if n > 0 else []
        for module in frozen:
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)
        self._frozen = frozen

    def train(self, mode: bool = True):
        super().train(mode)
        for module in getattr(self, "_frozen", []):
            module.eval()  # keep frozen BatchNorm statistics fixed
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.net.forward_head(self.net.forward_features(x), pre_logits=True)
        logits = self.net.classifier(feats)
        return logits, F.normalize(feats, dim=1)
