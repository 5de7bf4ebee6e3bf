"""Result types shared by the library, the CLI and the API (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScoredLabel:
    label: str
    p: float


@dataclass
class Classification:
    """What the classifier says about one photo."""

    image: str
    label: str
    confidence: float
    top: list[ScoredLabel]
    embedding: Any = None            # np.ndarray (D,) float32, unit length, when asked for
    probs: Any = None                # np.ndarray (C,) calibrated class probabilities, when asked
    hedged: dict | None = None       # filled in by hedging
    summary: str | None = None       # the hedged answer as a sentence ("a top — probably ...")

    def to_json(self) -> dict:
        out: dict[str, Any] = {"image": self.image, "label": self.label,
                               "confidence": round(self.confidence, 6),
                               "top": [{"label": s.label, "p": round(s.p, 6)} for s in self.top]}
        if self.hedged is not None:
            out["hedged"] = self.hedged
        if self.summary is not None:
            out["summary"] = self.summary
        return out


@dataclass(frozen=True)
class ImageFailure:
    """A photo that could not be analysed, with the reason; the batch goes on."""

    image: str
    error: str
    code: str = "invalid_image"
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"image": self.image, "error": self.error}
