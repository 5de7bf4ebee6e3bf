"""Garment instances from label maps, and the overlay picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionlens.datasets.ccp import group_label_map, load_grouping, load_mask, read_ccp_labels
from fashionlens.datasets.formats import mask_box
from fashionlens.garments import (
    GarmentInstance,
    class_colours,
    instances_from_label_map,
    render_overlay,
)

CLASSES = ("background", "skin", "hair", "upper-body", "lower-body", "footwear", "bag")
BG, SKIN, UPPER, LOWER, SHOE, BAG = 0, 1, 3, 4, 5, 6


def _grouped(ccp: Path, stem: str) -> tuple[np.ndarray, tuple[str, ...]]:
    g = load_grouping()
    mask = load_mask(ccp / "masks" / f"{stem}.png")
    return group_label_map(mask, read_ccp_labels(ccp), g), g.classes


def _check_instances(label_map: np.ndarray, classes, instances: list[GarmentInstance]) -> None:
    seen = np.zeros(label_map.shape, dtype=bool)
    for inst in instances:
        assert inst.label not in ("background", "skin", "hair")
        assert inst.mask is not None and inst.mask.shape == label_map.shape
        assert (label_map[inst.mask] == classes.index(inst.label)).all()
        assert mask_box(inst.mask) == inst.box  # the box is the tight box of its pixels
        assert inst.area == int(inst.mask.sum())
        assert inst.score == 1.0
        assert not (seen & inst.mask).any()  # instances do not overlap
        seen |= inst.mask


@pytest.mark.parametrize("stem", ["0003", "0041"])
def test_instances_of_real_ccp_masks(fixtures: Path, stem: str) -> None:
    ccp = fixtures / "formats" / "ccp"
    lm, classes = _grouped(ccp, stem)
    instances = instances_from_label_map(lm, classes)
    _check_instances(lm, classes, instances)
    garment = np.isin(lm, [classes.index(c) for c in classes
                           if c not in ("background", "skin", "hair")])
    covered = sum(i.area for i in instances)
    assert covered >= 0.99 * garment.sum()  # only specks are dropped
    labels = {i.label for i in instances}
    assert {"outerwear", "footwear"} <= labels


def test_fragments_split_by_the_person_are_merged(fixtures: Path) -> None:
    # 0041: a long open coat, split in two by the dress under it
    lm, classes = _grouped(fixtures / "formats" / "ccp", "0041")
    merged = [i for i in instances_from_label_map(lm, classes) if i.label == "outerwear"]
    apart = [i for i in instances_from_label_map(lm, classes, merge_gap_frac=0)
             if i.label == "outerwear"]
    assert len(merged) == 1 and len(apart) >= 2
    assert merged[0].area == sum(i.area for i in apart)


def test_instances_on_shared_ccp_masks(shared_data: Path) -> None:
    ccp = shared_data / "ccp"
    for stem in ("0001", "0002", "0004", "0010"):
        lm, classes = _grouped(ccp, stem)
        instances = instances_from_label_map(lm, classes)
        assert instances
        _check_instances(lm, classes, instances)


def _skirt(gap_class: int) -> np.ndarray:
    lm = np.zeros((100, 100), dtype=np.uint8)
    lm[10:40, 30:70] = UPPER  # the person, so the label map is not all skirt
    lm[40:80, 30:70] = LOWER
    lm[40:80, 48:54] = gap_class  # a hand (skin) or a gap (background) across the skirt
    return lm


def test_skirt_split_by_a_hand_is_one_instance() -> None:
    insts = instances_from_label_map(_skirt(SKIN), CLASSES)
    skirts = [i for i in insts if i.label == "lower-body"]
    assert len(skirts) == 1 and skirts[0].box == (30, 40, 70, 80)
    assert skirts[0].area == 40 * 34


def test_fragments_separated_by_background_stay_apart() -> None:
    insts = instances_from_label_map(_skirt(BG), CLASSES)
    skirts = sorted((i for i in insts if i.label == "lower-body"), key=lambda i: i.box)
    assert [i.box for i in skirts] == [(30, 40, 48, 80), (54, 40, 70, 80)]


def test_two_people_side_by_side_stay_two_instances() -> None:
    lm = np.zeros((120, 200), dtype=np.uint8)
    for x0 in (20, 120):  # two people, background between them
        lm[10:50, x0:x0 + 50] = UPPER
        lm[50:110, x0:x0 + 50] = LOWER
    insts = instances_from_label_map(lm, CLASSES)
    assert [i.label for i in insts] == ["upper-body"] * 2 + ["lower-body"] * 2
    assert {i.box for i in insts if i.label == "lower-body"} == {(20, 50, 70, 110),
                                                                 (120, 50, 170, 110)}


def test_overlapping_people_keep_their_own_trousers() -> None:
    lm = np.zeros((120, 200), dtype=np.uint8)
    lm[10:50, 20:70] = UPPER  # person A's top ...
    lm[10:50, 70:120] = SKIN  # ... touches person B's arm
    lm[50:110, 20:60] = LOWER  # their trousers have background between them
    lm[50:110, 72:112] = LOWER
    insts = instances_from_label_map(lm, CLASSES)
    trousers = sorted(i.box for i in insts if i.label == "lower-body")
    assert trousers == [(20, 50, 60, 110), (72, 50, 112, 110)]


def test_shoes_are_kept_apart_and_specks_dropped() -> None:
    lm = np.zeros((100, 100), dtype=np.uint8)
    lm[60:90, 40:60] = SKIN  # legs between the shoes
    lm[90:98, 30:45] = SHOE
    lm[90:98, 55:70] = SHOE
    lm[90:98, 45:55] = SKIN
    lm[5, 5] = BAG  # a one-pixel speck
    insts = instances_from_label_map(lm, CLASSES, min_area_frac=0.002)
    assert [(i.label, i.box) for i in insts] == [("footwear", (30, 90, 45, 98)),
                                                 ("footwear", (55, 90, 70, 98))]


def test_score_is_mean_class_probability() -> None:
    lm = _skirt(SKIN)
    probs = np.full(lm.shape + (len(CLASSES),), 0.1, dtype=np.float32)
    probs[..., LOWER] = 0.5
    probs[40:60, :, LOWER] = 0.9
    insts = instances_from_label_map(lm, CLASSES, probs=probs)
    skirt = next(i for i in insts if i.label == "lower-body")
    assert skirt.score == pytest.approx(0.7, abs=1e-6)
    upper = next(i for i in insts if i.label == "upper-body")
    assert upper.score == pytest.approx(0.1, abs=1e-6)
    assert skirt.to_dict() == {"label": "lower-body", "score": 0.7, "box": [30, 40, 70, 80],
                               "area": 1360}


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="2-D"):
        instances_from_label_map(np.zeros((2, 2, 2), dtype=np.uint8), CLASSES)
    with pytest.raises(ValueError, match="integers"):
        instances_from_label_map(np.zeros((2, 2)), CLASSES)
    with pytest.raises(ValueError, match="0..6"):
        instances_from_label_map(np.full((2, 2), 9, dtype=np.uint8), CLASSES)
    with pytest.raises(ValueError, match="probs must have shape"):
        instances_from_label_map(np.zeros((2, 2), dtype=np.uint8), CLASSES,
                                 probs=np.zeros((2, 2, 3)))


def test_render_overlay(fixtures: Path) -> None:
    ccp = fixtures / "formats" / "ccp"
    lm, classes = _grouped(ccp, "0041")
    photo = Image.open(ccp / "photos" / "0041.jpg")
    insts = instances_from_label_map(lm, classes)
    out = render_overlay(photo, lm, insts, classes)
    assert out.mode == "RGB" and out.size == photo.size
    got, base = np.asarray(out), np.asarray(photo.convert("RGB"))
    assert (got[0, 0] == base[0, 0]).all()  # background corner untouched
    coat = next(i for i in insts if i.label == "outerwear")
    colour = class_colours(classes)[classes.index("outerwear")]
    x1, y1, x2, y2 = coat.box
    right_edge = got[y1 + 20:y2, x2 - 1]
    assert (right_edge == colour).all(axis=1).mean() > 0.9  # its box, in its class colour
    inside = lm == classes.index("dress")
    assert np.abs(got[inside].astype(int) - base[inside].astype(int)).mean() > 5  # tinted
    with pytest.raises(ValueError, match="differs"):
        render_overlay(photo, lm[:-1], insts, classes)
