"""The learned colour namer: garment views, the stacker, label files, training and use."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fashionlens.colour import ColourShare, GarmentColours, colours_of_garments, colours_of_region
from fashionlens.colour_namer import (
    FEATURES,
    ColourNamer,
    Stacker,
    default_namer,
    garment_view,
    stack_features,
    summarise,
)
from fashionlens.core.colours import ColourDictionary
from fashionlens.training.colour_namer import read_labels

REPO = Path(__file__).resolve().parent.parent
LABELS = REPO / "data" / "colour-names"
BUNDLE = REPO / "models" / "colour-namer"


@pytest.fixture(scope="module")
def d() -> ColourDictionary:
    return ColourDictionary.load()


# ------------------------------------------------------------------------------ garment view
def test_garment_view_is_square_fades_the_surroundings_and_keeps_the_garment():
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[:] = (250, 20, 20)                      # red surroundings
    rgb[40:60, 90:110] = (10, 200, 10)          # a green garment
    mask = np.zeros((100, 200), bool)
    mask[40:60, 90:110] = True
    view = np.asarray(garment_view(rgb, mask, size=64, context=0.5, margin=0.5))
    assert view.shape == (64, 64, 3)
    centre = view[28:36, 28:36].reshape(-1, 3).mean(axis=0)
    assert np.allclose(centre, (10, 200, 10), atol=3)
    corner = view[1, 1].astype(int)             # surroundings: halfway between red and grey
    assert np.allclose(corner, (189, 74, 74), atol=4)


def test_garment_view_pads_with_grey_beyond_the_photo_and_needs_uint8_rgb():
    rgb = np.full((50, 50, 3), 255, np.uint8)
    mask = np.zeros((50, 50), bool)
    mask[:, :5] = True                          # a garment on the photo's left edge
    view = np.asarray(garment_view(rgb, mask, size=50, context=1.0, margin=0.1))
    assert tuple(view[25, 0]) == (128, 128, 128)  # left of the photo: grey padding
    assert tuple(view[25, 30]) == (255, 255, 255)
    with pytest.raises(ValueError, match="uint8"):
        garment_view(rgb.astype(np.float32), mask)
    with pytest.raises(ValueError, match="mask shape"):
        garment_view(rgb, mask[:10])
    whole = np.asarray(garment_view(rgb, None, size=16, margin=0.0))
    assert (whole == 255).all()


# ------------------------------------------------------------------------------ with_main
def _found(d: ColourDictionary) -> GarmentColours:
    return GarmentColours(
        colours=[ColourShare("black", 0.6, (20, 20, 20)), ColourShare("white", 0.4, (240,) * 3)],
        pattern="multicolour", main="black", pixels=100,
        lab=[(10.0, 0.0, 0.0), (95.0, 0.0, 0.0)], display=["Black", "White"])


def test_with_main_moves_a_listed_name_first_and_renames_otherwise(d):
    moved = _found(d).with_main("white", d)
    assert [c.name for c in moved.colours] == ["white", "black"]
    assert moved.main == "white" and moved.lab[0] == (95.0, 0.0, 0.0)
    assert moved.display == ["White", "Black"]
    assert [c.share for c in moved.colours] == [0.4, 0.6]     # shares are the pixels'
    renamed = _found(d).with_main("navy", d)
    assert [c.name for c in renamed.colours] == ["navy", "white"]
    assert renamed.colours[0].rgb == (20, 20, 20) and renamed.display[0] == "Navy"
    assert renamed.to_json()["colours"][0]["name"] == "navy"
    same = _found(d)
    assert same.with_main("black", d) is same


# ------------------------------------------------------------------------------ stacker
def _summary(d, lab) -> object:
    lab = np.asarray(lab, float)
    return summarise(lab, np.ones(len(lab)), lab, np.ones(len(lab)),
                     reference_main=d.nearest(lab[0]), shares={d.nearest(lab[0]): 1.0},
                     main_lab=lab[0])


def test_stack_features_have_one_row_per_colour_and_a_floor_for_unknown_colours(d):
    s = _summary(d, [[20.0, 2.0, -12.0], [22.0, 2.0, -10.0]])
    x = stack_features(s, {"navy": -0.1, "black": -2.0}, d)
    assert x.shape == (len(d.ids), len(FEATURES))
    lp = x[:, FEATURES.index("network_log_prob")]
    assert lp[d.ids.index("navy")] == pytest.approx(-0.1)
    assert lp[d.ids.index("red")] == pytest.approx(np.log(1e-4))
    assert x[d.ids.index("navy"), FEATURES.index("is_reference_main")] == 1.0


def test_stacker_learns_to_follow_the_network_and_round_trips(d):
    rng = np.random.default_rng(0)
    xs, labels = [], []
    for _ in range(60):                # pixels say navy; the label follows the network
        s = _summary(d, [[20.0, 2.0, -12.0]])
        said = str(rng.choice(["black", "navy", "blue"]))
        xs.append(stack_features(s, {c: (-0.05 if c == said else -4.0) for c in d.ids}, d))
        labels.append(said)
    st = Stacker.fit(xs, labels, d.ids, c=1.0)
    for x, lab in zip(xs, labels, strict=True):
        assert d.ids[int(np.argmax(st.scores(x, d.ids)))] == lab
    again = Stacker.from_json(json.loads(json.dumps(st.to_json())))
    assert np.allclose(again.scores(xs[0], d.ids), st.scores(xs[0], d.ids), atol=1e-4)
    with pytest.raises(ValueError, match="not in the colour dictionary"):
        Stacker.fit(xs[:1], ["sky"], d.ids)
    bad = st.to_json() | {"features": ["de_main"]}
    with pytest.raises(ValueError, match="retrain"):
        Stacker.from_json(bad)


# ------------------------------------------------------------------------------ label files
def test_read_labels_names_each_bad_row_and_keeps_the_rest(d, tmp_path):
    f = tmp_path / "labels.csv"
    f.write_text("image,main_colour,also_ok\n"
                 "a.jpg,navy,black\n"
                 ",red,\n"
                 "b.jpg,sky-blue,\n"
                 "c.jpg,red,wine\n"
                 "d.jpg,white,\n", encoding="utf-8")
    rows, rejects = read_labels(f, d)
    assert [r.image for r in rows] == ["a.jpg", "d.jpg"]
    assert rows[0].accepted == {"navy", "black"}
    assert rejects[0] == "labels.csv:3: no image"
    assert "labels.csv:4" in rejects[1] and "'sky-blue'" in rejects[1]
    assert "labels.csv:5" in rejects[2] and "'wine'" in rejects[2]
    (tmp_path / "bad.csv").write_text("photo,colour\nx.jpg,red\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        read_labels(tmp_path / "bad.csv", d)


def test_shipped_label_files_are_valid_and_disjoint(d):
    train, bad_t = read_labels(LABELS / "train.csv", d)
    v1, bad_1 = read_labels(LABELS / "val_rater1.csv", d)
    v2, bad_2 = read_labels(LABELS / "val_rater2.csv", d)
    assert not (bad_t or bad_1 or bad_2)
    assert len(train) == 5331 and len(v1) == len(v2) == 400
    assert len({g.key for g in train}) == 5331
    assert [g.key for g in v1] == [g.key for g in v2]          # the same garments, two raters
    assert not {g.key for g in train} & {g.key for g in v1}
    truth = REPO / "benchmarks" / "data" / "colour_truth.csv"
    test_photos = {r["image"] for r in csv.DictReader(truth.open(encoding="utf-8"))}
    assert not test_photos & {g.image for g in train + v1}


# ------------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def small_run(shared_data, tmp_path_factory) -> tuple[Path, list[str]]:
    """A one-epoch namer run on a few labelled garments: its folder and its label options."""
    from fashionlens.cli import app

    tmp = tmp_path_factory.mktemp("namer")

    def head(name: str, n: int) -> str:
        lines = (LABELS / name).read_text(encoding="utf-8").splitlines()[: n + 1]
        out = tmp / name
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(out)

    labels = ["--data", str(shared_data), "--train", head("train.csv", 24),
              "--val", head("val_rater1.csv", 10), "--val", head("val_rater2.csv", 10)]
    out = tmp / "colour-namer"
    result = CliRunner().invoke(app, [
        "train", "colour-namer", *labels, "--out", str(out), "--epochs", "1",
        "--batch-size", "8", "--max-train-batches", "2", "--workers", "0", "--image-size", "64",
        "--no-int8"])
    assert result.exit_code == 0, result.output
    return out, labels


def test_train_command_writes_a_namer_bundle_the_product_uses(small_run, tmp_path):
    out, _ = small_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["name"] == "colour-namer" and manifest["classes"] == ColourDictionary.load().ids
    assert "--val" in manifest["training"]["command"]
    assert manifest["training"]["command"].count("--val") == 2
    assert manifest["metrics"]["validation"]["garments"] == 10
    assert manifest["preprocessing"]["size"] == 64 and manifest["view"]["size"] == 64
    assert manifest["default_variant"] == "fp32" and list(manifest["files"]) == ["fp32"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["history"][0]["train_loss"])     # it did train
    assert "int8" not in metrics["validation"]                  # --no-int8
    assert (out / "README.md").read_text().startswith("# Model card: colour-namer")

    namer = ColourNamer(out)
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[:, :] = (30, 40, 120)
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    found = colours_of_region(rgb, mask, namer=namer)
    assert found.main in ColourDictionary.load().ids
    assert found.main == found.colours[0].name
    (tmp_path / "colour-namer").symlink_to(out, target_is_directory=True)
    assert default_namer(tmp_path).bundle.path == out.resolve()
    assert default_namer(tmp_path / "nowhere") is None


def test_finishing_a_run_trains_nothing_and_quantises_on_validation(small_run, tmp_path):
    """--epochs 0 --init: the parent's weights as they are; INT8 tried, its own stacker."""
    import torch

    from fashionlens.cli import app

    parent, labels = small_run
    out = tmp_path / "finished"
    result = CliRunner().invoke(app, [
        "train", "colour-namer", *labels, "--out", str(out), "--epochs", "0",
        "--init", str(parent), "--image-size", "64", "--workers", "0",
        "--note", "finished for a test"])
    assert result.exit_code == 0, result.output
    mine = torch.load(out / "checkpoint.pt", weights_only=True)["state_dict"]
    theirs = torch.load(parent / "checkpoint.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)          # nothing trained
    manifest = json.loads((out / "manifest.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["history"] == json.loads((parent / "metrics.json").read_text())["history"]
    assert manifest["training"]["init"]["command"].startswith("fashionlens train colour-namer")
    assert "finished for a test" in manifest["training"]["notes"]
    q = metrics["validation"]["int8"]
    assert q["tried"] and q["tried"][0]["keep_fp32"] == "none"
    assert q["calibration_views"] == 24                      # every training garment (< 256)
    assert q["holds"] == (manifest["default_variant"] == "int8")
    assert set(manifest["stackers"]) == set(manifest["files"])
    assert (out / manifest["files"][manifest["default_variant"]]).is_file()
    card = (out / "README.md").read_text()
    assert "INT8 (static, calibrated on 24 training views)" in card
    assert "finished for a test" in card
    for variant in manifest["files"]:
        namer = ColourNamer(out, variant=variant)
        assert namer.variant == variant
        assert namer.stacker.to_json() == manifest["stackers"][variant]
    assert ColourNamer(out).variant == manifest["default_variant"]


def test_finishing_refuses_other_label_files(small_run, tmp_path):
    from fashionlens.cli import app

    parent, labels = small_run
    other = tmp_path / "train.csv"
    rows = (LABELS / "train.csv").read_text(encoding="utf-8").splitlines()
    other.write_text("\n".join([rows[0], *rows[30:54]]) + "\n", encoding="utf-8")
    changed = [str(other) if a.endswith("train.csv") else a for a in labels]
    result = CliRunner().invoke(app, [
        "train", "colour-namer", *changed, "--out", str(tmp_path / "x"), "--epochs", "0",
        "--init", str(parent), "--image-size", "64", "--workers", "0", "--no-int8"])
    assert result.exit_code == 2
    assert "other label files" in " ".join(result.output.split())
    no_init = CliRunner().invoke(app, [
        "train", "colour-namer", *labels, "--out", str(tmp_path / "y"), "--epochs", "0",
        "--image-size", "64", "--workers", "0", "--no-int8"])
    assert no_init.exit_code == 2 and "--init" in " ".join(no_init.output.split())


# ------------------------------------------------------------------------------ the shipped namer
@pytest.fixture(scope="module")
def namer() -> ColourNamer:
    if not (BUNDLE / "manifest.json").is_file():
        pytest.skip("no colour-namer bundle in models/")
    return ColourNamer(BUNDLE)


def test_shipped_namer_names_plain_garments_as_the_pixels_do(namer, d):
    for rgb, expected in (((200, 30, 30), "red"), ((245, 245, 245), "white"),
                          ((30, 40, 120), "blue"), ((240, 200, 20), "yellow")):
        img = np.full((120, 120, 3), 170, np.uint8)     # a grey backdrop
        img[20:100, 30:90] = rgb
        mask = np.zeros((120, 120), bool)
        mask[20:100, 30:90] = True
        assert colours_of_region(img, mask).main == expected
        assert colours_of_region(img, mask, namer=namer).main == expected


def test_outfit_garments_are_named_in_one_batch(namer, d):
    img = np.full((100, 60, 3), 200, np.uint8)
    img[10:50] = (200, 30, 30)
    img[50:95] = (30, 40, 120)
    label_map = np.zeros((100, 60), np.uint8)
    label_map[10:50] = 1
    label_map[50:95] = 2
    found = dict(colours_of_garments(img, label_map, ["background", "top", "skirt"],
                                     namer=namer))
    assert found["top"].main == "red" and found["skirt"].main == "blue"
    small = dict(colours_of_garments(img, label_map, ["background", "top", "skirt"],
                                     namer=namer, namer_min_share=0.5))
    pixels = dict(colours_of_garments(img, label_map, ["background", "top", "skirt"]))
    assert small == pixels          # no garment covers half the photo: pixels name them all


def test_label_sets_are_reproducible_draws(shared_data):
    """The review-sheet tool draws exactly the garments of the label files again."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "colour_review_sheets", REPO / "tools" / "colour_review_sheets.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    truth = REPO / "benchmarks" / "data" / "colour_truth.csv"
    exclude = {r["image"] for r in csv.DictReader(truth.open(encoding="utf-8"))}
    val = tool.draw(shared_data, 240, 160, seed=1, exclude=exclude)
    keys = ("source", "image", "garment")

    def rows(name: str) -> list[tuple]:
        with (LABELS / name).open(encoding="utf-8") as f:
            return [tuple(r[k] for k in keys) for r in csv.DictReader(f)]

    assert [tuple(r[k] for k in keys) for r in val] == rows("val_rater1.csv")
    train = tool.draw(shared_data, 1000, 600, seed=3,
                      exclude=exclude | {r["image"] for r in val})
    assert [tuple(r[k] for k in keys) for r in train] == rows("train.csv")[:1600]
    more = tool.draw(shared_data, 1100, 500, seed=4,
                     exclude=exclude | {r["image"] for r in val + train})
    assert [tuple(r[k] for k in keys) for r in more] == rows("train.csv")[1600:3200]
    # the fourth draw asked for 400 outfit garments; only 331 were left
    last = tool.draw(shared_data, 1800, 400, seed=5,
                     exclude=exclude | {r["image"] for r in val + train + more})
    assert [tuple(r[k] for k in keys) for r in last] == rows("train.csv")[3200:]


def test_pixels_decide_only_for_a_solid_colour_on_a_reference(d):
    from fashionlens.colour_namer import pixels_decide

    burgundy = np.array(d.colours["burgundy"].lab[0], float)
    on = _summary(d, [burgundy, burgundy + [1.0, 0.0, 0.0]])
    assert on.reference_main == "burgundy" and pixels_decide(on, d) == "burgundy"
    off = _summary(d, [burgundy + [8.0, -10.0, 0.0]])
    assert pixels_decide(off, d) is None                    # between references: ask the namer
    mixed = summarise(burgundy[None], np.ones(1), burgundy[None], np.ones(1),
                      reference_main="burgundy", shares={"burgundy": 0.6, "white": 0.4},
                      main_lab=burgundy)
    assert pixels_decide(mixed, d) is None                  # not solid: ask the namer


def test_the_namer_is_not_asked_when_the_pixels_sit_on_a_reference(namer, d, monkeypatch):
    from skimage.color import lab2rgb

    always_red = Stacker(weights=np.zeros(len(FEATURES)), mean=np.zeros(len(FEATURES)),
                         scale=np.ones(len(FEATURES)), prior={"red": 100.0})
    monkeypatch.setattr(namer, "stacker", always_red)
    mask = np.zeros((120, 120), bool)
    mask[20:100, 30:90] = True
    for name, shift in (("burgundy", 0.0), ("teal", 0.0), ("burgundy", 12.0)):
        lab = np.array(d.colours[name].lab[0], float) + [shift, 0.0, 0.0]
        rgb = np.round(lab2rgb(lab[None, None, :])[0, 0] * 255).astype(np.uint8)
        img = np.full((120, 120, 3), 235, np.uint8)
        img[mask] = rgb
        expected = name if shift == 0.0 else "red"      # off the reference: the namer decides
        assert colours_of_region(img, mask, namer=namer).main == expected
