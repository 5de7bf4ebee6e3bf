"""One photo in, everything fashionlens sees out: garment, hedged label, garments, colours.

This is the in-process analysis the REST API serves (and that its benchmark compares with).
Untrusted bytes enter through :mod:`fashionlens.imaging` only.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashionlens.core.settings import Settings, get_settings
from fashionlens.imaging import ImageLimits, fit_to_input, open_image, to_array


@dataclass
class Analyzer:
    """Loads the shipped bundles once; :meth:`analyze` is safe to call from many threads."""

    settings: Settings

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Analyzer:
        return cls(settings or get_settings())

    def __post_init__(self) -> None:
        from fashionlens.hedging import hedger_from_bundle
        from fashionlens.inference import GarmentClassifier

        s = self.settings
        self.limits = ImageLimits(s.max_image_bytes, s.max_image_pixels)
        self.classifier = GarmentClassifier(s.models_dir / "garment-classifier",
                                            variant=s.classifier_variant, threads=s.threads,
                                            limits=self.limits)
        try:
            self.hedger = hedger_from_bundle(self.classifier.bundle)
        except ValueError:
            self.hedger = None
        self.taxonomy = self.hedger.taxonomy if self.hedger is not None else None
        from fashionlens.colour_namer import default_namer

        self.colour_namer = default_namer(s.models_dir)
        self.parser = None
        parser_dir = Path(s.models_dir) / "garment-parser"
        if (parser_dir / "manifest.json").exists():
            from fashionlens.inference.parser import GarmentParser

            self.parser = GarmentParser(parser_dir, threads=s.threads, limits=self.limits)

    def analyze(self, data: bytes, *, target_accuracy: float | None = None, top_k: int = 3,
                with_embedding: bool = False, parse: bool = True,
                overlay: bool = False, lang: str = "en") -> dict:
        """Everything seen in one photo, as JSON-ready data.

        ``summary`` is one honest sentence ("a top — probably a blouse"), ``icon`` the top-level
        taxonomy group of the answer; ``kind`` is ``look`` when someone wears the clothes (then
        ``garments`` lists each one the parser outlines, with its colours) and ``item`` for a
        product shot (``garments`` empty: ``colours`` describe the one garment); ``overlay``
        (when asked, for looks) a transparent PNG of the garment mask as a ``data:`` URL, at
        most 512 px on its long side, to lay over the photo. ``lang`` (en, es, ca, ro, ru)
        is the language of ``summary`` and of the ``display`` names of colours and garments.
        Raises :class:`~fashionlens.imaging.InvalidImage` for anything that is not a photo.
        """
        from fashionlens.colour import colours_of_region, garment_mask_for_product_photo

        photo = open_image(data, limits=self.limits)
        clf = self.classifier
        x = to_array(fit_to_input(photo, clf.preprocessing), clf.preprocessing)
        probs, emb = clf.run(x[None])
        p = probs[0]
        order = np.argsort(-p)[: max(1, min(top_k, len(clf.classes)))]
        target = target_accuracy if target_accuracy is not None else \
            self.settings.target_accuracy
        out: dict = {
            "width": photo.width, "height": photo.height,
            "label": clf.classes[order[0]], "confidence": round(float(p[order[0]]), 6),
            "top": [{"label": clf.classes[i], "p": round(float(p[i]), 6)} for i in order],
            "hedged": (self.hedger.predict(p[None], target)[0].to_dict()
                       if self.hedger is not None else None),
        }
        out.update(self._describe(out, lang))
        rgb = np.asarray(photo)
        colours = colours_of_region(rgb, garment_mask_for_product_photo(rgb),
                                    namer=self.colour_namer)
        out["colours"] = colours.to_json(out["label"])
        garments = []
        out["kind"] = "item"
        if parse and self.parser is not None:
            from fashionlens.garments import shows_person

            parsed = self.parser.parse_image(photo, keep_photo=False)
            # A product shot (no one wearing it) is one garment: the parser, trained on outfit
            # photos, would name fragments of it as other garments.
            if shows_person(parsed.label_map, parsed.classes):
                out["kind"] = "look"
            instances = parsed.instances if out["kind"] == "look" else []
            if overlay and instances:
                out["overlay"] = _png_data_url(parsed.label_map, parsed.classes)
            for inst in instances:
                g = {"label": inst.label, "score": round(float(inst.score), 4),
                     "box": list(inst.box), "area": int(inst.area)}
                if inst.mask is not None:
                    g["colours"] = colours_of_region(
                        rgb, inst.mask, namer=self.colour_namer).to_json(inst.label)
                garments.append(g)
        out["garments"] = garments
        self._name(out, lang)
        if with_embedding:
            out["embedding"] = [round(float(v), 6) for v in emb[0]]
        return out

    def _name(self, out: dict, lang: str) -> None:
        """Colour and garment ``display`` names in ``lang``."""
        from fashionlens.catalog.ingest import GARMENT_REGIONS
        from fashionlens.colour import default_dictionary

        colours = default_dictionary().colours
        for doc in [out["colours"], *(g.get("colours") or {} for g in out["garments"])]:
            for c in doc.get("colours", []):
                if c.get("name") in colours:
                    c["display"] = colours[c["name"]].display_name(lang)
        for g in out["garments"]:
            node = GARMENT_REGIONS.get(g["label"])
            if node and self.taxonomy is not None and node in self.taxonomy.nodes:
                g["display"] = self.taxonomy.nodes[node].display_name(lang)

    def _describe(self, out: dict, lang: str = "en") -> dict:
        if self.taxonomy is None or out["hedged"] is None:
            return {"summary": out["label"], "icon": None}
        from fashionlens.hedging import HedgedPrediction, describe

        hedged = HedgedPrediction(**out["hedged"])
        path = hedged.path if len(hedged.path) > 1 else self.taxonomy.path(
            self.taxonomy.node_for_class(out["label"]))
        return {"summary": describe(hedged, self.taxonomy, out["label"], lang),
                "icon": path[1] if len(path) > 1 else path[0]}


def _png_data_url(label_map: np.ndarray, classes) -> str:
    from fashionlens.garments import mask_overlay

    buf = io.BytesIO()
    mask_overlay(label_map, list(classes)).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
