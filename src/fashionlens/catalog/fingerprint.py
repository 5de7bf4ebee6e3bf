"""Photo fingerprints: is this the *same photo* (cropped, rescaled, recompressed)?

The classifier's embedding says what a garment is; two different photos of similar garments
can be as close as a copy (benchmarks/catalog_retrieval.py). A fingerprint compares pixels: a
16 x 16 RGB thumbnail (box-filtered, so rescaling barely changes it), mean-removed and
normalised, so the inner product of two fingerprints is their normalised cross-correlation
(NCC, 1 = identical up to brightness and contrast). Each catalog photo stores fingerprints of
the whole photo and of its central 85 % and 70 %, so a cropped copy matches too.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["COPY_MIN_COSINE", "COPY_NCC", "COPY_NCC_ALONE", "FINGERPRINT_SCALES",
           "FINGERPRINT_SIZE", "fingerprint", "fingerprints"]

FINGERPRINT_SIZE = 16
FINGERPRINT_SCALES = (1.0, 0.85, 0.7)
COPY_NCC = 0.95          # NCC from which two photos count as copies (with a similar embedding)
COPY_MIN_COSINE = 0.5    # ... whose embeddings must also be at least this similar
COPY_NCC_ALONE = 0.985   # NCC from which a photo with no whole-photo embedding (a look
                         # stored as its garments) counts as a copy on pixels alone


def fingerprint(img: Image.Image, scale: float = 1.0) -> np.ndarray:
    """(3 * FINGERPRINT_SIZE², ) float32 unit vector of the central ``scale`` of ``img``."""
    w, h = img.size
    if scale < 1.0:
        cw, ch = w * scale, h * scale
        img = img.crop((round((w - cw) / 2), round((h - ch) / 2),
                        round((w + cw) / 2), round((h + ch) / 2)))
    s = FINGERPRINT_SIZE
    a = np.asarray(img.convert("RGB").resize((s, s), Image.Resampling.BOX), np.float32).ravel()
    a = a - a.mean()
    n = float(np.linalg.norm(a))
    return (a / n if n > 1e-6 else a).astype(np.float32)


def fingerprints(img: Image.Image) -> np.ndarray:
    """(len(FINGERPRINT_SCALES), D) fingerprints of the whole photo and its central crops."""
    return np.stack([fingerprint(img, s) for s in FINGERPRINT_SCALES])
