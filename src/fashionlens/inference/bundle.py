"""Model bundles: a directory with ONNX file(s) and a ``manifest.json``.

Training hands its result to serving only through this directory, never through imports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fashionlens.imaging import Preprocessing

MANIFEST = "manifest.json"


@dataclass
class ModelBundle:
    path: Path
    manifest: dict

    @classmethod
    def load(cls, path: str | Path) -> ModelBundle:
        path = Path(path)
        file = path / MANIFEST
        if not file.exists():
            raise FileNotFoundError(f"no model bundle at {path} (missing {MANIFEST})")
        return cls(path, json.loads(file.read_text(encoding="utf-8")))

    @property
    def name(self) -> str:
        return self.manifest.get("name", self.path.name)

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    @property
    def preprocessing(self) -> Preprocessing:
        return Preprocessing.from_dict(self.manifest["preprocessing"])

    @property
    def temperature(self) -> float:
        return float(self.manifest.get("calibration", {}).get("temperature", 1.0))

    def onnx_path(self, variant: str = "default") -> Path:
        files = self.manifest["files"]
        if variant == "default":
            variant = self.manifest.get("default_variant", "fp32")
        if variant not in files:
            raise KeyError(f"bundle {self.name} has no {variant!r} variant "
                           f"(has: {', '.join(sorted(files))})")
        return self.path / files[variant]


def write_manifest(path: Path, manifest: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path / MANIFEST)
