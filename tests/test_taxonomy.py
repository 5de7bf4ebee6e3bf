from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from fashionlens.core.taxonomy import Taxonomy

CLASSES = [
    "T-Shirt", "Longsleeve", "Pants", "Shoes", "Shirt", "Dress", "Outwear", "Shorts", "Hat",
    "Skirt", "Polo", "Undershirt", "Blazer", "Hoodie", "Body", "Top", "Blouse",
]  # fmt: skip
LANGUAGES = ["en", "es", "ca", "ro", "ru"]


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.load()


def _tiny() -> dict:
    def names(word: str) -> dict:
        return {"en": [word.title(), word]}

    return {
        "languages": ["en"],
        "nodes": [
            {"id": "garment", "parent": None, "names": names("garment")},
            {"id": "top", "parent": "garment", "names": names("upper")},
            {"id": "shirt", "parent": "top", "class": "Shirt", "names": names("shirt")},
            {"id": "blouse", "parent": "top", "class": "Blouse", "names": names("blouse")},
            {"id": "pants", "parent": "garment", "class": "Pants", "names": names("pants")},
        ],
    }


# ---------------------------------------------------------------- packaged tree
def test_all_classes_are_leaves_exactly_once(tax):
    leaves = tax.leaf_classes()
    assert len(leaves) == 17
    assert sorted(leaves) == sorted(CLASSES)
    for cls in CLASSES:
        node = tax.nodes[tax.node_for_class(cls)]
        assert node.is_leaf
        assert node.leaf_class == cls
        assert tax.covers(node.id) == [cls]


def test_every_node_has_names_in_five_languages(tax):
    assert tax.languages == LANGUAGES
    for nid, node in tax.nodes.items():
        assert nid == nid.lower()
        for lang in LANGUAGES:
            names = node.names[lang]
            assert names and all(isinstance(n, str) and n.strip() for n in names), (nid, lang)
        assert node.name == node.names["en"][0]
        if node.is_leaf:  # leaves carry several real synonyms
            assert all(len(node.names[lang]) >= 3 for lang in LANGUAGES), nid


def test_tree_shape(tax):
    assert tax.root == "garment"
    assert tax.node_ids[0] == "garment"
    assert tax.path("t-shirt") == ["garment", "upper-body", "tops", "tee-like", "t-shirt"]
    assert tax.path("hoodie") == ["garment", "upper-body", "outerwear", "hoodie"]
    assert tax.covers("shirt-like") == ["Shirt", "Blouse"]
    assert sorted(tax.covers("outerwear")) == ["Blazer", "Hoodie", "Outwear"]
    assert sorted(tax.covers("bottoms")) == ["Pants", "Shorts", "Skirt"]
    assert sorted(tax.covers("one-piece")) == ["Body", "Dress"]
    # hoodies and longsleeves meet at "upper-body"
    common = [v for v in tax.path("hoodie") if v in tax.path("longsleeve")]
    assert common[-1] == "upper-body"
    assert tax.depth("garment") == 0 and tax.depth("shoes") == 2 and tax.depth("polo") == 4
    assert tax.is_ancestor_or_self("tops", "blouse")
    assert tax.is_ancestor_or_self("blouse", "blouse")
    assert not tax.is_ancestor_or_self("blouse", "tops")
    assert not tax.is_ancestor_or_self("bottoms", "dress")
    assert set(tax.covers("garment")) == set(CLASSES)
    with pytest.raises(KeyError, match="nope"):
        tax.path("nope")
    with pytest.raises(KeyError, match="Sweater"):
        tax.node_for_class("Sweater")


def test_preorder(tax):
    seen: set[str] = set()
    for nid in tax.node_ids:
        parent = tax.nodes[nid].parent
        assert parent is None or parent in seen
        seen.add(nid)
    assert len(seen) == len(tax) == len(tax.nodes)


def test_membership(tax):
    m = tax.membership(CLASSES)
    assert m.shape == (len(tax.node_ids), 17)
    assert set(np.unique(m)) == {0.0, 1.0}
    assert np.all(m[tax.index("garment")] == 1)
    for j, cls in enumerate(CLASSES):
        leaf = tax.node_for_class(cls)
        assert m[tax.index(leaf), j] == 1 and m[tax.index(leaf)].sum() == 1
        assert m[:, j].sum() == tax.depth(leaf) + 1  # the leaf and all its ancestors
    row = m[tax.index("shirt-like")]
    assert row[CLASSES.index("Shirt")] == 1 and row[CLASSES.index("Blouse")] == 1
    assert row.sum() == 2


def test_membership_names_missing_and_extra(tax):
    with pytest.raises(ValueError, match="Blouse") as err:
        tax.membership(CLASSES[:-1])
    assert "missing" in str(err.value)
    with pytest.raises(ValueError, match="Sweater"):
        tax.membership([*CLASSES, "Sweater"])
    with pytest.raises(ValueError, match="duplicated"):
        tax.membership([*CLASSES, "Shoes"])


