"""`fashionlens convert ...`: garment annotations between CCP masks, COCO, YOLO, plain box lists
and DeepFashion2. Each command is a thin call into ``fashionlens.datasets``.

A bad file or object does not stop a conversion: it is listed at the end with the reason, and
the command exits 0 when at least one image was converted (1 when none was, 2 for bad usage).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from fashionlens.commands.progress import progress_bar
from fashionlens.datasets.formats import (
    AnnotatedDataset,
    AnnotationError,
    deepfashion2_to_coco_extra,
    drop_fashionpedia_parts,
    read_coco,
    read_deepfashion2,
    write_box_list,
    write_coco,
    write_yolo,
)

convert_app = typer.Typer(
    no_args_is_help=True,
    help="Convert garment annotations: CCP masks, COCO (Fashionpedia, ModaNet), DeepFashion2 "
         "-> COCO, YOLO or a plain box list.")
err = Console(stderr=True)
MAX_LISTED = 50


class Target(StrEnum):
    coco = "coco"
    yolo = "yolo"
    list = "list"


def _bar(description: str):
    return progress_bar(description, console=err)


def _write(dataset: AnnotatedDataset, to: str, out: Path, image_root: str,
           errors: list[AnnotationError]) -> None:
    with _bar(f"writing {to}") as update:
        if to == "coco":
            write_coco(dataset, out, progress=update, errors=errors)
        elif to == "yolo":
            write_yolo(dataset, out, image_root=image_root, progress=update, errors=errors)
        else:
            write_box_list(dataset, out, image_root=image_root, progress=update, errors=errors)


def _finish(dataset: AnnotatedDataset, errors: list[AnnotationError], to: str,
            out: Path) -> None:
    if errors:
        err.print(f"[yellow]{len(errors)} problem(s), skipped:[/yellow]")
        for e in errors[:MAX_LISTED]:
            err.print(f"  {e}", markup=False, highlight=False, soft_wrap=True)
        if len(errors) > MAX_LISTED:
            err.print(f"  ... and {len(errors) - MAX_LISTED} more")
    bad_images = {e.source for e in errors}
    written = len(dataset.images)
    err.print(f"{written} image(s), {dataset.num_objects()} object(s), "
              f"{len(dataset.categories)} categories -> {to} at {out}"
              + (f"; {len(bad_images)} file(s) with problems" if errors else ""),
              soft_wrap=True)
    if written == 0:
        raise typer.Exit(1)


def _fail(exc: Exception) -> NoReturn:
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


ToOption = Annotated[Target, typer.Option("--to", help="Output format.", case_sensitive=False)]
OutOption = Annotated[Path, typer.Option(
    "--out", help="COCO: a .json file. YOLO: a folder (labels/, classes.txt, images.txt). "
                  "list: a .txt file (class names go to <stem>_classes.txt beside it).")]
RootOption = Annotated[str | None, typer.Option(
    "--image-root", help="Prefix for image paths in YOLO's images.txt and the plain list.")]


@convert_app.command("ccp")
def convert_ccp(
    data_dir: Annotated[Path, typer.Argument(help="CCP folder: photos/, masks/, labels.json.")],
    to: ToOption,
    out: OutOption,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N masked photos.")]
    = None,
    min_area_frac: Annotated[float, typer.Option(
        min=0.0, max=0.5, help="Drop fragments smaller than this fraction of the image.")]
    = 0.0005,
    grouping: Annotated[Path | None, typer.Option(
        help="A grouping JSON ({classes, mapping}); default: the one shipped.")] = None,
    image_root: RootOption = None,
) -> None:
    """CCP masks -> garment instances as COCO (RLE masks), YOLO or a plain box list.

    Each mask is mapped to the grouped classes; connected regions become instances.
    """
    from fashionlens.datasets.ccp import ccp_to_dataset, load_grouping

    errors: list[AnnotationError] = []
    try:
        g = load_grouping(grouping)
        with _bar("reading CCP masks") as update:
            dataset = ccp_to_dataset(data_dir, g, limit=limit, min_area_frac=min_area_frac,
                                     errors=errors, progress=update)
    except (AnnotationError, ValueError, OSError) as exc:
        _fail(exc)
    root = image_root if image_root is not None else (data_dir / "photos").as_posix()
    _write(dataset, to.value, out, root, errors)
    _finish(dataset, errors, to.value, out)


@convert_app.command("coco")
def convert_coco(
    file: Annotated[Path, typer.Argument(help="COCO instances JSON (Fashionpedia, ModaNet).")],
    to: ToOption,
    out: OutOption,
    drop_parts: Annotated[bool, typer.Option(
        "--drop-parts", help="Drop Fashionpedia's garment parts, closures and decorations "
                             "(sleeve, pocket, neckline, zipper, ...).")] = False,
    image_root: RootOption = None,
) -> None:
    """COCO (Fashionpedia, ModaNet) -> YOLO, a plain box list or COCO (e.g. without parts).

    Fashionpedia's attributes are kept when writing COCO.
    """
    errors: list[AnnotationError] = []
    try:
        with err.status(f"reading {file}"):
            dataset = read_coco(file, errors=errors)
    except AnnotationError as exc:
        _fail(exc)
    if drop_parts:
        before = len(dataset.categories)
        dataset = drop_fashionpedia_parts(dataset)
        err.print(f"dropped {before - len(dataset.categories)} part categories")
    _write(dataset, to.value, out, image_root or "", errors)
    _finish(dataset, errors, to.value, out)


@convert_app.command("deepfashion2")
def convert_deepfashion2(
    annos_dir: Annotated[Path, typer.Argument(
        help="DeepFashion2 annos/ folder (000001.json ...).")],
    out: OutOption,
    to: ToOption = Target.coco,
    images: Annotated[Path | None, typer.Option(
        help="Folder with the photos (for their sizes); default: image/ beside annos/.")] = None,
    image_root: RootOption = None,
) -> None:
    """DeepFashion2 per-image JSON -> one COCO file, YOLO or a plain box list.

    The COCO file follows the official conversion (294 keypoints, style, pair_id).
    """
    errors: list[AnnotationError] = []
    try:
        with _bar("reading DeepFashion2") as update:
            dataset = read_deepfashion2(annos_dir, images_dir=images, errors=errors,
                                        progress=update)
    except AnnotationError as exc:
        _fail(exc)
    if to is Target.coco:
        dataset = deepfashion2_to_coco_extra(dataset)
    _write(dataset, to.value, out, image_root or "", errors)
    _finish(dataset, errors, to.value, out)


@convert_app.command("ccp-counts")
def ccp_counts(
    data_dir: Annotated[Path, typer.Argument(help="CCP folder: masks/, labels.json.")],
    grouping: Annotated[Path | None, typer.Option(help="A grouping JSON; default: shipped.")]
    = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N masks.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
    = False,
) -> None:
    """Pixels per CCP label and per grouped class (the table in docs/formats.md)."""
    from fashionlens.datasets.ccp import ccp_pixel_counts, load_grouping

    try:
        with _bar("counting pixels") as update:
            counts = ccp_pixel_counts(data_dir, load_grouping(grouping), limit=limit,
                                      progress=update)
    except (AnnotationError, ValueError, OSError) as exc:
        _fail(exc)
    if json_out:
        print(json.dumps(counts.to_dict(), indent=2))
    else:
        print(f"{counts.masks} masks, {counts.total_pixels:,} pixels\n")
        print(counts.markdown())
