"""The `fashionlens` command line. Every command is a thin call into the library."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fashionlens.commands.catalog import audit, catalog_app, search
from fashionlens.commands.colours import colours as colours_cmd
from fashionlens.commands.convert import convert_app
from fashionlens.commands.parse import parse, train_parser_cmd
from fashionlens.commands.progress import tracked
from fashionlens.core.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Look at clothing photos the way a merchandiser or a stylist would.")
train_app = typer.Typer(no_args_is_help=True, help="Train models on your own photos.")
models_app = typer.Typer(no_args_is_help=True, help="Shipped model bundles.")


def _version(value: bool) -> None:
    if value:
        from fashionlens import __version__

        print(f"fashionlens {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """Look at clothing photos the way a merchandiser or a stylist would."""


app.add_typer(train_app, name="train")
app.add_typer(models_app, name="models")
app.add_typer(convert_app, name="convert")
app.command("colours")(colours_cmd)
app.add_typer(catalog_app, name="catalog")
app.command("search")(search)
app.command("audit")(audit)
app.command("parse")(parse)
train_app.command("parser")(train_parser_cmd)
err = Console(stderr=True)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def expand_inputs(paths: list[str]) -> list[str]:
    """Files as given; directories expanded to their image files (sorted, recursive)."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out += [str(f) for f in sorted(path.rglob("*"))
                    if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                    and not f.name.startswith(".")]
        else:
            out.append(p)
    return out


def _classifier(variant: str | None):
    from fashionlens.imaging import ImageLimits
    from fashionlens.inference import GarmentClassifier

    s = get_settings()
    bundle = s.models_dir / "garment-classifier"
    return GarmentClassifier(bundle, variant=variant or s.classifier_variant, threads=s.threads,
                             limits=ImageLimits(s.max_image_bytes, s.max_image_pixels))


