"""`fashionlens parse` (outline the garments in photos) and `fashionlens train parser`.

Registered by ``fashionlens.cli``::

    app.command("parse")(parse)
    train_app.command("parser")(train_parser_cmd)

``parse`` runs on ONNX Runtime only (no torch import); ``train_parser_cmd`` imports the
training code, and with it torch, only when called.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fashionlens.commands.progress import tracked

err = Console(stderr=True)
BUNDLE_DIR = "garment-parser"


def _unique_stem(path: str, used: set[str]) -> str:
    stem = Path(path).stem or "image"
    name, k = stem, 2
    while name in used:
        name, k = f"{stem}-{k}", k + 1
    used.add(name)
    return name


def parse(
    paths: Annotated[list[str], typer.Argument(help="Photos or folders of photos.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for <stem>.png label maps and "
                                                    "<stem>.overlay.jpg pictures.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    variant: Annotated[str, typer.Option(help="Model variant: default, fp32 or int8.")]
    = "default",
    bundle: Annotated[str | None, typer.Option(help="Parser bundle directory.")] = None,
) -> None:
    """Outline the garments in each photo: a label map, an overlay and the garments found.

    DIR/<stem>.png is an 8-bit label map at the photo's own size (value = index into the
    bundle's classes, see `fashionlens models info`); DIR/<stem>.overlay.jpg shows it with a
    box per garment. A photo that cannot be read is reported and the others go on; the exit
    code is 1 only when no photo could be parsed.
    """
    from fashionlens.cli import expand_inputs
    from fashionlens.core.settings import get_settings
    from fashionlens.imaging import ImageLimits
    from fashionlens.inference.parser import GarmentParser

    sources = expand_inputs(paths)
    if not sources:
        err.print("[red]no photos found[/red]")
        raise typer.Exit(2)
    s = get_settings()
    path = Path(bundle) if bundle else s.models_dir / BUNDLE_DIR
    try:
        parser = GarmentParser(path, variant=variant, threads=s.threads,
                               limits=ImageLimits(s.max_image_bytes, s.max_image_pixels))
    except (FileNotFoundError, KeyError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    failures = 0
    table = Table("image", "mask", "garments")
    for res in tracked(parser.parse(sources), total=len(sources), description="parsing",
                       console=err, json_out=json_out):
        if hasattr(res, "error"):
            failures += 1
            if json_out:
                print(json.dumps(res.to_json(), ensure_ascii=False), flush=True)
            else:
                table.add_row(res.image, "[red]error[/red]", res.error)
            continue
        stem = _unique_stem(res.image, used)
        mask_path = out / f"{stem}.png"
        try:
            res.mask_image().save(mask_path, format="PNG", optimize=True)
            res.overlay().save(out / f"{stem}.overlay.jpg", format="JPEG", quality=90)
        except OSError as exc:
            failures += 1
            reason = f"cannot write the results: {exc}"
            if json_out:
                print(json.dumps({"image": res.image, "error": reason}, ensure_ascii=False),
                      flush=True)
            else:
                table.add_row(res.image, "[red]error[/red]", reason)
            continue
        if json_out:
            print(json.dumps(res.to_json(str(mask_path)), ensure_ascii=False), flush=True)
        else:
            garments = ", ".join(f"{g.label} {g.score:.2f}" for g in res.instances) or "none"
            table.add_row(res.image, str(mask_path), garments)
    if not json_out:
        Console().print(table)
    if failures:
        err.print(f"{failures} of {len(sources)} photos could not be parsed")
        if failures == len(sources):
            raise typer.Exit(1)


def train_parser_cmd(
    ctx: typer.Context,
    data: Annotated[str, typer.Option(help="CCP folder: photos/, masks/, labels.json.")],
    out: Annotated[str, typer.Option(help="Bundle directory to write.")],
    epochs: Annotated[int | None, typer.Option()] = None,
    batch_size: Annotated[int | None, typer.Option()] = None,
    lr: Annotated[float | None, typer.Option()] = None,
    arch: Annotated[str | None, typer.Option(help="fpn, unet or deeplabv3plus.")] = None,
    image_size: Annotated[int | None, typer.Option(help="Serving size (letterbox side).")]
    = None,
    train_size: Annotated[int | None, typer.Option(help="Long side of training photos.")]
    = None,
    crop: Annotated[tuple[int, int] | None, typer.Option(
        help="Training crop: height width (px).")] = None,
    freeze_stages: Annotated[int | None, typer.Option()] = None,
    eval_every: Annotated[int | None, typer.Option(help="Validate every N epochs.")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    limit: Annotated[int, typer.Option(help="Only the first N masked photos (smoke).")] = 0,
    max_train_batches: Annotated[int, typer.Option(help="Cap batches per epoch (smoke).")]
    = 0,
    threads: Annotated[int, typer.Option(help="Torch threads; 0 = all cores.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    int8: Annotated[bool, typer.Option(help="Try an INT8 variant.")] = True,
    init: Annotated[str, typer.Option(help="Continue from a bundle's checkpoint.pt instead of "
                                           "ImageNet weights; with --epochs 0, only finish it "
                                           "(export, measure).")] = "",
    note: Annotated[list[str] | None, typer.Option(help="A line for the model card's "
                                                        "Reproduce section (repeatable).")]
    = None,
) -> None:
    """Train the garment parser on CCP masks (ImageNet encoder) and write a model bundle."""
    from fashionlens.cli import reproducible_command
    from fashionlens.training.parser import ParserTrainConfig, train_parser

    overrides = {k: v for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr, arch=arch,
                                        image_size=image_size, train_size=train_size,
                                        crop=crop, freeze_stages=freeze_stages,
                                        eval_every=eval_every).items() if v is not None}
    cfg = ParserTrainConfig(data=data, out=out, seed=seed, limit=limit,
                            max_train_batches=max_train_batches, threads=threads,
                            device=device, int8=int8, init=init, notes=list(note or []),
                            **overrides)
    metrics = train_parser(cfg, command=reproducible_command(ctx), log=err.print)
    t = metrics["test"]
    err.print(f"test mIoU {t['miou']:.4f}  pixel accuracy {t['pixel_accuracy']:.4f}  "
              f"box AP50 {t['ap50']:.4f}  → {out}")
