"""What a bundle records about how it was made: versions, file hashes, the run it continued."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def init_checkpoint_path(init: str | Path) -> Path:
    """The checkpoint named by ``--init``: a ``checkpoint.pt`` or a bundle folder holding one."""
    path = Path(init)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise ValueError(f"--init: no checkpoint at {path}")
    return path


def load_init_state(init: str | Path, classes: list[str], **expected) -> dict:
    """Weights to continue from; refuses a checkpoint for other classes or another network.

    ``expected`` names training-config fields that must match (``backbone="..."``, ...).
    """
    import torch

    saved = torch.load(init_checkpoint_path(init), map_location="cpu", weights_only=True)
    if list(saved.get("classes", [])) != list(classes):
        raise ValueError(f"--init: the checkpoint's classes {saved.get('classes')} differ from "
                         f"the data's {classes}")
    config = saved.get("config", {})
    for key, want in expected.items():
        if config.get(key, want) != want:
            raise ValueError(f"--init: the checkpoint has {key} {config[key]!r}, not {want!r}")
    return saved["state_dict"]


def parent_provenance(init: str | Path) -> dict:
    """What a run continued from: the checkpoint's hash and, from its bundle, how it was made."""
    ckpt = init_checkpoint_path(init)
    parent = {"checkpoint_sha256": file_sha256(ckpt)}
    manifest = ckpt.parent / "manifest.json"
    if manifest.is_file():
        training = json.loads(manifest.read_text()).get("training", {})
        parent.update({k: training.get(k) for k in ("command", "seed", "data_fingerprint",
                                                    "split_fingerprint", "best_epoch", "init")})
    return parent


def parent_training(init: str | Path) -> dict:
    """How the run behind ``init`` trained, from its bundle (for ``--epochs 0``, which only
    finishes a checkpoint): its history, best epoch, epochs planned, device and seconds, and
    the split it was selected on. Empty values when the checkpoint has no bundle beside it."""
    folder = init_checkpoint_path(init).parent
    metrics, training = {}, {}
    if (folder / "metrics.json").is_file():
        metrics = json.loads((folder / "metrics.json").read_text())
    if (folder / "manifest.json").is_file():
        training = json.loads((folder / "manifest.json").read_text()).get("training", {})
    return {"history": metrics.get("history", []),
            "best_epoch": training.get("best_epoch", metrics.get("best_epoch", 0)),
            "planned_epochs": training.get("config", {}).get("epochs", 0),
            "device": training.get("device", "unknown"),
            "train_seconds": training.get("train_seconds", metrics.get("train_seconds", 0.0)),
            "split_fingerprint": training.get("split_fingerprint"),
            "config": training.get("config", {}),
            "versions": training.get("versions", {}),
            "extra": {k: metrics[k] for k in ("val_miou", "class_weights") if k in metrics}}


def finish_note(parent: dict) -> str:
    """The model card's line for a bundle made with ``--epochs 0`` from ``parent``'s weights."""
    versions = ", ".join(f"{k} {v}" for k, v in parent.get("versions", {}).items()
                         if k in ("python", "torch", "timm", "segmentation-models-pytorch"))
    return ("This bundle trained nothing itself (`--epochs 0`): it took the checkpoint of the "
            "run above as it is and did everything after training (calibration where there is "
            "one, export, INT8 tries, every measurement) on the data named in the last "
            "command; the history, best epoch, device and time are that run's"
            + (f", which ran with {versions}." if versions else "."))


def notes_fields(notes: list[str], parent: dict | None) -> dict:
    """A manifest's ``training`` entries for ``--note`` lines and, when the run only finished
    ``parent``'s checkpoint, that run's planned epochs and configuration (the model card
    describes the training that happened, not the finishing command's defaults)."""
    if not parent:
        return {"notes": list(notes)}
    return {"notes": [*notes, finish_note(parent)], "planned_epochs": parent["planned_epochs"],
            "trained_with": parent["config"]}


def check_finish_split(parent: dict, split_fingerprint: str) -> None:
    """``--epochs 0`` measures a checkpoint on a test split: refuse one it may have trained on."""
    if parent["split_fingerprint"] and parent["split_fingerprint"] != split_fingerprint:
        raise ValueError("--epochs 0: the checkpoint was trained and selected on another split "
                         "(other photos, labels or seed); finishing it here would measure it "
                         "on photos it learned from")