@app.command()
def classify(
    paths: Annotated[list[str], typer.Argument(help="Photos or folders of photos.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="How many labels to list.")] = 3,
    target_accuracy: Annotated[float | None, typer.Option(
        "--target-accuracy", min=0.0, max=1.0,
        help="Hedge: answer the most specific taxonomy node that meets this accuracy.")] = None,
    variant: Annotated[str | None, typer.Option(help="Model variant: fp32 or int8.")] = None,
) -> None:
    """Name the garment in each photo."""
    sources = expand_inputs(paths)
    if not sources:
        err.print("[red]no photos found[/red]")
        raise typer.Exit(2)
    clf = _classifier(variant)
    hedger = None
    if target_accuracy is not None:
        from fashionlens.hedging import hedger_from_bundle

        hedger = hedger_from_bundle(clf.bundle)
    failures = 0
    table = Table("image", "label", "confidence", "top", *(["hedged"] if hedger else []))
    results = clf.classify(sources, top_k=top_k, with_probs=hedger is not None)
    for res in tracked(results, total=len(sources), description="classifying", console=err,
                       json_out=json_out):
        failures += _emit_classification(res, hedger, target_accuracy, json_out, table)
    if not json_out:
        Console().print(table)
    if failures:
        err.print(f"{failures} of {len(sources)} photos could not be read")


def _emit_classification(res, hedger, target_accuracy, json_out: bool, table: Table) -> int:
    """Print (JSON) or tabulate one result; 1 for a photo that could not be read, else 0."""
    if hasattr(res, "error"):
        if json_out:
            print(json.dumps(res.to_json(), ensure_ascii=False), flush=True)
        else:
            table.add_row(Path(res.image).name, "[red]error[/red]", "", res.error)
        return 1
    if hedger is not None:
        from fashionlens.hedging import describe

        hedged = hedger.predict(res.probs[None, :], target_accuracy)[0]
        res.hedged = hedged.to_dict()
        res.summary = describe(hedged, hedger.taxonomy, res.label)
    if json_out:
        print(json.dumps(res.to_json(), ensure_ascii=False), flush=True)
    else:
        top = ", ".join(f"{s.label} {s.p:.2f}" for s in res.top)
        extra = [res.summary] if res.hedged else []
        table.add_row(Path(res.image).name, res.label, f"{res.confidence:.2f}", top, *extra)
    return 0


def reproducible_command(ctx: typer.Context) -> str:
    """The command line that reproduces this invocation (options the user actually set)."""
    words = ["fashionlens", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name != "COMMANDLINE" or param.name == "note":
            continue
        value = ctx.params[param.name]
        flag = param.opts[0] if not isinstance(value, bool) or value else param.secondary_opts[0]
        if isinstance(value, bool):
            words.append(flag)
        elif isinstance(value, tuple):      # one option taking several values: --crop 384 288
            words += [flag, *(str(item) for item in value)]
        elif isinstance(value, list):       # a repeatable option: --val a.csv --val b.csv
            words += [w for item in value for w in (flag, str(item))]
        else:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


@train_app.command("classifier")
def train_classifier_cmd(
    ctx: typer.Context,
    data: Annotated[str, typer.Option(help="Class folders, a CSV manifest or the clothing set.")],
    out: Annotated[str, typer.Option(help="Bundle directory to write.")],
    recipe: Annotated[str, typer.Option(help="gpu (full) or cpu (lighter).")] = "auto",
    epochs: Annotated[int | None, typer.Option()] = None,
    image_size: Annotated[int | None, typer.Option()] = None,
    batch_size: Annotated[int | None, typer.Option()] = None,
    lr: Annotated[float | None, typer.Option()] = None,
    freeze_stages: Annotated[int | None, typer.Option()] = None,
    backbone: Annotated[str | None, typer.Option()] = None,
    patience: Annotated[int | None, typer.Option(help="Epochs without gain before stopping.")]
    = None,
    select_by: Annotated[str | None, typer.Option(
        help="Best epoch by 'score' or 'loss'; 'last' keeps the last epoch, so the "
             "validation split that calibrates and hedges chose nothing.")]
    = None,
    seed: Annotated[int, typer.Option()] = 0,
    group_split: Annotated[bool, typer.Option(help="Keep each sender on one side.")] = False,
    workers: Annotated[int, typer.Option()] = 2,
    max_train_batches: Annotated[int, typer.Option(help="Cap batches per epoch (smoke).")] = 0,
    int8: Annotated[bool, typer.Option(help="Try an INT8 variant.")] = True,
    init: Annotated[str, typer.Option(help="Continue from a bundle's checkpoint.pt instead of "
                                           "ImageNet weights; with --epochs 0, only finish it "
                                           "(calibrate, export, measure).")] = "",
    note: Annotated[list[str] | None, typer.Option(help="A line for the model card's "
                                                        "Reproduce section (repeatable).")]
    = None,
) -> None:
    """Fine-tune the garment classifier from ImageNet weights and write a model bundle."""
    from fashionlens.training.config import ClassifierTrainConfig
    from fashionlens.training.pipeline import train_classifier

    if recipe == "auto":
        import torch

        recipe = "gpu" if torch.cuda.is_available() else "cpu"
    overrides = {k: v for k, v in dict(epochs=epochs, image_size=image_size,
                                        batch_size=batch_size, lr=lr,
                                        freeze_stages=freeze_stages, backbone=backbone,
                                        patience=patience, select_by=select_by).items()
                 if v is not None}
    overrides.update(seed=seed, group_split=group_split, workers=workers,
                     max_train_batches=max_train_batches, int8=int8, init=init,
                     notes=list(note or []))
    if recipe == "cpu":
        cfg = ClassifierTrainConfig.cpu_recipe(data, out, **overrides)
    else:
        cfg = ClassifierTrainConfig(data=data, out=out, **overrides)
    command = reproducible_command(ctx)
    metrics = train_classifier(cfg, command=command, log=err.print)
    t = metrics["test"]
    err.print(f"test top-1 {t['top1']:.4f}  macro-F1 {t['macro_f1']:.4f}  "
              f"ECE {metrics['calibration']['test_ece_after']:.4f}  → {out}")


@train_app.command("colour-namer")
def train_colour_namer_cmd(
    ctx: typer.Context,
    data: Annotated[str, typer.Option(help="Folder the label files' image paths start from.")],
    train: Annotated[list[str], typer.Option(help="Label CSV the network learns from "
                                                  "(repeatable).")],
    val: Annotated[list[str], typer.Option(help="Label CSV for the best epoch and the stacker "
                                                "(repeatable: one per rater).")],
    out: Annotated[str, typer.Option(help="Bundle directory to write.")],
    epochs: Annotated[int, typer.Option()] = 20,
    batch_size: Annotated[int, typer.Option()] = 32,
    lr: Annotated[float, typer.Option()] = 1e-3,
    freeze_stages: Annotated[int, typer.Option()] = 2,
    image_size: Annotated[int, typer.Option(help="Garment view side = network input.")] = 96,
    seed: Annotated[int, typer.Option()] = 0,
    workers: Annotated[int, typer.Option()] = 2,
    max_train_batches: Annotated[int, typer.Option(help="Cap batches per epoch (smoke).")] = 0,
    int8: Annotated[bool, typer.Option(help="Try an INT8 network; it is the default variant "
                                            "when the validation score holds.")] = True,
    init: Annotated[str, typer.Option(help="Continue from a run's checkpoint.pt instead of "
                                           "ImageNet weights; with --epochs 0, only finish it "
                                           "(export, INT8, stacker, measure).")] = "",
    note: Annotated[list[str] | None, typer.Option(help="A line for the model card "
                                                        "(repeatable).")] = None,
) -> None:
    """Train the main-colour namer (network + stacker) on garments people named."""
    from fashionlens.training.colour_namer import ColourNamerTrainConfig, train_colour_namer

    cfg = ColourNamerTrainConfig(data=data, train=list(train), val=list(val), out=out,
                                 epochs=epochs, batch_size=batch_size, lr=lr,
                                 freeze_stages=freeze_stages,
                                 image_size=image_size, seed=seed, workers=workers,
                                 max_train_batches=max_train_batches, int8=int8, init=init,
                                 notes=list(note or []))
    try:
        metrics = train_colour_namer(cfg, command=reproducible_command(ctx), log=err.print)
    except (ValueError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    v = metrics["validation"]
    err.print(f"validation: pixels {v['pixels_only']:.4f}  network {v['network_only']:.4f}  "
              f"stacked {v['stacked_5fold']:.4f}  → {out}")


@train_app.command("hedging")
def train_hedging_cmd(
    bundle: Annotated[str | None, typer.Option(help="Classifier bundle directory.")] = None,
    taxonomy: Annotated[str | None, typer.Option(help="A replacement taxonomy JSON.")] = None,
) -> None:
    """Re-calibrate hedged answers (DARTS) from the bundle's stored validation predictions."""
    from fashionlens.training.pipeline import refit_hedging

    path = bundle or str(get_settings().models_dir / "garment-classifier")
    rows = refit_hedging(path, taxonomy_path=taxonomy, log=err.print)
    table = Table("target", "λ", "test accuracy", "info gain", "root answers")
    for r in rows:
        lam = "∞" if r["lambda"] is None else f"{r['lambda']:.3f}"
        table.add_row(f"{r['target']:.2f}", lam, f"{r['accuracy']:.3f}",
                      f"{r['information_gain']:.3f}", f"{r['root_share']:.3f}")
    Console().print(table)


eval_app = typer.Typer(no_args_is_help=True, help="Measure shipped models on labelled photos.")
app.add_typer(eval_app, name="eval")


@eval_app.command("classifier")
def eval_classifier_cmd(
    data: Annotated[str, typer.Option(help="Labelled photos (any dataset layout).")],
    split: Annotated[str, typer.Option(help="test | val | train (from the bundle's seed) or all")]
    = "test",
    variant: Annotated[str, typer.Option(help="default, fp32 or int8")] = "default",
    bundle: Annotated[str | None, typer.Option(help="Bundle directory.")] = None,
) -> None:
    """Top-1, top-3, macro-F1, per-class figures, ECE and hedged accuracy, as JSON."""
    from fashionlens.evaluation import evaluate_classifier

    s = get_settings()
    path = bundle or str(s.models_dir / "garment-classifier")
    print(json.dumps(evaluate_classifier(path, data, split=split, variant=variant,
                                         threads=s.threads), indent=2))


@models_app.command("export")
def models_export(
    bundle: Annotated[str, typer.Argument(help="A classifier or parser bundle with its "
                                               "checkpoint.pt.")],
    data: Annotated[str | None, typer.Option(
        help="The training data (default: the path the manifest records).")] = None,
) -> None:
    """Export a bundle's ONNX graph again from its checkpoint (exporter upgrades).

    Checks parity with torch and re-measures the test split with the new graph; records it.
    """
    try:
        task = json.loads((Path(bundle) / "manifest.json").read_text(encoding="utf-8"))["task"]
        if task.startswith("garment parsing"):
            from fashionlens.training.parser import reexport_parser as reexport
        else:
            from fashionlens.training.pipeline import reexport_classifier as reexport
        record = reexport(bundle, data=data, log=err.print)
    except (OSError, ValueError, KeyError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    print(json.dumps(record))


@models_app.command("info")
def models_info(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Manifests of the shipped model bundles."""
    root = get_settings().models_dir
    docs = {}
    for manifest in sorted(root.glob("*/manifest.json")):
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        doc.pop("hedging", None) if not json_out else None
        docs[manifest.parent.name] = doc
    if json_out:
        print(json.dumps(docs, indent=2, ensure_ascii=False))
        return
    table = Table("bundle", "classes", "default variant", "test metrics")
    for name, doc in docs.items():
        m = dict(doc.get("metrics", {}))
        for key, sub in list(m.items()):     # one level of nesting: {"validation": {...}}
            if isinstance(sub, dict):
                m.update({f"{key}.{k}": v for k, v in sub.items()})
        table.add_row(name, str(len(doc.get("classes", []))), doc.get("default_variant", ""),
                      ", ".join(f"{k} {v:.3f}" for k, v in m.items() if isinstance(v, float)))
    Console().print(table)


@app.command()
def serve(
    db: Annotated[Path | None, typer.Option(
        help="Catalog to search and audit (made by `fashionlens catalog ingest`); "
             "default: the demo catalog of examples/.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    data: Annotated[Path | None, typer.Option(
        help="Folder for what the server writes (demo catalog, audit jobs); "
             "default FASHIONLENS_DATA or ~/.local/share/fashionlens.")] = None,
    log_level: Annotated[str, typer.Option(
        help="uvicorn log level; 'info' also logs every request.")] = "warning",
) -> None:
    """Serve the web page (/) and the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    from fashionlens.api import create_app
    from fashionlens.api.demo import ensure_demo_catalog

    settings = get_settings()
    data_dir = data or settings.data_dir
    if db is None:
        db = ensure_demo_catalog(data_dir)
    elif not (db / "catalog.sqlite").exists():
        raise typer.BadParameter(f"no catalog at {db}; make one with `fashionlens catalog "
                                 "ingest FILE --db DIR`", param_hint="--db")
    app_ = create_app(settings, db_dir=db, data_dir=data_dir)
    print(f"fashionlens: open http://{host}:{port}/ (API docs at /docs)", flush=True)
    uvicorn.run(app_, host=host, port=port, timeout_keep_alive=5, log_level=log_level)


def main() -> None:  # pragma: no cover
    app()
