"""The web pages end to end: a real server (uvicorn, the demo catalog) and headless Chromium.

Chromium is Debian's (``make setup-browser``), driven by Playwright; ``playwright install`` is
never needed. Without ``/usr/bin/chromium`` the tests skip on a developer machine, but fail in
CI (``CI`` set), where a missing browser must not pass silently.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CATALOG = REPO / "examples" / "catalog"
LOOK = CATALOG / "lookbook" / "look-003.jpg"
BUNDLE = REPO / "models" / "garment-classifier" / "manifest.json"
CHROMIUM = os.environ.get("FASHIONLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SLOW = 90_000  # ms: an analysis on a busy 2-core CI machine

pytestmark = pytest.mark.skipif(not BUNDLE.exists(), reason="shipped classifier not present")


def _browser_missing_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (make setup-browser)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn serving ``app`` on a free loopback port, in a daemon thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def _serve(app, web_dir: Path):
    """The pages are part of ``create_app``; add them only to an app that lacks them."""
    paths = {getattr(r, "path", None) for r in app.routes}
    if "/" not in paths:
        from fastapi.responses import FileResponse
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=web_dir), name="static")
        app.get("/", include_in_schema=False)(lambda: FileResponse(web_dir / "index.html"))
        app.get("/audit", include_in_schema=False)(lambda: FileResponse(web_dir / "audit.html"))
    return app


@pytest.fixture(scope="module")
def server(demo_catalog_db, analyzer, tmp_path_factory) -> Iterator[str]:
    import inspect

    import fashionlens
    from fashionlens.api.app import create_app

    kwargs = {}
    params = inspect.signature(create_app).parameters
    if "db_dir" in params:
        kwargs["db_dir"] = demo_catalog_db
    if "data_dir" in params:
        kwargs["data_dir"] = tmp_path_factory.mktemp("web-data")
    app = _serve(create_app(analyzer=analyzer, **kwargs),
                 Path(fashionlens.__file__).parent / "web")
    with ServerThread(app) as srv:
        yield srv.url


@pytest.fixture(scope="module", autouse=True)
def _needs_browser() -> None:
    """Skip (or in CI, fail) before the catalog and server are built for nothing."""
    reason = _browser_missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the browser for the web tests: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=SLOW)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A fresh browser page that records console errors, page errors and failed requests."""

    def __init__(self, browser, **context) -> None:
        self.context = browser.new_context(**context)
        self.context.set_default_timeout(SLOW)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(
            f"request failed: {r.url} {r.failure}"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    p = Page(browser, viewport={"width": 1280, "height": 900})
    yield p
    p.close()


GARMENT_WORDS = re.compile(
    r"\b(garment|top|tops|tee|t-shirt|shirt|blouse|polo|longsleeve|undershirt|outerwear|"
    r"outwear|blazer|hoodie|jacket|bottoms|pants|trousers|shorts|skirt|dress|one-piece|body|"
    r"footwear|shoes|headwear|hat|upper-body)\b", re.IGNORECASE)
COLOUR_WORDS = {"black", "grey", "white", "cream", "beige", "camel", "brown", "khaki", "olive",
                "green", "dark green", "mint", "turquoise", "teal", "light blue", "blue", "navy",
                "purple", "lilac", "pink", "fuchsia", "red", "burgundy", "orange", "mustard",
                "yellow"}


def _no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"page is {width}px wide in a {inner}px viewport"


def _analyse(pg, url: str, photo: Path) -> None:
    """Open the page, reach the drop zone by Tab, check Enter/Space open the chooser, and
    choose ``photo``."""
    pg.goto(url + "/")
    pg.wait_for_selector("html[data-ready]", state="attached")  # app.js has run
    zone = pg.get_by_test_id("drop-zone")
    for _ in range(10):
        if zone.evaluate("el => el === document.activeElement"):
            break
        pg.keyboard.press("Tab")
    assert zone.evaluate("el => el === document.activeElement"), "drop zone not reachable by Tab"
    # Enter and Space must open the file chooser, i.e. click the file input. (Playwright's
    # "filechooser" event races with headless Chromium, so count the clicks instead.)
    opened = pg.evaluate_handle("""() => {
        const seen = {n: 0};
        document.getElementById("file-input").addEventListener("click", (e) => {
            seen.n += 1; e.preventDefault(); });
        return seen; }""")
    pg.keyboard.press("Enter")
    pg.keyboard.press(" ")
    assert opened.evaluate("seen => seen.n") == 2, "Enter/Space on the drop zone open no chooser"
    pg.get_by_test_id("file-input").set_input_files(str(photo))


def test_analyse_a_look_and_find_similar_looks(server, page):
    from playwright.sync_api import expect

    pg = page.page
    _analyse(pg, server, LOOK)

    preview = pg.get_by_test_id("preview")
    preview.wait_for(state="visible", timeout=5_000)  # local preview, before any answer
    assert preview.get_attribute("src").startswith("blob:")

    summary = pg.get_by_test_id("summary")
    summary.wait_for(state="visible")
    assert GARMENT_WORDS.search(summary.inner_text()), summary.inner_text()

    names = pg.get_by_test_id("swatches").locator(".chip-name").all_inner_texts()
    assert names and {n.lower() for n in names} <= COLOUR_WORDS, names
    rows = pg.get_by_test_id("swatches").locator(".colour-label").all_inner_texts()
    assert rows[0] == "Whole photo:" and len(rows) >= 2, rows  # and the parsed garments

    overlay = pg.get_by_test_id("overlay")
    overlay.wait_for(state="visible")
    assert overlay.get_attribute("src").startswith("data:image/png;base64,")
    box_photo, box_overlay = preview.bounding_box(), overlay.bounding_box()
    assert box_photo == box_overlay  # stacked exactly over the photo
    pg.get_by_text("Show garment overlay").click()
    assert "is-off" in overlay.get_attribute("class")

    similar = pg.get_by_test_id("similar")
    results = similar.get_by_test_id("result")
    results.first.wait_for(state="visible")
    assert results.count() >= 1
    looks = similar.locator("[data-kind=look]").filter(has=pg.get_by_test_id("complete-the-look"))
    assert looks.count() >= 1, "no look with complete-the-look garments"
    assert GARMENT_WORDS.search(looks.first.get_by_test_id("complete-the-look").inner_text())
    thumb = results.first.locator("img")
    thumb.scroll_into_view_if_needed()
    pg.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())

    # Filters re-run the search: only bottoms now.
    pg.get_by_label("Category").fill("bottoms")
    with pg.expect_response(lambda r: r.url.endswith("/v1/search")) as resp:
        pg.get_by_test_id("filter-apply").click()
    assert resp.value.ok
    expect(similar).to_have_attribute("aria-busy", "false")
    expect(results.first).to_be_visible()
    assert pg.get_by_test_id("error").inner_text() == ""
    assert not page.problems, page.problems


