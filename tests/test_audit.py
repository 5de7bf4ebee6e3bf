"""Audit checks (hierarchy- and dictionary-aware), confident learning, reports."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from fashionlens.audit import (
    Finding,
    find_category_mismatches,
    find_colour_mismatches,
    find_label_issues,
    find_title_mismatches,
    label_quality_scores,
    write_csv,
    write_html,
)
from fashionlens.audit.checks import resolve_category, resolve_colours
from fashionlens.catalog import StoredItem
from fashionlens.colour import default_dictionary
from fashionlens.commands.catalog import audit, catalog_app
from fashionlens.core.settings import get_settings
from fashionlens.core.taxonomy import Taxonomy

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "catalog"
BUNDLE = get_settings().models_dir / "garment-classifier"
TAX = Taxonomy.load()
CLASSES = TAX.leaf_classes()
COLOURS = default_dictionary()


def _item(item_id: str, seen: str, *, category: str = "", colour: str = "", title: str = "",
          p: float = 0.9, colours: list[tuple[str, float]] = (), pattern: str = "solid"):
    probs = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1), np.float32)
    probs[CLASSES.index(seen)] = p
    return StoredItem(id=item_id, kind="item", image="", image_hash=item_id, fields_hash="",
                      title=title, category=category, colour=colour, label=seen,
                      confidence=p, probs=probs, pattern=pattern,
                      colours=[{"name": n, "share": s} for n, s in colours])


def test_reading_stated_values():
    assert resolve_category("Blouse", TAX) == "blouse"
    assert resolve_category("top", TAX) == "tops"           # a listing's "top" is any top
    assert resolve_category("Pantalón", TAX) == "pants"
    assert resolve_category("spaceship", TAX) is None
    assert resolve_colours("Bleumarin", COLOURS) == ["navy"]
    assert resolve_colours("", COLOURS) == []


def test_category_check_is_hierarchy_aware():
    items = [_item("ok-top", "Blouse", category="top"),
             _item("ok-leaf", "Blouse", category="Blouse"),
             _item("ok-es", "Pants", category="pantalones"),
             _item("wrong", "Shoes", category="Pants", p=0.95),
             _item("no-category", "Shoes")]
    found = find_category_mismatches(items, classes=CLASSES, taxonomy=TAX)
    assert [f.id for f in found] == ["wrong"]
    f = found[0]
    assert f.check == "category_mismatch" and 0.5 < f.score <= 1
    assert f.evidence["stated_node"] == "pants" and f.evidence["seen"] == "Shoes"
    assert "Pants" in f.reason and f.reason.endswith(".")


def test_colour_check_knows_near_misses():
    items = [_item("same", "Shirt", colour="azul marino", colours=[("navy", 1.0)]),
             _item("near", "Shirt", colour="blue", colours=[("navy", 1.0)]),
             _item("wrong", "Shirt", colour="rojo", colours=[("navy", 0.9), ("white", 0.1)]),
             _item("second", "Shirt", colour="white", colours=[("navy", 0.7), ("white", 0.3)])]
    found = {f.id: f for f in find_colour_mismatches(items, dictionary=COLOURS)}
    assert set(found) == {"near", "wrong"}
    assert found["near"].evidence["relation"] == "near" and found["near"].score < 0.5
    assert found["wrong"].evidence["relation"] == "different" and found["wrong"].score >= 0.8


def test_title_check_is_multilingual():
    items = [_item("dress-title", "Top", category="Top", colour="red",
                   title="Rochie roșie cu bretele"),
             _item("colour-title", "Hoodie", category="Hoodie", colour="blue",
                   title="Худи чёрное", colours=[("black", 1.0)]),
             _item("fine", "T-Shirt", category="T-Shirt", colour="white",
                   title="Samarreta blanca bàsica", colours=[("white", 1.0)]),
             _item("fine-broad", "Blouse", category="Blouse", colour="cream",
                   title="Top de seda crema")]
    found = find_title_mismatches(items, classes=CLASSES, taxonomy=TAX, dictionary=COLOURS)
    by = {(f.id, f.evidence["field"]): f for f in found}
    assert set(by) == {("dress-title", "category"), ("colour-title", "colour")}
    assert by[("colour-title", "colour")].score == pytest.approx(1.0)  # photo agrees: black
    assert 0.6 <= by[("dress-title", "category")].score < 0.7       # photo says top


def _noisy_problem(seed: int = 0, n: int = 1500, k: int = 5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 2.5
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    noisy = y.copy()
    flip = rng.random(n) < 0.15
    noisy[flip] = (y[flip] + rng.integers(1, k, flip.sum())) % k
    return noisy, p, flip


def test_label_issues_find_flipped_labels():
    labels, probs, flipped = _noisy_problem()
    issues = find_label_issues(labels, probs)
    assert issues.ndim == 1 and len(set(issues.tolist())) == len(issues)
    precision = flipped[issues].mean()
    recall = flipped[issues].sum() / flipped.sum()
    assert precision > 0.8 and recall > 0.6
    q = label_quality_scores(labels, probs)
    assert np.all(np.diff(q[issues]) >= 0)  # ranked most suspicious first
    with pytest.raises(ValueError):
        find_label_issues(labels, probs, filter_by="nope")


def test_label_issues_agree_with_cleanlab():
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    labels, probs, _ = _noisy_problem(seed=1)
    for method in ("prune_by_noise_rate", "confident_learning", "predicted_neq_given"):
        ours = set(find_label_issues(labels, probs, filter_by=method).tolist())
        theirs = set(np.flatnonzero(cleanlab_filter.find_label_issues(
            labels, probs, filter_by=method)).tolist())
        assert len(ours & theirs) / len(ours | theirs) >= 0.95, method


def test_reports_escape_text(tmp_path):
    evil = '<script>alert("x")</script>'
    findings = [Finding(evil, "category_mismatch", 0.9, f"Listed as {evil}.",
                        {"stated": evil, "seen": "Shoes", "p_seen": 0.9})]
    html_path = tmp_path / "r.html"
    write_html(findings, html_path)
    text = html_path.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text
    write_csv(findings, tmp_path / "r.csv")
    with open(tmp_path / "r.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["id"] == evil and json.loads(rows[0]["evidence"])["stated"] == evil


@pytest.mark.skipif(not (BUNDLE / "manifest.json").exists(),
                    reason="shipped classifier bundle not present")
def test_audit_finds_the_demo_catalog_mistakes(tmp_path):
    """The demo catalog's deliberate mistakes (examples/catalog/README.md) are found."""
    app = typer.Typer()
    app.add_typer(catalog_app, name="catalog")
    app.command("audit")(audit)
    db = tmp_path / "db"
    runner = CliRunner()
    res = runner.invoke(app, ["catalog", "ingest", str(DEMO / "catalog.csv"), "--db", str(db),
                              "--quiet"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["audit", "--db", str(db), "--json", "--html",
                              str(tmp_path / "r.html"), "--csv", str(tmp_path / "r.csv")])
    assert res.exit_code == 0, res.output
    findings = json.loads(res.stdout)
    got = {(f["id"], f["check"]) for f in findings}
    expected = {("sh-002", "category_mismatch"), ("dr-002", "colour_mismatch"),
                ("tp-001", "title_mismatch"), ("hd-002", "title_mismatch"),
                ("ts-101", "near_duplicate")}
    assert expected <= got, sorted(got)
    scores = [f["score"] for f in findings]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert all(f["reason"] and isinstance(f["evidence"], dict) for f in findings)
    assert ("bl-002", "category_mismatch") not in got      # "top" for a blouse is fine
    assert "data:image/jpeg;base64," in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.skipif(not (BUNDLE / "manifest.json").exists(),
                    reason="shipped classifier bundle not present")
def test_audit_of_a_training_set_finds_misfiled_and_duplicate_photos(tmp_path):
    """A folder of class folders is ingested as listings stating their label; the audit then
    names the photo filed under the wrong class and the photo filed twice."""
    rows = list(csv.DictReader((DEMO / "catalog.csv").open(encoding="utf-8")))
    data = tmp_path / "train"
    for r in rows:
        if r["kind"] == "item" and r["id"] not in ("sh-002", "ts-101", "dr-002", "tp-001",
                                                   "hd-002", "bl-002"):
            (data / r["category"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(DEMO / r["image"], data / r["category"] / f"{r['id']}.jpg")
    shutil.copy(DEMO / "photos" / "sh-001.jpg", data / "Dress" / "misfiled.jpg")
    shutil.copy(DEMO / "photos" / "pa-001.jpg", data / "Pants" / "pa-001-again.jpg")
    (data / "Dress" / "notes.jpg").write_text("not a photo", encoding="utf-8")

    app = typer.Typer()
    app.add_typer(catalog_app, name="catalog")
    app.command("audit")(audit)
    runner = CliRunner()
    db = tmp_path / "db"
    res = runner.invoke(app, ["catalog", "ingest", str(data), "--db", str(db), "--quiet"])
    assert res.exit_code == 0, res.output
    rejects = (db / "rejects.csv").read_text(encoding="utf-8")
    assert "Dress/notes.jpg" in rejects  # the unreadable file is named, the rest ingested
    res = runner.invoke(app, ["audit", "--db", str(db), "--json",
                              "--checks", "label_issue,category_mismatch,near_duplicate"])
    assert res.exit_code == 0, res.output
    got = {(f["id"], f["check"]) for f in json.loads(res.stdout)}
    assert {("Dress/misfiled.jpg", "category_mismatch"),
            ("Dress/misfiled.jpg", "label_issue")} <= got, sorted(got)
    assert any(i in ("Pants/pa-001.jpg", "Pants/pa-001-again.jpg") and c == "near_duplicate"
               for i, c in got), sorted(got)
    flagged = {i for i, _ in got}
    assert len(flagged) <= 4, sorted(got)  # a handful to look at, not the whole set
