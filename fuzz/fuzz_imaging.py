"""atheris fuzz harness for the one door for untrusted image bytes (``fashionlens.imaging``).

Every input goes through :func:`open_image` with small limits and, when it decodes, through
the model preprocessing (:func:`fit_to_input` then :func:`to_array`, both resize modes). The
only exception allowed to escape is :class:`~fashionlens.imaging.InvalidImage`; anything else
(a Pillow error leaking, ``MemoryError``, ``ValueError``, ``struct.error``, ...) is a bug.

Run (see fuzz/README.md)::

    .venv/bin/python fuzz/fuzz_imaging.py fuzz/corpus/imaging -max_total_time=120 \
        -rss_limit_mb=2048 -timeout=5

The same :func:`TestOneInput` replays the corpus in ``tests/test_fuzz_corpus.py``, where
atheris is not needed: it is imported only when this file runs as a script.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np

try:  # atheris is needed only to fuzz, not to replay the corpus (tests/test_fuzz_corpus.py)
    import atheris
except ImportError:  # pragma: no cover - depends on the environment
    atheris = None

# Coverage feedback comes from the Python side of the path: fashionlens.imaging and Pillow's
# header, chunk and EXIF parsers (the codecs themselves are C and are not instrumented).
_instrumented = (atheris.instrument_imports(include=["fashionlens", "PIL"])
                 if atheris is not None and __name__ == "__main__" else contextlib.nullcontext())
with _instrumented:
    import PIL.TiffImagePlugin  # noqa: F401 (EXIF parsing, imported lazily by Pillow otherwise)

    from fashionlens.imaging import (
        ImageLimits,
        InvalidImage,
        Preprocessing,
        fit_to_input,
        open_image,
        to_array,
    )

#: Small limits so that the fuzzer explores the refusals cheaply (4 MP, 2 MiB).
LIMITS = ImageLimits(max_bytes=2 * 1024 * 1024, max_pixels=4_000_000)
#: Small model inputs: the preprocessing path is exercised without spending the fuzzer's time.
CONFIGS = (
    Preprocessing(size=32, resize="center_crop"),
    Preprocessing(size=24, resize="letterbox", mean=(0.485, 0.456, 0.406),
                  std=(0.229, 0.224, 0.225)),
)


def check_one_input(data: bytes, *, draft_size: int | None = None) -> bool:
    """Decode ``data`` as an upload; True when it is a photo, False when refused.

    Raises anything other than :class:`InvalidImage` (which is what the caller looks for).
    """
    try:
        img = open_image(data, limits=LIMITS, draft_size=draft_size)
    except InvalidImage as exc:
        assert exc.code in {"empty", "too_large_bytes", "too_many_pixels",
                            "unsupported_format", "corrupt"}, exc.code
        assert exc.reason, "InvalidImage without a reason"
        return False
    assert img.mode == "RGB", img.mode
    w, h = img.size
    assert 0 < w * h <= LIMITS.max_pixels, img.size
    for cfg in CONFIGS:
        x = to_array(fit_to_input(img, cfg), cfg)
        assert x.shape == (3, cfg.size, cfg.size) and x.dtype == np.float32, (x.shape, x.dtype)
        assert x.flags.c_contiguous
        assert np.isfinite(x).all()
    return True


def TestOneInput(data: bytes) -> None:  # noqa: N802 (the name atheris and libFuzzer use)
    """The fuzz target: plain decode, and the JPEG draft (reduced-scale) decode as served."""
    if check_one_input(data):
        check_one_input(data, draft_size=32)


def main() -> None:
    if atheris is None:
        raise SystemExit("fuzzing needs atheris: pip install atheris")
    warnings.simplefilter("ignore")  # Pillow warns on every corrupt EXIF block; noise here
    # libFuzzer re-runs argv[0] through the shell for -merge=1 and -fork: make it this
    # interpreter and this file, whether or not the file is executable.
    argv = [f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))}",
            *sys.argv[1:]]
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