def test_a_file_that_is_not_a_photo_shows_a_readable_error(server, page):
    pg = page.page
    pg.goto(server + "/")
    pg.get_by_test_id("file-input").set_input_files(
        {"name": "invoice.jpg", "mimeType": "image/jpeg",
         "buffer": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"})
    alert = pg.get_by_role("alert")
    alert.wait_for(state="visible")
    text = alert.inner_text()
    assert alert.get_attribute("data-testid") == "error"
    assert "PDF" in text and "JPEG, PNG or WebP" in text, text
    assert pg.get_by_test_id("drop-zone").is_visible()  # the page stays usable
    assert not pg.get_by_test_id("summary").is_visible()
    # the broken preview is the only console error a browser reports here
    assert all("blob:" in p or "Failed to load resource" in p for p in page.problems), page.problems


def test_phone_screen_has_no_horizontal_overflow(server, browser):
    p = Page(browser, viewport={"width": 375, "height": 800}, device_scale_factor=2,
             is_mobile=True, has_touch=True)
    try:
        pg = p.page
        pg.goto(server + "/")
        _no_horizontal_overflow(pg)
        pg.get_by_test_id("file-input").set_input_files(str(LOOK))
        pg.get_by_test_id("similar").get_by_test_id("result").first.wait_for(state="visible")
        _no_horizontal_overflow(pg)
        assert pg.get_by_test_id("summary").is_visible()
        assert not p.problems, p.problems
    finally:
        p.close()


def test_audit_the_demo_catalog(server, page):
    pg = page.page
    pg.goto(server + "/")
    pg.get_by_role("link", name="Audit the catalog").click()
    pg.wait_for_url("**/audit")
    pg.get_by_role("button", name="Audit the demo catalog").click()
    pg.get_by_test_id("audit-progress").wait_for(state="visible")

    finding = pg.locator("[data-testid=finding][data-id=sh-002]")
    finding.wait_for(state="visible", timeout=240_000)
    assert finding.get_attribute("data-check") == "category_mismatch"
    reason = finding.locator(".f-reason").inner_text()
    assert "Pants" in reason and len(reason) > 20, reason
    assert "Pants" in finding.inner_text() and "Shoes" in finding.inner_text()  # stated, seen
    ids = pg.locator("[data-testid=finding]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert {"sh-002", "dr-002", "tp-001", "hd-002", "ts-101"} <= set(ids), ids
    assert "Done" in pg.locator("#progress-text").inner_text()

    link = pg.get_by_test_id("report-link")
    assert link.is_visible()
    report = pg.request.get(server + link.get_attribute("href"))
    assert report.ok and "sh-002" in report.text()
    thumb = finding.locator("img")
    pg.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())

    pg.set_viewport_size({"width": 375, "height": 800})
    _no_horizontal_overflow(pg)
    assert not page.problems, page.problems


def test_api_docs_render_offline_from_local_files(server, page):
    """/docs is Swagger UI from the installed package, not a CDN: it renders every operation
    on a machine with no internet, and every request it makes goes to this server."""
    pg = page.page
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.goto(server + "/docs")
    pg.get_by_text("/v1/analyze").first.wait_for(state="visible")
    for path in ("/v1/search", "/v1/audit", "/v1/items/{item_id}"):
        assert pg.get_by_text(path, exact=True).first.is_visible(), path
    assert requests and all(u.startswith(server) or u.startswith("data:") for u in requests), \
        [u for u in requests if not u.startswith(server)]
    assert not page.problems, page.problems


def test_names_follow_the_chosen_language_and_the_choice_is_kept(server, page):
    import httpx

    pg = page.page
    pg.goto(server + "/")
    pg.wait_for_selector("html[data-ready]", state="attached")
    pg.get_by_test_id("lang").select_option("es")
    pg.get_by_test_id("file-input").set_input_files(str(LOOK))
    summary = pg.get_by_test_id("summary")
    summary.wait_for(state="visible")
    expected = httpx.post(server + "/v1/analyze", files={"image": LOOK.read_bytes()},
                          data={"lang": "es"}, timeout=60).json()
    want = expected["summary"][0].upper() + expected["summary"][1:]
    pg.wait_for_function("w => document.querySelector('[data-testid=summary]').textContent === w",
                         arg=want)
    spanish = expected["colours"]["colours"][0]["display"]
    swatches = pg.get_by_test_id("swatches").inner_text()
    assert spanish in swatches
    garments = {g["display"] for g in expected["garments"] if g.get("display")}
    assert garments and all(name in swatches for name in garments), (garments, swatches)
    # back to English: the photo is analysed again in English
    english = httpx.post(server + "/v1/analyze", files={"image": LOOK.read_bytes()},
                         timeout=60).json()["summary"]
    pg.get_by_test_id("lang").select_option("en")
    pg.wait_for_function("w => document.querySelector('[data-testid=summary]').textContent === w",
                         arg=english[0].upper() + english[1:])
    pg.get_by_test_id("lang").select_option("ro")
    pg.reload()
    pg.wait_for_selector("html[data-ready]", state="attached")
    assert pg.get_by_test_id("lang").input_value() == "ro"  # kept in this browser
    # the reload cut off the Romanian re-analysis that choosing "ro" started: only that aborts
    assert [p for p in page.problems if "ERR_ABORTED" not in p] == [], page.problems
