"""Torch datasets over :class:`fashionlens.datasets.LabelledDataset`."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from fashionlens.imaging import open_image


class PhotoDataset(Dataset):
    """Decodes photos through the imaging door and applies ``transform``."""

    def __init__(self, paths: list, labels: np.ndarray, transform, draft_size: int):
        self.paths = list(paths)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.transform = transform
        self.draft_size = draft_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        img = open_image(self.paths[i], draft_size=self.draft_size)
        return torch.from_numpy(self.transform(img)), int(self.labels[i])


def balanced_sampler(labels: np.ndarray, *, power: float, num_samples: int,
                     seed: int) -> WeightedRandomSampler:
    """Sample class c with weight count_c ** -power (0 = natural, 1 = fully balanced)."""
    counts = np.bincount(labels)
    weights = counts[labels].astype(np.float64) ** -power
    gen = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(torch.from_numpy(weights), num_samples, replacement=True,
                                 generator=gen)
