"""Audit reports: JSON (a ranked list), CSV (one finding a line) and a self-contained HTML
page with thumbnails, the stated vs seen values and the reason. All text is escaped."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fashionlens.audit.checks import Finding

__all__ = ["findings_to_json", "write_csv", "write_html", "write_json"]


def findings_to_json(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    return [f.to_json() for f in findings]


def write_json(findings: Sequence[Finding], path: str | Path) -> None:
    Path(path).write_text(json.dumps(findings_to_json(findings), ensure_ascii=False, indent=1)
                          + "\n", encoding="utf-8")


def write_csv(findings: Sequence[Finding], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rank", "id", "check", "score", "reason", "evidence"])
        for i, fd in enumerate(findings, 1):
            w.writerow([i, fd.id, fd.check, f"{fd.score:.4f}", fd.reason,
                        json.dumps(fd.evidence, ensure_ascii=False)])


def _img(thumb: bytes | None, alt: str) -> str:
    if not thumb:
        return '<div class="nothumb">no photo</div>'
    b64 = base64.b64encode(thumb).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{b64}" alt="{html.escape(alt)}">'


def _stated_seen(fd: Finding, item: Any) -> tuple[str, str]:
    ev = fd.evidence
    if fd.check == "category_mismatch":
        return str(ev.get("stated")), f"{ev.get('seen')} ({ev.get('p_seen', 0):.0%})"
    if fd.check == "colour_mismatch":
        seen = ", ".join(f"{c['name']} {c['share']:.0%}" for c in ev.get("seen", []))
        return str(ev.get("stated")), seen
    if fd.check == "title_mismatch":
        if ev.get("field") == "colour":
            return str(ev.get("stated")), "title: " + ", ".join(ev.get("title_colours", []))
        return str(ev.get("stated")), "title: " + ", ".join(ev.get("title_nodes", []))
    if fd.check == "label_issue":
        return str(ev.get("given")), f"{ev.get('suggested')} ({ev.get('p_suggested', 0):.0%})"
    if fd.check == "near_duplicate":
        how = (f"pixel match {ev['pixel_ncc']}" if ev.get("pixel_ncc") is not None
               else "identical file" if ev.get("identical") else
               f"similarity {ev.get('similarity')}")
        return fd.id, f"copy of {ev.get('other')} ({how})"
    return "", ""


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}
img{max-width:110px;max-height:110px;border:1px solid #ccc}
.score{font-weight:bold}.check{font-family:monospace}
.nothumb{width:110px;height:60px;background:#eee;font-size:12px;text-align:center}
"""


def write_html(findings: Sequence[Finding], path: str | Path, *, store: Any = None,
               title: str = "fashionlens catalog audit") -> None:
    """A self-contained HTML report (thumbnails embedded as small base64 JPEGs)."""
    items = {it.id: it for it in store.items(with_thumb=True)} if store is not None else {}
    esc = html.escape
    counts: dict[str, int] = {}
    for fd in findings:
        counts[fd.check] = counts.get(fd.check, 0) + 1
    summary = ", ".join(f"{esc(k)}: {v}" for k, v in sorted(counts.items())) or "no findings"
    rows = []
    for rank, fd in enumerate(findings, 1):
        item = items.get(fd.id)
        thumbs = _img(getattr(item, "thumb", None), fd.id)
        other = fd.evidence.get("other") if fd.check == "near_duplicate" else None
        if other is not None:
            thumbs += " " + _img(getattr(items.get(other), "thumb", None), str(other))
        stated, seen = _stated_seen(fd, item)
        listing = esc(getattr(item, "title", "") or "")
        rows.append(
            f"<tr><td>{rank}</td><td>{thumbs}</td><td><b>{esc(fd.id)}</b><br>{listing}</td>"
            f'<td class="check">{esc(fd.check)}</td><td class="score">{fd.score:.2f}</td>'
            f"<td>{esc(stated)}</td><td>{esc(seen)}</td><td>{esc(fd.reason)}</td></tr>")
    buf = io.StringIO()
    buf.write(f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
              f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>")
    buf.write(f"<h1>{esc(title)}</h1><p>{len(findings)} findings ({summary}), "
              "most certain first.</p>")
    buf.write("<table><tr><th>#</th><th>photo</th><th>listing</th><th>check</th>"
              "<th>score</th><th>stated</th><th>seen</th><th>reason</th></tr>")
    buf.write("\n".join(rows))
    buf.write("</table></body></html>\n")
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
