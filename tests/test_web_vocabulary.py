"""The web page's filter suggestions name only what the taxonomy and colour dictionary know."""

from __future__ import annotations

import re
from importlib.resources import files

from fashionlens.core.colours import ColourDictionary
from fashionlens.core.taxonomy import Taxonomy


def _datalist(html: str, list_id: str) -> list[str]:
    body = re.search(rf'<datalist id="{list_id}">(.*?)</datalist>', html, re.S)
    assert body, list_id
    return re.findall(r'<option value="([^"]+)">', body.group(1))


def test_filter_suggestions_match_the_data_files() -> None:
    html = files("fashionlens.web").joinpath("index.html").read_text(encoding="utf-8")
    colours = _datalist(html, "colour-names")
    assert colours == list(ColourDictionary.load().ids)  # every colour, dictionary order
    categories = _datalist(html, "categories")
    assert categories and set(categories) <= set(Taxonomy.load().node_ids)
