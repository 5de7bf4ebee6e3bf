"""`fashionlens colours PATH…`: the colour names of the garment in each product photo.

A thin call into :mod:`fashionlens.colour`. Each photo is taken as a single-garment product
photo: the garment is separated from its backdrop and from skin
(:func:`~fashionlens.colour.garment_mask_for_product_photo`), unless ``--mask`` gives the
garment's pixels. The learned colour namer (``models/colour-namer``, when installed) chooses
the main colour, listed first; ``--no-namer`` leaves the largest colour first. With
``--json`` each photo is one line::

    {"image": "shirt.jpg", "garments": [{"label": "garment", "pattern": "solid",
      "colours": [{"name": "navy", "display": "Navy", "share": 0.93, "rgb": [31, 38, 64]}, ...]}]}

A photo that cannot be read is one line ``{"image": path, "error": reason}`` and the batch
goes on (as in ``fashionlens classify``).

Register on the main app with ``app.command("colours")(colours)``.
"""
from __future__ import annotations

import json
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from fashionlens.commands.progress import tracked

__all__ = ["colours", "colours_of_photo"]

err = Console(stderr=True)
WORK_SIZE = 512  # long side the photo is read at: plenty for colour, fast for big photos


def _load_rgb(source: str, limits) -> np.ndarray:
    from PIL import Image

    from fashionlens.imaging import open_image

    img = open_image(source, limits=limits, draft_size=WORK_SIZE)
    if max(img.size) > WORK_SIZE:
        img.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(img)


def _load_mask(path: str, shape: tuple[int, int], limits) -> np.ndarray:
    """A garment mask PNG (non-black = garment), resized to the photo if needed."""
    from PIL import Image

    from fashionlens.imaging import open_image

    img = open_image(path, limits=limits).convert("L")
    if img.size != (shape[1], shape[0]):
        img = img.resize((shape[1], shape[0]), Image.Resampling.NEAREST)
    return np.asarray(img) > 0


def colours_of_photo(
    source: str, *, mask: str | None = None, max_colours: int = 4, limits=None, namer=None
) -> dict:
    """The JSON object ``fashionlens colours --json`` prints for one photo.

    ``namer``: a learned main-colour namer (:class:`fashionlens.colour_namer.ColourNamer`);
    without one the largest named colour is the main one. Raises
    :class:`fashionlens.imaging.InvalidImage` for a photo (or mask) that cannot be read.
    """
    from fashionlens.colour import colours_of_region, garment_mask_for_product_photo
    from fashionlens.imaging import DEFAULT_LIMITS

    limits = limits or DEFAULT_LIMITS
    rgb = _load_rgb(source, limits)
    region = (
        _load_mask(mask, rgb.shape[:2], limits)
        if mask is not None
        else garment_mask_for_product_photo(rgb)
    )
    found = colours_of_region(rgb, region, max_colours=max_colours, namer=namer)
    return {"image": str(source), "garments": [found.to_json("garment")]}


def colours(
    paths: Annotated[list[str], typer.Argument(help="Photos or folders of photos.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    mask: Annotated[str | None, typer.Option(
        "--mask", help="PNG mask of the garment (non-black pixels) for a single photo; "
                       "by default the backdrop and skin are removed automatically.")] = None,
    max_colours: Annotated[int, typer.Option(
        "--max-colours", min=1, max=8, help="At most this many colours per garment.")] = 4,
    learned: Annotated[bool, typer.Option(
        "--namer/--no-namer", help="Let the learned colour namer (models/colour-namer) choose "
                                   "the main colour; --no-namer: the largest colour is main.")]
    = True,
) -> None:
    """Name the colours of the garment in each product photo (backdrop and skin left out)."""
    from fashionlens.cli import expand_inputs
    from fashionlens.core.results import ImageFailure
    from fashionlens.core.settings import get_settings
    from fashionlens.imaging import ImageLimits, InvalidImage

    sources = expand_inputs(paths)
    if not sources:
        err.print("[red]no photos found[/red]")
        raise typer.Exit(2)
    if mask is not None and len(sources) != 1:
        raise typer.BadParameter("--mask needs exactly one photo", param_hint="--mask")
    s = get_settings()
    limits = ImageLimits(s.max_image_bytes, s.max_image_pixels)
    namer = None
    if learned:
        from fashionlens.colour_namer import default_namer

        namer = default_namer(s.models_dir)
    failures = 0
    table = Table("image", "colours", "pattern")
    for source in tracked(sources, total=len(sources), description="naming colours",
                          console=err, json_out=json_out):
        try:
            doc = colours_of_photo(source, mask=mask, max_colours=max_colours, limits=limits,
                                   namer=namer)
        except InvalidImage as exc:
            failures += 1
            fail = ImageFailure(source, exc.reason, exc.code)
            if json_out:
                print(json.dumps(fail.to_json(), ensure_ascii=False), flush=True)
            else:
                table.add_row(source, "[red]error[/red]", exc.reason)
            continue
        if json_out:
            print(json.dumps(doc, ensure_ascii=False), flush=True)
        else:
            g = doc["garments"][0]
            named = ", ".join(f"{c['name']} {c['share']:.2f}" for c in g["colours"])
            table.add_row(source, named or "-", g["pattern"])
    if not json_out:
        Console().print(table)
    if failures:
        err.print(f"{failures} of {len(sources)} photos could not be read")
