from __future__ import annotations

import csv
import shutil
from collections import Counter

import numpy as np
import pytest

from fashionlens.datasets import (
    LabelledDataset,
    LabelledImage,
    Split,
    read_clothing_dataset,
    read_csv_manifest,
    read_dataset,
    read_image_folder,
    split_fingerprint,
    stratified_split,
)

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fx(fixtures):
    return fixtures / "datasets"


@pytest.fixture(scope="module")
def clothing(shared_data) -> LabelledDataset:
    return read_clothing_dataset(shared_data / "clothing")


@pytest.fixture(scope="module")
def clothing_rows(shared_data) -> list[dict[str, str]]:
    with (shared_data / "clothing" / "labels.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------- image folder


def test_image_folder_classes_counts_and_skips(fx):
    ds = read_image_folder(fx / "folder")
    # Empty/ has no photo, .hidden-class/ is hidden: neither is a class
    assert ds.classes == ["Dress", "Pants", "Shirt"]
    assert ds.class_counts() == {"Dress": 2, "Pants": 1, "Shirt": 2}
    names = {item.path.name for item in ds.items}
    assert names == {"dress-1.jpg", "dress-2.JPG", "pants-1.jpeg", "shirt-1.jpg", "shirt-2.png"}
    # hidden files, nested folders, non-images and files in the root are not read
    assert not names & {".hidden.jpg", "dress-3.jpg", "notes.txt", "stray.jpg", "x.jpg"}
    assert all(item.path.is_absolute() and item.path.is_file() for item in ds.items)
    assert ds.rejects == []
    assert list(ds.labels()) == [ds.classes.index(item.label) for item in ds.items]
    assert ds.labels().dtype == np.int64


def test_image_folder_extensions_option(fx):
    ds = read_image_folder(fx / "folder", extensions=(".png",))
    assert [item.path.name for item in ds.items] == ["shirt-2.png"]
    assert ds.classes == ["Shirt"]


def test_image_folder_missing_root(tmp_path):
    with pytest.raises(NotADirectoryError):
        read_image_folder(tmp_path / "nope")


# ---------------------------------------------------------------- CSV manifest


def test_csv_manifest_good_file(fx):
    ds = read_csv_manifest(fx / "manifest" / "labels.csv")
    assert ds.rejects == []
    assert ds.classes == ["Dress", "Pants", "Shirt"]
    assert len(ds) == 4
    first = ds.items[0]
    assert first.path == (fx / "manifest" / "images" / "photo-1.jpg").resolve()
    assert first.meta == {"colour": "white", "shop": "north"}
    assert first.group is None


def test_csv_manifest_rejects_bad_rows_and_keeps_good(fx):
    ds = read_csv_manifest(fx / "manifest" / "malformed.csv")
    assert [item.path.name for item in ds.items] == ["photo-1.jpg", "photo-4.jpg", "photo-5.jpg"]
    assert ds.classes == ["Shirt", "Skirt"]  # " Skirt " is stripped
    assert ds.items[2].meta["colour"] == "brown, dark"  # quoted comma kept
    rejects = dict(ds.rejects)
    assert sorted(rejects) == [3, 4, 5, 8]  # line numbers, header is line 1, blank line 6
    assert "expected 4 columns, got 3" in rejects[3]
    assert "empty 'label'" in rejects[4]
    assert "missing file" in rejects[5] and "no-such-photo.jpg" in rejects[5]
    assert "duplicate of line 2" in rejects[8]
    assert "rejected" in ds.describe()


def test_csv_manifest_columns_group_and_root(fx, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,category,shop\nphoto-2.jpg,Pants,north\nphoto-3.jpg,Dress,\n")
    ds = read_csv_manifest(
        manifest,
        image_column="file",
        label_column="category",
        group_column="shop",
        root=fx / "manifest" / "images",
    )
    assert ds.rejects == []
    assert [item.group for item in ds.items] == ["north", None]
    assert all(item.meta == {} for item in ds.items)
    groups = ds.groups()
    assert groups[0] == "north" and groups[1] != groups[0]
    with pytest.raises(ValueError, match="no column"):
        read_csv_manifest(manifest, group_column="sender_id")


# ---------------------------------------------------------------- clothing layout


def test_clothing_layout_fixture(fx):
    ds = read_clothing_dataset(fx / "clothing")
    assert ds.classes == ["Hat", "Pants", "T-Shirt"]  # Not sure / Other left out
    assert len(ds) == 5 and ds.rejects == []
    assert {item.group for item in ds.items} == {"1", "2", "3", "4"}
    assert all(isinstance(item.meta["kids"], bool) for item in ds.items)
    assert sum(item.meta["kids"] for item in ds.items) == 2
    adults = read_clothing_dataset(fx / "clothing", include_kids=False)
    assert adults.classes == ["Pants", "T-Shirt"] and len(adults) == 3
    everything = read_clothing_dataset(fx / "clothing", exclude_labels=())
    assert len(everything) == 7 and "Not sure" in everything.classes


def test_read_clothing_dataset_real(clothing, clothing_rows):
    assert len(clothing_rows) == 4582
    kept = [row for row in clothing_rows if row["label"] not in ("Not sure", "Other")]
    assert len(clothing) == len(kept) == 4331
    assert len(clothing.classes) == 17
    assert clothing.classes == sorted({row["label"] for row in kept})
    assert clothing.class_counts() == dict(sorted(Counter(r["label"] for r in kept).items()))
    assert clothing.rejects == []
    assert all(item.group for item in clothing.items)
    kids = [item for item in clothing.items if item.meta["kids"]]
    assert len(kids) == sum(row["kids"] == "True" for row in kept)
    adults = read_clothing_dataset(clothing.root, include_kids=False)
    assert len(adults) == len(clothing) - len(kids)


# ---------------------------------------------------------------- dispatch


def test_read_dataset_dispatch(fx, tmp_path):
    assert read_dataset(fx / "clothing").classes == ["Hat", "Pants", "T-Shirt"]
    assert read_dataset(fx / "clothing", include_kids=False).classes == ["Pants", "T-Shirt"]
    # a folder with labels.csv but no sender_id is a manifest, not class folders
    assert len(read_dataset(fx / "manifest")) == 4
    assert len(read_dataset(fx / "manifest" / "malformed.csv").rejects) == 4
    assert read_dataset(fx / "folder").classes == ["Dress", "Pants", "Shirt"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no labels.csv and no class"):
        read_dataset(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="expected a .csv"):
        read_dataset(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError):
        read_dataset(tmp_path / "missing")


# ---------------------------------------------------------------- dataset methods


def test_fingerprint_stable_and_label_sensitive(fx, tmp_path):
    ds = read_image_folder(fx / "folder")
    assert ds.fingerprint() == read_image_folder(fx / "folder").fingerprint()
    # same data elsewhere on disk: same fingerprint (paths are relative to the root)
    copy = tmp_path / "copy"
    shutil.copytree(fx / "folder", copy)
    assert read_image_folder(copy).fingerprint() == ds.fingerprint()
    # one label changed: different fingerprint
    relabelled = list(ds.items)
    relabelled[0] = LabelledImage(path=relabelled[0].path, label="Skirt")
    changed = LabelledDataset.from_items(relabelled, root=ds.root)
    assert changed.fingerprint() != ds.fingerprint()
    # order does not matter
    shuffled = LabelledDataset.from_items(reversed(ds.items), root=ds.root)
    assert shuffled.fingerprint() == ds.fingerprint()


def test_fingerprint_real_data_is_stable(clothing):
    again = read_dataset(clothing.root)
    assert again.fingerprint() == clothing.fingerprint()
    assert len(clothing.fingerprint()) == 64


def test_subset_keeps_class_list(fx):
    ds = read_image_folder(fx / "folder")
    sub = ds.subset([0, 1])
    assert sub.classes == ds.classes
    assert [item.label for item in sub.items] == ["Dress", "Dress"]
    assert list(sub.labels()) == [0, 0]
    assert sub.class_counts() == {"Dress": 2, "Pants": 0, "Shirt": 0}
    mask = np.zeros(len(ds), dtype=bool)
    mask[-1] = True
    assert ds.subset(mask).items == [ds.items[-1]]


def test_describe_mentions_each_class(clothing):
    text = clothing.describe()
    for name in clothing.classes:
        assert name in text
    assert "4331" in text and "imbalance ratio 43.0" in text
    counts_col = [
        line.index(str(n)) + len(str(n))
        for line in text.splitlines()
        for name, n in clothing.class_counts().items()
        if line.startswith(name + " ")
    ]
    assert len(set(counts_col)) == 1  # counts right-aligned in one column


# ---------------------------------------------------------------- splits


def _check_partition(split: Split, n: int) -> None:
    parts = [split.train, split.val, split.test]
    everything = np.concatenate(parts)
    assert everything.size == n
    assert np.array_equal(np.sort(everything), np.arange(n))
    for part in parts:
        assert np.all(np.diff(part) > 0)  # sorted, no repeats
        assert part.dtype == np.int64


def test_split_small_classes_reach_every_part():
    labels = np.array([0] * 3 + [1] * 20 + [2] * 2 + [3])
    split = stratified_split(labels, seed=3)
    _check_partition(split, labels.size)
    for part in (split.train, split.val, split.test):
        assert {0, 1} <= set(labels[part].tolist())
    assert np.sum(labels[split.train] == 1) == 16
    assert 3 in labels[split.train]  # a class of one goes to train


def test_split_deterministic_and_seed_dependent():
    labels = np.repeat(np.arange(5), [50, 30, 20, 10, 3])
    a = stratified_split(labels, seed=7)
    assert a == stratified_split(labels, seed=7)
    assert split_fingerprint(a) == split_fingerprint(stratified_split(labels, seed=7))
    b = stratified_split(labels, seed=8)
    assert a != b and split_fingerprint(a) != split_fingerprint(b)


def test_split_golden_for_seed_zero():
    # fixed expectations: if this changes, old seeds no longer reproduce old splits
    labels = np.repeat([0, 1], [6, 4])
    split = stratified_split(labels, seed=0)
    assert split.train.tolist() == [0, 1, 3, 4, 7, 9]
    assert split.val.tolist() == [2, 6]
    assert split.test.tolist() == [5, 8]
    assert split_fingerprint(split) == (
        "d84649518f2a0ef9f5908e92c7b199695fb3e630e8c1d506060aa581faf39f17"
    )
    grouped = stratified_split(labels, seed=0, groups=[0, 0, 1, 2, 3, 4, 5, 5, 6, 7])
    assert {name: part.tolist() for name, part in grouped.parts().items()} == {
        "train": [0, 1, 3, 4, 6, 7],
        "val": [5, 8],
        "test": [2, 9],
    }


def test_split_fraction_validation():
    with pytest.raises(ValueError):
        stratified_split(np.zeros(10), fractions=(0.5, 0.5))
    with pytest.raises(ValueError):
        stratified_split(np.zeros(10), fractions=(0.8, 0.3, 0.1))
    with pytest.raises(ValueError):
        stratified_split(np.zeros(10), groups=np.zeros(9))
    two_way = stratified_split(np.repeat([0, 1], 10), fractions=(0.8, 0.2, 0.0))
    assert two_way.test.size == 0 and two_way.val.size == 4


def test_split_real_data(clothing):
    labels = clothing.labels()
    split = stratified_split(labels, seed=0)
    _check_partition(split, len(clothing))
    for got, want in zip(split.fractions().values(), (0.8, 0.1, 0.1), strict=True):
        assert abs(got - want) <= 0.02
    for part in (split.train, split.val, split.test):
        assert set(labels[part].tolist()) == set(range(len(clothing.classes)))
    assert stratified_split(labels, seed=0) == split
    assert stratified_split(labels, seed=1) != split


def test_group_split_real_data(clothing):
    labels, groups = clothing.labels(), clothing.groups()
    split = stratified_split(labels, seed=0, groups=groups)
    _check_partition(split, len(clothing))
    side = split.assignment(len(clothing))
    sender_sides: dict[str, set[int]] = {}
    for sender, part in zip(groups, side, strict=True):
        sender_sides.setdefault(sender, set()).add(int(part))
    assert all(len(parts) == 1 for parts in sender_sides.values())
    assert len({s for s, p in sender_sides.items() if p != {0}}) > 10  # val/test get senders
    for got, want in zip(split.fractions().values(), (0.8, 0.1, 0.1), strict=True):
        assert abs(got - want) <= 0.02
    for part in (split.train, split.val, split.test):
        assert set(labels[part].tolist()) == set(range(len(clothing.classes)))
    assert stratified_split(labels, seed=0, groups=groups) == split
    assert stratified_split(labels, seed=1, groups=groups) != split


def test_group_split_keeps_groups_synthetic():
    rng = np.random.Generator(np.random.PCG64(123))
    labels = rng.integers(0, 4, size=300)
    groups = rng.integers(0, 40, size=300)
    split = stratified_split(labels, groups=groups, seed=5)
    _check_partition(split, 300)
    side = split.assignment(300)
    for g in np.unique(groups):
        assert np.unique(side[groups == g]).size == 1


def test_group_split_repairs_missing_rare_class():
    # class 1 (3 items) sits in three groups of 11 photos each; by size alone they would all
    # go to train, the repair pass moves them so class 1 reaches val and test too
    labels = np.array([0] * 100 + [1] * 3 + [0] * 30)
    groups = np.array(list(range(100)) + [200, 201, 202] + [200] * 10 + [201] * 10 + [202] * 10)
    split = stratified_split(labels, groups=groups, seed=0)
    _check_partition(split, labels.size)
    for part in (split.train, split.val, split.test):
        assert 1 in labels[part]
