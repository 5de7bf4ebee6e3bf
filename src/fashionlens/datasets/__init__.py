"""Labelled garment photo datasets: readers and deterministic splits (stdlib + numpy only)."""

from fashionlens.datasets.labelled import (
    IMAGE_EXTENSIONS,
    LabelledDataset,
    LabelledImage,
    read_clothing_dataset,
    read_csv_manifest,
    read_dataset,
    read_image_folder,
)
from fashionlens.datasets.splits import PARTS, Split, split_fingerprint, stratified_split

__all__ = [
    "IMAGE_EXTENSIONS",
    "PARTS",
    "LabelledDataset",
    "LabelledImage",
    "Split",
    "read_clothing_dataset",
    "read_csv_manifest",
    "read_dataset",
    "read_image_folder",
    "split_fingerprint",
    "stratified_split",
]