def test_round_trip_and_load_from_path(tax, tmp_path):
    again = Taxonomy.from_dict(json.loads(json.dumps(tax.to_dict())))
    assert again.to_dict() == tax.to_dict()
    assert again.node_ids == tax.node_ids
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(_tiny()), encoding="utf-8")
    mine = Taxonomy.load(path)
    assert mine.leaf_classes() == ["Shirt", "Blouse", "Pants"]
    assert mine.covers("top") == ["Shirt", "Blouse"]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        Taxonomy.load(bad)


# ---------------------------------------------------------------- lookup
@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Camiseta roja manga corta", ["t-shirt"]),
        ("Платье синее", ["dress"]),
        ("blue denim jeans", ["pants"]),
        ("polo shirt", ["polo"]),
        ("Men's POLO SHIRT Ralph Lauren", ["polo"]),
        ("Long sleeve t-shirt black", ["longsleeve"]),
        ("Nike tshirt", ["t-shirt"]),
        ("T shirts 3-pack", ["t-shirt"]),
        ("Tricou polo alb", ["polo"]),
        ("Camasa barbati in carouri", ["shirt"]),  # no diacritics in the title
        ("Cămașă bărbați", ["shirt"]),
        ("Рубашка-поло мужская", ["polo"]),
        ("Кроссовки Adidas 42 размер", ["shoes"]),
        ("Zapatillas deportivas Nike", ["shoes"]),
        ("Pantofi sport damă", ["shoes"]),
        ("Sabatilles de running", ["shoes"]),
        ("Faldilla plisada", ["skirt"]),
        ("Худи оверсайз", ["hoodie"]),
        ("Кофта женская", ["upper-body"]),
        ("Пуховик зимний", ["outwear"]),
        ("Sudadera con capucha gris", ["hoodie"]),
        ("Blazer negro mujer", ["blazer"]),
        ("red dress and leather boots", ["dress", "shoes"]),
        ("Samsung Galaxy S21", []),
        ("", []),
    ],
)
def test_lookup(tax, title, expected):
    assert tax.lookup(title) == expected


def test_lookup_whole_words_and_language(tax):
    assert tax.lookup("hatchback") == []  # "hat" inside a word
    assert tax.lookup("topless") == []
    assert tax.lookup("camiseta", lang="es") == ["t-shirt"]
    assert tax.lookup("camiseta", lang="ru") == []
    assert tax.lookup("Футболка", lang="ru") == ["t-shirt"]
    assert tax.lookup("Футболки", lang="ru") == ["t-shirt"]
    with pytest.raises(ValueError, match="xx"):
        tax.lookup("shirt", lang="xx")


def test_names_accessor(tax):
    assert tax.names("dress", "ru")[0] == "Платье"
    assert tax.nodes["shoes"].display_name("es") == "Zapatos"


# ---------------------------------------------------------------- validation
def _expect_error(d: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Taxonomy.from_dict(d)


def test_tiny_is_valid():
    assert Taxonomy.from_dict(_tiny()).leaf_classes() == ["Shirt", "Blouse", "Pants"]


def test_duplicate_id():
    d = _tiny()
    d["nodes"].append(copy.deepcopy(d["nodes"][2]))
    _expect_error(d, "duplicate node id 'shirt'")


def test_leaf_without_class():
    d = _tiny()
    del d["nodes"][4]["class"]
    _expect_error(d, "leaf 'pants' has no 'class'")


def test_class_on_inner_node():
    d = _tiny()
    d["nodes"][1]["class"] = "Top"
    _expect_error(d, "'top' has children")


def test_duplicate_class():
    d = _tiny()
    d["nodes"][3]["class"] = "Shirt"
    _expect_error(d, "class 'Shirt' is on both")


def test_two_roots():
    d = _tiny()
    d["nodes"][4]["parent"] = None
    _expect_error(d, "exactly one root")


def test_cycle():
    d = _tiny()
    d["nodes"][1]["parent"] = "shirt"  # top -> shirt -> top
    _expect_error(d, "cycle")
    d = _tiny()
    d["nodes"][4]["parent"] = "pants"
    _expect_error(d, "own parent")


def test_unknown_parent_and_bad_id():
    d = _tiny()
    d["nodes"][4]["parent"] = "bottoms"
    _expect_error(d, "unknown parent 'bottoms'")
    d = _tiny()
    d["nodes"][4]["id"] = "Pants"
    _expect_error(d, "lowercase")


def test_missing_language_and_conflicting_synonym():
    d = _tiny()
    d["languages"] = ["en", "es"]
    _expect_error(d, "no names in \\['es'\\]")
    d = _tiny()
    d["nodes"][3]["names"]["en"].append("Shirt")
    _expect_error(d, "names both 'shirt' and 'blouse'")
    d = _tiny()
    d["nodes"][3]["names"]["en"] = []
    _expect_error(d, "non-empty list")
