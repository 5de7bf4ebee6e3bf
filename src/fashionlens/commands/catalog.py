"""`fashionlens catalog …`, `fashionlens search` and `fashionlens audit`: thin calls into
``fashionlens.catalog`` and ``fashionlens.audit``.

Exit codes: 0 done (rows may have been rejected: see the rejects file), 1 nothing could be
done (no row ingested, no query answered), 2 bad usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fashionlens.commands.progress import progress_bar

catalog_app = typer.Typer(
    no_args_is_help=True,
    help="A searchable, auditable catalog of garment photos and looks (SQLite + FAISS).")
err = Console(stderr=True)

DbOpt = Annotated[str, typer.Option("--db", help="Catalog directory (created by ingest).")]
FactoryOpt = Annotated[str | None, typer.Option(
    "--factory", help='FAISS factory string ("Flat", "HNSW32", "PCA128,IVF4096,PQ32") or '
                      '"auto" (exact for small catalogs). Default: the one the catalog uses.')]


def _run_ingest(rows, db: str, factory: str | None, rejects: str | None, quiet: bool,
                json_out: bool) -> None:
    from fashionlens.catalog import ingest

    with progress_bar("ingesting", console=err, disable=quiet or json_out) as tick:
        try:
            report = ingest(rows, db, factory=factory, rejects_path=rejects, progress=tick,
                            log=(lambda m: None) if json_out else err.print)
        except (ValueError, RuntimeError, FileNotFoundError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    summary = report.to_json()
    rejects_file = rejects or str(Path(db) / "rejects.csv")
    if json_out:
        print(json.dumps({**summary, "rejects_file": rejects_file}, ensure_ascii=False))
    else:
        err.print(", ".join(f"{k} {v}" for k, v in summary.items()))
        if report.rejected:
            err.print(f"[yellow]{len(report.rejected)} rows rejected[/yellow] → {rejects_file}")
            for r in report.rejected[:10]:
                err.print(f"  line {r.line} ({r.id or '?'}): {r.reason}")
        if report.looks_without_garments:
            err.print(f"{report.looks_without_garments} looks stored as whole photos (the "
                      "garment parser found no garment in them, or none is installed)")
    ok = report.added + report.replaced + report.updated + report.unchanged
    if ok == 0 and report.rejected:
        raise typer.Exit(1)


@catalog_app.command("ingest")
def ingest_cmd(
    file: Annotated[str, typer.Argument(
        help="Catalog rows: a .csv or .jsonl file; or a labelled training set (a folder of "
             "class folders, or with a labels.csv) to audit for label errors and duplicates.")],
    db: DbOpt,
    factory: FactoryOpt = None,
    rejects: Annotated[str | None, typer.Option(
        help="Where to write rejected rows with reasons (default <db>/rejects.csv).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Summary as JSON.")] = False,
) -> None:
    """Ingest a catalog file: classify, hedge, measure colours and embed every photo.

    Given a labelled training set instead, each photo becomes a listing stating its label, so
    that `fashionlens audit --checks label_issue,near_duplicate` finds mislabelled and
    duplicate training photos.

    Idempotent and resumable: unchanged rows are skipped, so re-run after an interruption.
    """
    path = Path(file)
    if path.is_dir():  # a labelled training set: category = label, id = relative path
        from fashionlens.catalog.rows import rows_from_dataset

        try:
            rows = rows_from_dataset(path)
        except (ValueError, OSError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        _run_ingest(rows, db, factory, rejects, quiet, json_out)
        return
    if not path.is_file():
        err.print(f"[red]no such file: {file}[/red]")
        raise typer.Exit(2)
    _run_ingest(file, db, factory, rejects, quiet, json_out)


@catalog_app.command("add")
def add_cmd(
    images: Annotated[list[str], typer.Argument(help="Photos to add (id = file name stem).")],
    db: DbOpt,
    item_id: Annotated[str | None, typer.Option("--id", help="Id (one photo only).")] = None,
    title: Annotated[str, typer.Option(help="Listing title.")] = "",
    category: Annotated[str, typer.Option(help="Stated category.")] = "",
    colour: Annotated[str, typer.Option(help="Stated colour.")] = "",
    look: Annotated[bool, typer.Option("--look", help="These are outfit photos.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Summary as JSON.")] = False,
) -> None:
    """Add (or replace) listings from photos given on the command line."""
    from fashionlens.catalog import CatalogRow

    if item_id and len(images) > 1:
        err.print("[red]--id needs exactly one photo[/red]")
        raise typer.Exit(2)
    rows = [CatalogRow(id=item_id or Path(p).stem, image=str(Path(p)), title=title,
                       category=category, colour=colour, kind="look" if look else "auto",
                       line=i) for i, p in enumerate(images, 1)]
    _run_ingest(rows, db, None, None, True, json_out)


@catalog_app.command("remove")
def remove_cmd(ids: Annotated[list[str], typer.Argument(help="Listing ids.")], db: DbOpt) -> None:
    """Remove listings (and their vectors) by id."""
    from fashionlens.catalog.ingest import remove

    n = remove(db, ids)
    err.print(f"removed {n} of {len(ids)} listings")
    if n == 0:
        raise typer.Exit(1)


@catalog_app.command("stats")
def stats_cmd(db: DbOpt,
              json_out: Annotated[bool, typer.Option("--json", help="As JSON.")] = False) -> None:
    """Counts of listings, looks, garment regions and vectors, and the index state."""
    from fashionlens.catalog import CatalogStore, open_index

    try:
        store = CatalogStore(db, create=False)
    except FileNotFoundError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    try:
        stats = store.stats()
        index, action = open_index(store)
        stats["index"] = {"factory": index.factory if index else None,
                          "ntotal": index.ntotal if index else 0, "check": action}
        if stats["looks_without_garments"]:
            stats["note"] = ("looks without garment regions are searchable as whole photos "
                             "only (the parser found no garment in them, or none was "
                             "installed when they were ingested)")
    finally:
        store.close()
    if json_out:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
        return
    table = Table("", "value")
    for k, v in stats.items():
        table.add_row(k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else str(v))
    Console().print(table)


@catalog_app.command("rebuild-index")
def rebuild_index_cmd(db: DbOpt, factory: FactoryOpt = None) -> None:
    """Rebuild the FAISS index from the embeddings stored in the database."""
    from fashionlens.catalog import CatalogStore
    from fashionlens.catalog.index import build_index

    store = CatalogStore(db, create=False)
    try:
        if factory:
            store.set_meta("index_factory", factory)
        wanted = store.get_meta("index_factory", "auto") or "auto"
        if store.count_vectors() == 0:
            err.print("catalog is empty; nothing to index")
            return
        index = build_index(store, wanted, log=err.print)
        index.save(store.dir)
        err.print(f"index {index.factory}: {index.ntotal} vectors")
    finally:
        store.close()


def search(
    images: Annotated[list[str], typer.Argument(help="Query photos.")],
    db: DbOpt,
    k: Annotated[int, typer.Option("--k", min=1, help="Results per query.")] = 10,
    category: Annotated[str | None, typer.Option(
        help="Keep results under this taxonomy node (any language: 'tops', 'pantalón').")] = None,
    colour: Annotated[str | None, typer.Option(help="Keep results of this colour.")] = None,
    region: Annotated[str | None, typer.Option(
        help="Search with this part of each photo: x1,y1,x2,y2 in pixels (or 0..1).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON line per query.")] = False,
) -> None:
    """Find catalog items and looks with a garment like the one in each photo."""
    from fashionlens.catalog import CatalogSearcher, parse_region

    try:
        box = parse_region(region)
        searcher = CatalogSearcher(db)
    except (ValueError, FileNotFoundError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    answered = 0
    try:
        for res in searcher.search(images, k=k, category=category, colour=colour, region=box):
            answered += "results" in res
            if json_out:
                print(json.dumps(res, ensure_ascii=False), flush=True)
                continue
            if "error" in res:
                err.print(f"[red]{res['query']}: {res['error']}[/red]")
                continue
            table = Table("id", "score", "kind", "category", "colours", "title",
                          title=res["query"])
            for h in res["results"]:
                table.add_row(h["id"], f"{h['score']:.3f}", h["kind"], str(h["category"]),
                              ", ".join(h["colours"]), h.get("title", ""))
            Console().print(table)
    except ValueError as exc:  # unknown category or colour
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        searcher.close()
    if answered == 0:
        raise typer.Exit(1)


def audit(
    db: DbOpt,
    json_out: Annotated[bool, typer.Option("--json", help="Findings as a JSON list.")] = False,
    html: Annotated[str | None, typer.Option("--html", help="Write an HTML report here.")]
    = None,
    csv_path: Annotated[str | None, typer.Option("--csv", help="Write a CSV report here.")]
    = None,
    checks: Annotated[str | None, typer.Option(
        help="Comma-separated checks (default all): category_mismatch, colour_mismatch, "
             "title_mismatch, near_duplicate, label_issue.")] = None,
    min_score: Annotated[float, typer.Option(
        "--min-score", min=0.0, max=1.0, help="Report findings at least this certain.")] = 0.5,
) -> None:
    """Find listings whose photo, category, colour and title disagree, duplicates and likely
    label errors, most certain first."""
    from fashionlens.audit import CHECKS, audit_catalog, write_csv, write_html
    from fashionlens.catalog import CatalogStore

    chosen = [c.strip() for c in checks.split(",")] if checks else list(CHECKS)
    try:
        findings = audit_catalog(db, checks=chosen, min_score=min_score)
    except (ValueError, FileNotFoundError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if html:
        with CatalogStore(db, create=False) as store:
            write_html(findings, html, store=store)
        err.print(f"HTML report → {html}")
    if csv_path:
        write_csv(findings, csv_path)
        err.print(f"CSV report → {csv_path}")
    if json_out:
        print(json.dumps([f.to_json() for f in findings], ensure_ascii=False, indent=1))
        return
    table = Table("#", "id", "check", "score", "reason")
    for i, f in enumerate(findings, 1):
        table.add_row(str(i), f.id, f.check, f"{f.score:.2f}", f.reason)
    Console().print(table)
