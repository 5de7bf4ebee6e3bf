"""Fine-tuning loop for the garment classifier."""

from __future__ import annotations

import copy
import math
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch.utils.data import DataLoader

from fashionlens.imaging import Preprocessing
from fashionlens.models.backbone import LITE_MEAN, LITE_STD
from fashionlens.models.classifier import GarmentNet
from fashionlens.training.augment import eval_transform, train_transform
from fashionlens.training.config import ClassifierTrainConfig
from fashionlens.training.data import PhotoDataset, balanced_sampler
from fashionlens.training.metrics import classification_report
from fashionlens.training.provenance import load_init_state, parent_training


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeRemainingColumn())


def make_preprocessing(cfg: ClassifierTrainConfig) -> Preprocessing:
    return Preprocessing(size=cfg.image_size, mean=LITE_MEAN, std=LITE_STD)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, loader: DataLoader, device: torch.device,
                   *, flip: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits, embeddings and labels for every photo of ``loader`` (eval mode)."""
    model.eval()
    logits, embs, labels = [], [], []
    for x, y in loader:
        x = x.to(device).contiguous(memory_format=torch.channels_last)
        with autocast(device):
            lo, emb = model(x)
            if flip:
                lo = (lo + model(torch.flip(x, dims=[3]))[0]) / 2
        logits.append(lo.float().cpu().numpy())
        embs.append(emb.float().cpu().numpy())
        labels.append(y.numpy())
    return np.concatenate(logits), np.concatenate(embs), np.concatenate(labels)


def autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def cosine_lr(step: int, total: int, warmup: int, base: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * t))


def finish_only(cfg: ClassifierTrainConfig, classes: list[str], *, log=print) -> dict:
    """``--epochs 0``: no training; the ``--init`` checkpoint, as it is, is what the run ships.

    Used to finish on the original photos a model trained elsewhere (a GPU machine fed a
    compact copy of the data): calibration, export, INT8 and every test figure then come
    from the photos given here. The history and best epoch reported are the parent run's.
    """
    if not cfg.init:
        raise ValueError("--epochs 0 trains nothing: name the checkpoint to finish with --init")
    model = GarmentNet(len(classes), cfg.backbone, pretrained=False)
    model.load_state_dict(load_init_state(cfg.init, classes, backbone=cfg.backbone,
                                          image_size=cfg.image_size))
    model.eval()
    log(f"--epochs 0: finishing {cfg.init} as it is (no training)")
    parent = parent_training(cfg.init)
    return {"model": model, "preprocessing": make_preprocessing(cfg), "parent": parent,
            **{k: parent[k] for k in ("history", "best_epoch", "device", "train_seconds")}}


def fit(cfg: ClassifierTrainConfig, classes: list[str], train_paths, train_labels, val_paths,
        val_labels, *, log=print) -> dict:
    """Train, select the best epoch on validation, and return the model with its history."""
    seed_everything(cfg.seed)
    if cfg.epochs == 0:
        return finish_only(cfg, classes, log=log)
    device = pick_device(cfg.device)
    pre = make_preprocessing(cfg)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    model = GarmentNet(len(classes), cfg.backbone, pretrained=not cfg.init)
    if cfg.init:
        model.load_state_dict(load_init_state(cfg.init, classes, backbone=cfg.backbone))
        log(f"starting from {cfg.init}")
    model = model.to(device)
    model = model.to(memory_format=torch.channels_last)
    if cfg.freeze_stages:
        model.freeze_stages(cfg.freeze_stages)
    ema = None
    if cfg.ema_decay > 0:
        from timm.utils import ModelEmaV3

        ema = ModelEmaV3(model, decay=cfg.ema_decay, use_warmup=True)

    train_ds = PhotoDataset(train_paths, train_labels, train_transform(pre, cfg.augment),
                            draft_size=cfg.image_size)
    val_ds = PhotoDataset(val_paths, val_labels, eval_transform(pre), draft_size=cfg.image_size)
    sampler = balanced_sampler(np.asarray(train_labels), power=cfg.balance_power,
                               num_samples=len(train_ds), seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_dl = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler,
                          num_workers=cfg.workers, drop_last=True, generator=gen,
                          persistent_workers=cfg.workers > 0,
                          worker_init_fn=lambda w: seed_everything(cfg.seed * 1000 + w))
    val_dl = DataLoader(val_ds, batch_size=64, num_workers=cfg.workers)

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    steps_per_epoch = len(train_dl)
    if cfg.max_train_batches:
        steps_per_epoch = min(steps_per_epoch, cfg.max_train_batches)
    total = steps_per_epoch * cfg.epochs
    warmup = int(cfg.warmup_epochs * steps_per_epoch)

    history: list[dict] = []
    best = {"score": -math.inf, "epoch": -1, "state": None}
    step = 0
    started = time.time()
    with progress_bar() as progress:
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            task = progress.add_task(f"epoch {epoch}/{cfg.epochs}", total=steps_per_epoch,
                                     info="")
            losses = []
            for b, (x, y) in enumerate(train_dl):
                if b >= steps_per_epoch:
                    break
                for g in opt.param_groups:
                    g["lr"] = cosine_lr(step, total, warmup, cfg.lr)
                x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                y = y.to(device)
                with autocast(device):
                    logits, _ = model(x)
                    loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if ema is not None:
                    ema.update(model, step=step)
                step += 1
                losses.append(loss.item())
                progress.update(task, advance=1, info=f"loss {np.mean(losses[-20:]):.3f}")
            evaluated = ema.module if ema is not None else model
            v_logits, _, v_labels = predict_logits(evaluated, val_dl, device)
            v_loss = float(F.cross_entropy(torch.from_numpy(v_logits),
                                           torch.from_numpy(v_labels)).item())
            probs = torch.from_numpy(v_logits).softmax(1).numpy()
            rep = classification_report(probs, v_labels, classes)
            row = {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": v_loss,
                   "val_top1": rep["top1"], "val_macro_f1": rep["macro_f1"],
                   "seconds": round(time.time() - started, 1)}
            history.append(row)
            score = {"loss": -v_loss, "last": float(epoch)}.get(
                cfg.select_by, (rep["top1"] + rep["macro_f1"]) / 2)
            progress.remove_task(task)
            log(f"epoch {epoch}: train loss {row['train_loss']:.3f}  val loss {v_loss:.3f}  "
                f"top-1 {rep['top1']:.3f}  macro-F1 {rep['macro_f1']:.3f}")
            if score > best["score"]:
                best = {"score": score, "epoch": epoch,
                        "state": copy.deepcopy(evaluated.state_dict())}
            elif epoch - best["epoch"] >= cfg.patience:
                log(f"early stop: no validation gain for {cfg.patience} epochs")
                break
    final = GarmentNet(len(classes), cfg.backbone, pretrained=False)
    final.load_state_dict(best["state"])
    final.eval()
    return {"model": final, "history": history, "best_epoch": best["epoch"],
            "preprocessing": pre, "device": str(device),
            "train_seconds": round(time.time() - started, 1)}
