"""Classification metrics and the plots that go with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def classification_report(probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict:
    """top-1, top-3, macro-F1 and per-class precision/recall/F1/support."""
    pred = probs.argmax(axis=1)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    idx = list(range(len(classes)))
    p, r, f, s = precision_recall_fscore_support(labels, pred, labels=idx, zero_division=0)
    return {
        "n": int(len(labels)),
        "top1": float((pred == labels).mean()),
        "top3": float((top3 == labels[:, None]).any(axis=1).mean()),
        "macro_f1": float(f.mean()),
        "per_class": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                "support": int(s[i])}
            for i, c in enumerate(classes)
        },
        "confusion": confusion_matrix(labels, pred, labels=idx).tolist(),
    }


def plot_confusion(confusion: list[list[int]], classes: list[str], path: Path,
                   title: str = "Confusion matrix") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion, dtype=np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["train_loss"] for h in history], label="train")
    a.plot(ep, [h["val_loss"] for h in history], label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.legend()
    b.plot(ep, [h["val_top1"] for h in history], label="top-1")
    b.plot(ep, [h["val_macro_f1"] for h in history], label="macro-F1")
    b.set_xlabel("epoch")
    b.set_ylabel("validation")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_hedging(rows: list[dict], path: Path) -> None:
    """Accuracy vs specificity: flat argmax against hedged answers at each target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    gain = [r["information_gain"] for r in rows]
    acc = [r["accuracy"] for r in rows]
    ax.plot(gain, acc, "o-", label="hedged (DARTS)")
    for r in rows:
        ax.annotate(f"{r['target']:.2f}", (r["information_gain"], r["accuracy"]),
                    textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.plot([1.0], [rows[0]["flat_accuracy"]], "s", color="crimson", label="flat argmax")
    ax.plot([0, 1], [0, 0], alpha=0)
    ax.set_xlabel("mean normalised information gain (specificity)")
    ax.set_ylabel("accuracy (answer is the true class or an ancestor)")
    ax.set_title("Accuracy vs specificity on the test split")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
