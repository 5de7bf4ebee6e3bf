"""The pretrained backbone: key mapping and ImageNet predictions on a real photo."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fashionlens.imaging import Preprocessing, preprocess  # noqa: E402
from fashionlens.models.backbone import (  # noqa: E402
    LITE_MEAN,
    LITE_STD,
    create_backbone,
    lukemelas_to_timm,
    pretrained_checkpoint_path,
)

PRE = Preprocessing(size=224, mean=LITE_MEAN, std=LITE_STD)
FOOTWEAR_WORDS = ("shoe", "boot", "sandal", "clog", "loafer", "sneaker")


@pytest.fixture(scope="module")
def backbone():
    torch.set_num_threads(2)
    return create_backbone("efficientnet_lite0").eval()


def _top5_descriptions(model, path) -> list[str]:
    from timm.data import ImageNetInfo

    x = torch.from_numpy(preprocess(path, PRE)[None])
    with torch.no_grad():
        top5 = model(x).softmax(1).topk(5).indices[0].tolist()
    info = ImageNetInfo()
    return [info.index_to_description(i).lower() for i in top5]


def test_imagenet_top5_of_a_shoe_photo_is_footwear(backbone, fixtures):
    for photo in sorted((fixtures / "garments" / "Shoes").glob("*.jpg"))[:3]:
        top5 = _top5_descriptions(backbone, photo)
        assert any(w in d for d in top5 for w in FOOTWEAR_WORDS), (photo.name, top5)


def test_logits_match_the_reference_implementation(backbone, fixtures):
    ref_pkg = pytest.importorskip("efficientnet_lite_pytorch")
    ref = ref_pkg.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=pretrained_checkpoint_path()
    ).eval()
    photos = sorted((fixtures / "garments").rglob("*.jpg"))[:4]
    x = torch.from_numpy(np.stack([preprocess(p, PRE) for p in photos]))
    with torch.no_grad():
        ours, theirs = backbone(x), ref(x)
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()


def test_key_mapping_rejects_a_foreign_checkpoint():
    model = create_backbone("efficientnet_lite0", pretrained=False)
    raw = torch.load(pretrained_checkpoint_path(), map_location="cpu", weights_only=True)
    bad = dict(raw)
    bad["_blocks.3._expand_conv.weight"] = torch.zeros(1, 1, 1, 1)
    with pytest.raises(ValueError, match="shape"):
        lukemelas_to_timm(bad, model)
    partial = {k: v for k, v in raw.items() if not k.startswith("_conv_head")}
    with pytest.raises(KeyError, match="lacks"):
        lukemelas_to_timm(partial, model)


def test_fresh_head_keeps_the_pretrained_features():
    pretrained = create_backbone("efficientnet_lite0").eval()
    headed = create_backbone("efficientnet_lite0", num_classes=5).eval()
    assert headed.classifier.out_features == 5
    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        a = pretrained.forward_head(pretrained.forward_features(x), pre_logits=True)
        b = headed.forward_head(headed.forward_features(x), pre_logits=True)
    assert torch.allclose(a, b)
