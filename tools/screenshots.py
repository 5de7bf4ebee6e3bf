"""Screenshots of the web pages for the docs: ``docs/screenshots/*.png``.

Builds the demo catalog in a temporary folder, serves it with uvicorn on a free loopback port
(the same way as ``tests/test_web_e2e.py``) and drives Debian's Chromium with Playwright
(``make setup-browser``; ``playwright install`` is never needed)::

    .venv/bin/python tools/screenshots.py [--photo examples/catalog/lookbook/look-003.jpg]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("FASHIONLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--font-render-hinting=none"]
TIMEOUT = 180_000  # ms


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db: Path, data: Path):
    """Start the app on the catalog at ``db`` in a daemon thread; return (server, base URL)."""
    import uvicorn

    from fashionlens.api.app import create_app

    app = create_app(db_dir=db, data_dir=data)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def analyse(page, url: str, photo: Path) -> None:
    page.goto(url + "/")
    page.wait_for_selector("html[data-ready]", state="attached")
    page.get_by_test_id("file-input").set_input_files(str(photo))
    page.get_by_test_id("overlay").wait_for(state="visible")
    results = page.get_by_test_id("similar").get_by_test_id("result")
    results.first.wait_for(state="visible")
    _images_loaded(page)


def _images_loaded(page) -> None:
    page.evaluate("""async () => {
        for (const img of document.images) img.loading = "eager";
        await Promise.all([...document.images].map(img => img.complete ? null :
            new Promise(r => { img.onload = img.onerror = r; })));
    }""")
    page.wait_for_timeout(300)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", type=Path,
                    default=REPO / "examples" / "catalog" / "lookbook" / "look-003.jpg",
                    help="The photo to analyse in the screenshots.")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run `make setup-browser`", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    from fashionlens.catalog.ingest import ingest

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fashionlens-shots-") as tmp:
        db = Path(tmp) / "catalog"
        print("ingesting the demo catalog…", file=sys.stderr)
        ingest(REPO / "examples" / "catalog" / "catalog.csv", db)
        server, url = serve(db, Path(tmp) / "data")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=CHROMIUM_ARGS)
                desktop = browser.new_context(viewport={"width": 1280, "height": 900},
                                              device_scale_factor=1)
                desktop.set_default_timeout(TIMEOUT)
                page = desktop.new_page()
                analyse(page, url, args.photo)
                page.screenshot(path=str(args.out / "analyze.png"), full_page=True)

                phone = browser.new_context(viewport={"width": 375, "height": 800},
                                            device_scale_factor=2, is_mobile=True,
                                            has_touch=True)
                phone.set_default_timeout(TIMEOUT)
                page = phone.new_page()
                analyse(page, url, args.photo)
                # the first two phone screens: the photo with its overlay and the answer
                page.screenshot(path=str(args.out / "analyze-phone.png"), full_page=True,
                                clip={"x": 0, "y": 0, "width": 375, "height": 1600})

                page = desktop.new_page()
                page.goto(url + "/audit")
                page.wait_for_selector("html[data-ready]", state="attached")
                page.get_by_test_id("audit-demo").click()
                page.get_by_test_id("finding").first.wait_for(state="visible")
                _images_loaded(page)
                page.mouse.move(0, 0)  # no hover colours in the picture
                page.evaluate("document.activeElement && document.activeElement.blur()")
                page.screenshot(path=str(args.out / "audit.png"), full_page=True)
                browser.close()
        finally:
            server.should_exit = True
    for name in ("analyze.png", "analyze-phone.png", "audit.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
