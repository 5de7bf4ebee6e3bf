"""Annotation formats: CCP grouping, COCO (Fashionpedia, ModaNet), YOLO, plain list,
DeepFashion2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from fashionlens.commands.convert import convert_app
from fashionlens.datasets.ccp import (
    ccp_pixel_counts,
    ccp_to_dataset,
    group_label_map,
    iter_ccp,
    load_grouping,
    load_mask,
    read_ccp_labels,
)
from fashionlens.datasets.formats import (
    DEEPFASHION2_LANDMARKS,
    AnnotatedDataset,
    AnnotatedImage,
    Annotation,
    AnnotationError,
    Category,
    drop_fashionpedia_parts,
    read_box_list,
    read_coco,
    read_deepfashion2,
    read_deepfashion2_file,
    read_yolo,
    rle_area,
    rle_decode,
    rle_encode,
    segmentation_to_mask,
    to_coco_dict,
    write_box_list,
    write_coco,
    write_yolo,
)


@pytest.fixture(scope="module")
def ccp_dir(fixtures: Path) -> Path:
    return fixtures / "formats" / "ccp"


@pytest.fixture(scope="module")
def fashionpedia(fixtures: Path) -> Path:
    return fixtures / "formats" / "fashionpedia_instances.json"


@pytest.fixture(scope="module")
def modanet(fixtures: Path) -> Path:
    return fixtures / "formats" / "modanet_instances.json"


@pytest.fixture()
def df2_dir(fixtures: Path, tmp_path: Path) -> Path:
    """DeepFashion2 layout (annos/ + image/); the photos are the CCP fixture photos renamed."""
    root = tmp_path / "df2"
    shutil.copytree(fixtures / "formats" / "deepfashion2" / "annos", root / "annos")
    (root / "image").mkdir()
    photos = fixtures / "formats" / "ccp" / "photos"
    shutil.copy(photos / "0003.jpg", root / "image" / "000001.jpg")
    shutil.copy(photos / "0041.jpg", root / "image" / "000002.jpg")
    return root


def _boxes(ds: AnnotatedDataset) -> dict[str, list[tuple]]:
    return {im.file_name: [(o.category, tuple(o.box)) for o in im.objects] for im in ds.images}


# --------------------------------------------------------------------------- CCP grouping


def _check_grouping_covers(labels: list[str]) -> None:
    g = load_grouping()
    assert g.classes[0] == "background"
    assert set(labels) == set(g.mapping)
    assert g.mapping["null"] == "background"
    assert g.mapping["skin"] == "skin" and g.mapping["hair"] == "hair"
    assert set(g.mapping.values()) == set(g.classes)  # every class is used
    lut = g.lut(labels)
    assert (lut[: len(labels)] < len(g.classes)).all()


def test_grouping_covers_all_59_ccp_labels(ccp_dir: Path) -> None:
    labels = read_ccp_labels(ccp_dir)
    assert len(labels) == 59
    _check_grouping_covers(labels)


def test_grouping_covers_shared_ccp_labels(shared_data: Path) -> None:
    _check_grouping_covers(read_ccp_labels(shared_data / "ccp"))


def test_group_label_map_is_a_lookup(ccp_dir: Path) -> None:
    labels = read_ccp_labels(ccp_dir)
    g = load_grouping()
    mask = np.array([[0, labels.index("jeans"), labels.index("coat")],
                     [labels.index("skin"), labels.index("tights"), labels.index("purse")]],
                    dtype=np.uint8)
    out = group_label_map(mask, labels, g)
    assert out.dtype == np.uint8
    names = [[g.classes[v] for v in row] for row in out.tolist()]
    assert names == [["background", "lower-body", "outerwear"], ["skin", "upper-body", "bag"]]
    real = load_mask(ccp_dir / "masks" / "0003.png")
    grouped = group_label_map(real, labels, g)
    assert grouped.shape == real.shape
    assert ((real == 0) == (grouped == 0)).all()
    with pytest.raises(ValueError, match="200"):
        group_label_map(np.array([[200]], dtype=np.uint8), labels, g)


def test_iter_ccp_yields_masks_and_tags(ccp_dir: Path) -> None:
    samples = list(iter_ccp(ccp_dir))
    assert [s.id for s in samples] == ["0003", "0041", "1005"]
    assert samples[0].mask is not None and samples[0].mask.name == "0003.png"
    assert samples[2].mask is None and "skirt" in samples[2].tags
    tagged = list(iter_ccp(ccp_dir, masked_only=True, mask_tags=True))
    assert len(tagged) == 2 and "null" in tagged[0].tags and "skin" in tagged[0].tags


def test_pixel_counts_add_up(ccp_dir: Path) -> None:
    counts = ccp_pixel_counts(ccp_dir)
    direct = sum(load_mask(p).size for p in (ccp_dir / "masks").glob("*.png"))
    assert counts.masks == 2 and counts.total_pixels == direct
    assert sum(counts.labels.values()) == sum(counts.groups.values()) == direct
    assert counts.groups["outerwear"] == sum(
        n for lab, n in counts.labels.items() if counts.grouping.mapping[lab] == "outerwear")
    table = counts.markdown()
    assert "| 0 | background |" in table and "coat (" in table


def test_pixel_counts_on_shared_masks(shared_data: Path) -> None:
    counts = ccp_pixel_counts(shared_data / "ccp", limit=20)
    assert counts.masks == 20
    assert sum(counts.groups.values()) == counts.total_pixels
    assert counts.group_masks["background"] == 20


# --------------------------------------------------------------------------- masks


def test_rle_matches_coco_encoding() -> None:
    m = np.zeros((5, 4), dtype=bool)
    m[1:3, 1:3] = True
    # the strings pycocotools.mask.encode gives for these masks
    assert rle_encode(m) == {"size": [5, 4], "counts": "62304"}
    assert rle_encode(m, compressed=False)["counts"] == [6, 2, 3, 2, 7]
    big = np.zeros((40, 30), dtype=bool)
    big[3:35, 2:25] = True
    big[10:12, 5:6] = False
    rle = rle_encode(big)
    assert rle["counts"] == "c2P180000WOJ`069000000000000000000000000000000000000U6"
    assert (rle_decode(rle) == big).all()
    assert rle_area(rle) == int(big.sum())
    rng = np.random.default_rng(0)
    for _ in range(20):
        r = rng.random((int(rng.integers(1, 30)), int(rng.integers(1, 30)))) < rng.random()
        assert (rle_decode(rle_encode(r)) == r).all()
        assert (rle_decode(rle_encode(r, compressed=False)) == r).all()


# --------------------------------------------------------------------------- CCP round trips


def test_ccp_to_coco_to_yolo_round_trips_boxes_exactly(ccp_dir: Path, tmp_path: Path) -> None:
    ds = ccp_to_dataset(ccp_dir)
    assert [im.file_name for im in ds.images] == ["0003.jpg", "0041.jpg"]
    assert all(o.box == tuple(float(int(v)) for v in o.box) for im in ds.images
               for o in im.objects)
    names = {c.name for c in ds.categories}
    assert "skin" not in names and "background" not in names and "outerwear" in names

    coco_path = write_coco(ds, tmp_path / "ccp.json")
    doc = json.loads(coco_path.read_text())
    ann = doc["annotations"][0]
    assert all(isinstance(v, int) for v in ann["bbox"])  # integer pixel boxes stay integers
    back = read_coco(coco_path)
    assert _boxes(back) == _boxes(ds)
    for im in back.images:  # the RLE mask's tight box is the box
        for o in im.objects:
            mask = segmentation_to_mask(o.segmentation, im.height, im.width)
            ys, xs = np.nonzero(mask)
            assert o.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)

    write_yolo(back, tmp_path / "yolo", image_root="photos")
    assert (tmp_path / "yolo" / "labels" / "0003.txt").exists()
    classes = (tmp_path / "yolo" / "classes.txt").read_text().split("\n")
    assert classes[: len(back.class_names)] == back.class_names
    sizes = {im.file_name: (im.width, im.height) for im in back.images}
    yolo = read_yolo(tmp_path / "yolo", image_sizes=sizes)
    assert _boxes(yolo) == _boxes(ds)
    # sizes from the image headers give the same result
    yolo2 = read_yolo(tmp_path / "yolo", images_dir=ccp_dir / "photos")
    assert _boxes(yolo2) == _boxes(ds)


def test_yolo_keeps_integer_boxes_of_large_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    objects = []
    for _ in range(200):
        x1, y1 = (int(v) for v in rng.integers(0, 5000, 2))
        w, h = (int(v) for v in rng.integers(1, 1000, 2))
        objects.append(Annotation("bag", (x1, y1, x1 + w, y1 + h)))
    ds = AnnotatedDataset([AnnotatedImage("big.jpg", 6000, 6000, objects)], [Category(0, "bag")])
    back = read_yolo(write_yolo(ds, tmp_path / "y"), image_sizes={"big.jpg": (6000, 6000)})
    assert [o.box for o in back.images[0].objects] == [o.box for o in objects]


def test_plain_list_round_trip(ccp_dir: Path, tmp_path: Path) -> None:
    ds = ccp_to_dataset(ccp_dir)
    path = write_box_list(ds, tmp_path / "train.txt", image_root="data/photos")
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("data/photos/0003.jpg ")
    first = lines[0].split()[1].split(",")
    assert len(first) == 5 and all(v.isdigit() for v in first)
    assert (tmp_path / "train_classes.txt").read_text().splitlines() == ds.class_names
    back = read_box_list(path, image_root="data/photos")
    assert _boxes(back) == _boxes(ds)


def test_plain_list_rounds_halves_up(tmp_path: Path) -> None:
    ds = AnnotatedDataset([AnnotatedImage("a.jpg", 100, 100, [
        Annotation("bag", (10.5, 20.49, 30.5, 40.51)), Annotation("bag", (5.2, 5.2, 5.4, 5.4))])],
        [Category(1, "bag")])
    write_box_list(ds, tmp_path / "l.txt")
    assert (tmp_path / "l.txt").read_text() == "a.jpg 11,20,31,41,0 5,5,6,6,0\n"


# --------------------------------------------------------------------------- COCO


def test_fashionpedia_attributes_and_parts(fashionpedia: Path, tmp_path: Path) -> None:
    ds = read_coco(fashionpedia)
    assert len(ds.categories) == 46 and len(ds.attributes) == 8
    dress = ds.images[0].objects[0]
    assert dress.category == "dress" and dress.attributes == ("floral", "printed")
    assert dress.box == (180.0, 180.0, 500.0, 700.0)
    shoe = next(o for o in ds.images[0].objects if o.category == "shoe")
    assert isinstance(shoe.segmentation, dict) and shoe.box == (300.0, 930.0, 352.0, 990.0)
    pants = ds.images[1].objects[0]
    assert pants.box == (395.5, 300.25, 620.75, 760.5) and pants.attributes == ("jeans",
                                                                                 "plain (pattern)")
    assert ds.images[0].extra["kaggle_id"] == "0a1b2c3d4e5f60718293a4b5c6d7e8f9"

    kept = drop_fashionpedia_parts(ds)
    assert [c.id for c in kept.categories] == list(range(27))
    assert [o.category for im in kept.images for o in im.objects] == [
        "dress", "shoe", "pants", "bag, wallet"]
    assert read_coco(fashionpedia, drop_parts=True).class_names == kept.class_names

    # COCO -> COCO keeps categories, attributes, supercategories and the float boxes
    again = read_coco(write_coco(kept, tmp_path / "fp.json"))
    assert _boxes(again) == _boxes(kept)
    assert again.images[1].objects[0].attributes == ("jeans", "plain (pattern)")
    assert again.categories[0].extra["taxonomy_id"] == "combo000000"
    doc = json.loads((tmp_path / "fp.json").read_text())
    assert doc["annotations"][0]["attribute_ids"] == [304, 285]
    assert {a["name"] for a in doc["attributes"]} >= {"floral", "jeans"}


def test_fashionpedia_to_yolo_drops_parts(fashionpedia: Path, tmp_path: Path) -> None:
    ds = read_coco(fashionpedia, drop_parts=True)
    write_yolo(ds, tmp_path / "y")
    lines = (tmp_path / "y" / "labels" / "1f2e3d4c5b6a79880716253443526170.txt").read_text()
    rows = [ln.split() for ln in lines.splitlines()]
    assert [r[0] for r in rows] == ["6", "24"]  # pants, bag, wallet; the pocket is gone
    back = read_yolo(tmp_path / "y", image_sizes={im.file_name: (im.width, im.height)
                                                  for im in ds.images})
    # sub-pixel boxes survive YOLO's 6 decimals to within 1/1000 px
    got = back.images[1].objects[0].box
    assert np.allclose(got, (395.5, 300.25, 620.75, 760.5), atol=2e-3)


def test_modanet_variant(modanet: Path) -> None:
    ds = read_coco(modanet)
    assert ds.class_names[:4] == ["bag", "belt", "boots", "footwear"]
    assert len(ds.categories) == 13
    first = ds.images[0]
    assert first.file_name == "0100014.jpg" and first.id == 100014
    assert first.objects[0].category == "scarf & tie"
    assert first.objects[0].box == (192, 30, 212, 58)
    # ModaNet's degenerate 1- and 2-point "polygons" are dropped, real ones kept
    assert first.objects[1].segmentation == [[120, 90, 260, 90, 260, 350, 120, 350]]
    assert first.objects[2].segmentation == [[150, 540, 190, 540, 190, 570, 150, 570]]
    assert first.objects[1].extra["area"] == 36400


# --------------------------------------------------------------------------- DeepFashion2


def test_deepfashion2_to_coco_keeps_boxes_categories_segmentation(df2_dir: Path,
                                                                   tmp_path: Path) -> None:
    from fashionlens.datasets.formats import deepfashion2_to_coco_extra

    ds = read_deepfashion2(df2_dir / "annos")
    assert [im.id for im in ds.images] == [1, 2]
    assert (ds.images[0].width, ds.images[0].height) == (297, 448)
    doc = to_coco_dict(deepfashion2_to_coco_extra(ds))
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    assert cats[1] == "short sleeve top" and cats[8] == "trousers" and len(cats) == 13
    assert len(doc["categories"][0]["keypoints"]) == 294
    anns = doc["annotations"]
    raw = json.loads((df2_dir / "annos" / "000001.json").read_text())
    a1 = anns[0]
    x1, y1, x2, y2 = raw["item1"]["bounding_box"]
    assert a1["bbox"] == [x1, y1, x2 - x1, y2 - y1]
    assert a1["category_id"] == 1 and a1["image_id"] == 1
    assert a1["segmentation"] == raw["item1"]["segmentation"]
    assert a1["style"] == 1 and a1["pair_id"] == 1 and a1["occlusion"] == 2
    assert len(a1["keypoints"]) == 294 * 3 and a1["num_keypoints"] == 4
    assert a1["keypoints"][:3] == [148, 92, 2]
    trousers = anns[1]
    start = 3 * sum(DEEPFASHION2_LANDMARKS[c] for c in range(1, 8))  # category 8's slot
    assert trousers["keypoints"][start:start + 3] == [110, 237, 2]
    dress = anns[2]
    assert dress["category_id"] == 11 and len(dress["segmentation"]) == 2
    assert doc["images"][1]["source"] == "shop" and doc["images"][1]["file_name"] == "000002.jpg"
    # and through a file and back
    back = read_coco(write_coco(deepfashion2_to_coco_extra(ds), tmp_path / "df2.json"))
    assert _boxes(back) == _boxes(ds)


# --------------------------------------------------------------------------- bad input


def _coco_with(tmp_path: Path, **changes) -> Path:
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
           "categories": [{"id": 1, "name": "dress", "supercategory": "wholebody"}],
           "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 30],
                            "iscrowd": 0, "area": 600}]}
    doc["annotations"][0].update(changes)
    for k, v in changes.items():
        if v is None:
            del doc["annotations"][0][k]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"bbox": None}, "missing key(s) bbox"),
    ({"category_id": 99}, "unknown category_id 99"),
    ({"bbox": [10, 10, -5, 30]}, "negative width"),
    ({"bbox": [10, 10, 20, -1]}, "negative height"),
    ({"bbox": [90, 10, 20, 30]}, "outside the 100x80 image"),
    ({"bbox": [10, 10, "w", 30]}, "bbox must be [x, y, w, h]"),
    ({"attribute_ids": [5]}, "unknown attribute id 5"),
])
def test_bad_coco_objects_name_file_and_object(tmp_path: Path, change: dict,
                                               message: str) -> None:
    path = _coco_with(tmp_path, **change)
    with pytest.raises(AnnotationError) as info:
        read_coco(path)
    text = str(info.value)
    assert "bad.json" in text and "annotation id 7" in text and message in text
    errors: list[AnnotationError] = []
    ds = read_coco(path, errors=errors)  # lenient: recorded and skipped
    assert len(errors) == 1 and ds.num_objects() == 0 and len(ds.images) == 1


def test_bad_coco_files(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"images": [')
    with pytest.raises(AnnotationError, match="broken.json: not valid JSON"):
        read_coco(bad)
    bad.write_text('{"images": []}')
    with pytest.raises(AnnotationError, match="missing top-level key 'annotations'"):
        read_coco(bad)


def test_bad_deepfashion2_items(df2_dir: Path) -> None:
    path = df2_dir / "annos" / "000001.json"
    doc = json.loads(path.read_text())
    del doc["item2"]["bounding_box"]
    path.write_text(json.dumps(doc))
    with pytest.raises(AnnotationError) as info:
        read_deepfashion2_file(path)
    assert "000001.json: item2: missing key(s) bounding_box" in str(info.value)
    doc["item2"]["bounding_box"] = [206, 236, 109, 334]
    path.write_text(json.dumps(doc))
    with pytest.raises(AnnotationError, match="item2: box has negative width"):
        read_deepfashion2_file(path)
    doc["item2"]["bounding_box"] = [109, 236, 206, 900]
    path.write_text(json.dumps(doc))
    with pytest.raises(AnnotationError, match="outside the 297x448 image"):
        read_deepfashion2_file(path)
    doc["item2"].update(bounding_box=[109, 236, 206, 334], category_name="skirt")
    path.write_text(json.dumps(doc))
    with pytest.raises(AnnotationError, match="does not match category_id 8"):
        read_deepfashion2_file(path)
    errors: list[AnnotationError] = []
    ds = read_deepfashion2(df2_dir / "annos", errors=errors)
    assert [im.file_name for im in ds.images] == ["000002.jpg"] and len(errors) == 1


def test_bad_yolo_and_list_lines(tmp_path: Path) -> None:
    (tmp_path / "y" / "labels").mkdir(parents=True)
    (tmp_path / "y" / "classes.txt").write_text("bag\n")
    (tmp_path / "y" / "images.txt").write_text("a.jpg\n")
    (tmp_path / "y" / "labels" / "a.txt").write_text("0 0.5 0.5 0.2\n")
    with pytest.raises(AnnotationError, match=r"a.txt: line 1: expected 'class cx cy w h'"):
        read_yolo(tmp_path / "y", image_sizes={"a.jpg": (10, 10)})
    (tmp_path / "y" / "labels" / "a.txt").write_text("3 0.5 0.5 0.2 0.2\n")
    with pytest.raises(AnnotationError, match="class 3 not in classes.txt"):
        read_yolo(tmp_path / "y", image_sizes={"a.jpg": (10, 10)})
    lst = tmp_path / "l.txt"
    lst.write_text("a.jpg 1,2,3,4,0 5,6,7\n")
    with pytest.raises(AnnotationError, match=r"l.txt: line 1: expected x1,y1,x2,y2,class_id"):
        read_box_list(lst, classes=["bag"])
    lst.write_text("a.jpg 8,2,3,4,0\n")
    with pytest.raises(AnnotationError, match="line 1: box has negative width"):
        read_box_list(lst, classes=["bag"])


def test_writers_report_unwritable_images(tmp_path: Path) -> None:
    bag = Annotation("bag", (1, 1, 5, 5))
    ds = AnnotatedDataset([AnnotatedImage("my photo.jpg", 10, 10, [bag]),
                           AnnotatedImage("b.jpg", None, None, [bag])], [Category(0, "bag")])
    errors: list[AnnotationError] = []
    write_box_list(ds, tmp_path / "l.txt", errors=errors)
    assert "white space" in str(errors[0])
    assert (tmp_path / "l.txt").read_text() == "b.jpg 1,1,5,5,0\n"
    errors.clear()
    write_yolo(ds, tmp_path / "y", errors=errors)
    assert "b.jpg" in str(errors[0]) and "image size" in str(errors[0])
    with pytest.raises(AnnotationError, match="COCO needs the image size"):
        to_coco_dict(ds)


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(convert_app, name="convert")
    return app


def test_cli_convert_ccp(cli: typer.Typer, ccp_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "ccp.json"
    res = runner.invoke(cli, ["convert", "ccp", str(ccp_dir), "--to", "coco", "--out", str(out),
                              "--limit", "1"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert [im["file_name"] for im in doc["images"]] == ["0003.jpg"]
    res = runner.invoke(cli, ["convert", "ccp", str(ccp_dir), "--to", "list", "--out",
                              str(tmp_path / "l.txt"), "--image-root", "photos"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "l.txt").read_text().startswith("photos/0003.jpg ")


def test_cli_convert_coco_drop_parts(cli: typer.Typer, fashionpedia: Path,
                                     tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["convert", "coco", str(fashionpedia), "--to", "list",
                                   "--out", str(tmp_path / "fp.txt"), "--drop-parts"])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "fp.txt").read_text().splitlines()
    assert lines[1] == ("1f2e3d4c5b6a79880716253443526170.jpg 396,300,621,761,6 "
                        "690,400,830,520,24")
    assert len((tmp_path / "fp_classes.txt").read_text().splitlines()) == 27


def test_cli_convert_deepfashion2_reports_bad_files(cli: typer.Typer, df2_dir: Path,
                                                    tmp_path: Path) -> None:
    (df2_dir / "annos" / "000003.json").write_text("{not json")
    out = tmp_path / "df2.json"
    res = CliRunner().invoke(cli, ["convert", "deepfashion2", str(df2_dir / "annos"),
                                   "--to", "coco", "--out", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "000003.json" in res.output and "not valid JSON" in res.output
    doc = json.loads(out.read_text())
    assert len(doc["images"]) == 2 and len(doc["annotations"]) == 3


def test_cli_fails_cleanly_on_a_missing_file(cli: typer.Typer, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["convert", "coco", str(tmp_path / "nope.json"), "--to",
                                   "yolo", "--out", str(tmp_path / "y")])
    assert res.exit_code == 1 and "no such file" in res.output
