from __future__ import annotations

import re

from fashionlens.core.text import ID_RE, SynonymMatcher, fold, synonym_key, synonym_pattern


def _matcher(**names: list[str]) -> SynonymMatcher:
    table: dict[str, list[str]] = {}
    for owner, synonyms in names.items():
        for s in synonyms:
            table.setdefault(synonym_key(s), []).append(owner.replace("_", "-"))
    return SynonymMatcher(table)


def test_fold_strips_diacritics_and_casefolds():
    assert fold("Cămașă") == "camasa"
    assert fold("BLEUMARÍN") == "bleumarin"
    assert fold("Ёлка") == "елка"
    assert fold("Straße") == "strasse"
    assert fold("l\u2019été") == "l'ete"


def test_synonym_key_joins_words_with_single_spaces():
    assert synonym_key("  T-Shirt ") == "t shirt"
    assert synonym_key("off_white\u2010ish") == "off white ish"


def test_id_re():
    assert ID_RE.match("t-shirt") and ID_RE.match("a1")
    assert not ID_RE.match("T-shirt") and not ID_RE.match("a--b") and not ID_RE.match("-a")


def test_separators_are_optional():
    m = _matcher(t_shirt=["t-shirt"])
    assert m.find("T shirt") == m.find("tshirt") == m.find("T_SHIRT") == ["t-shirt"]


def test_plural_s_after_latin_letter_only():
    m = _matcher(dress=["dress"], hat=["hat"], dress_ru=["платье"])
    assert m.find("two hats") == ["hat"]
    assert m.find("платьес") == []
    assert re.fullmatch(synonym_pattern("hat"), "hats")
    assert not re.fullmatch(synonym_pattern("платье"), "платьес")


def test_stem_star():
    m = _matcher(burgundy=["бордов*"])
    for word in ("бордовый", "Бордовая", "бордовое", "бордов"):
        assert m.find(f"Платье {word}") == ["burgundy"], word
    assert m.find("бордовыйййй") == []  # at most three more letters
    assert re.fullmatch(synonym_pattern("red*", stems=False), "red*")


def test_longest_match_wins_and_order_of_appearance():
    m = _matcher(navy=["navy blue", "navy"], blue=["blue"], white=["white"])
    assert m.find("Navy blue dress with white dots") == ["navy", "white"]
    assert m.find("white and blue, navy") == ["white", "blue", "navy"]


def test_whole_words_only():
    m = _matcher(red=["red"], tan=["tan"])
    assert m.find("tired standard") == []
    assert m.find("red_tan") == []
    assert m.find("red/tan") == ["red", "tan"]


def test_duplicates_removed_and_several_owners():
    m = SynonymMatcher({"top": ["tops", "garment"], "shirt": ["tops"]})
    assert m.find("top, shirt, top") == ["tops", "garment"]


def test_cyrillic():
    m = _matcher(dress=["Платье"], blue=["синий", "синее"])
    assert m.find("ПЛАТЬЕ синее") == ["dress", "blue"]
    assert m.find("Платьице") == []
