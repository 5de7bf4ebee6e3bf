"""Configuration of a classifier training run (defaults visible in one place)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from fashionlens.training.augment import AugmentConfig


@dataclass
class ClassifierTrainConfig:
    data: str                              # dataset folder, CSV manifest or clothing layout
    out: str                               # bundle directory written by the run
    backbone: str = "efficientnet_lite0"
    image_size: int = 224
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.02
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    balance_power: float = 0.5             # sampler weight count**-power; 0 off, 1 full balance
    freeze_stages: int = 0                 # stem + first N block stages kept frozen
    ema_decay: float = 0.998               # 0 disables the weight EMA
    patience: int = 8                      # epochs without validation gain before stopping
    select_by: str = "score"               # best epoch: "score" = mean(top-1, macro-F1); "loss";
                                           # "last": none (validation stays unbiased for
                                           # calibration and hedging)
    seed: int = 0
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    group_split: bool = False              # keep each photographer (sender_id) on one side
    workers: int = 2
    device: str = "auto"                   # auto | cpu | cuda
    max_train_batches: int = 0             # >0 caps batches per epoch (smoke tests)
    int8: bool = True                      # try an INT8 variant; kept if accuracy holds
    init: str = ""                         # start from this checkpoint.pt (or bundle dir)
    notes: list[str] = field(default_factory=list)  # lines for the model card (provenance)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def cpu_recipe(cls, data: str, out: str, **kw) -> ClassifierTrainConfig:
        """The lighter recipe used when no GPU is available."""
        base = dict(epochs=12, freeze_stages=2, patience=5)
        base.update(kw)
        return cls(data=data, out=out, **base)
