"""The pages in a real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Each page loads with no console error, every <img> (GIFs included) decodes (naturalWidth > 0),
the index table sorts on a header click and filters by model; a screenshot of each is written
to tmp_path. Without a browser these tests skip locally and fail when CI=true.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from latentscape.viz.compare import write_compare
from latentscape.viz.index import write_index
from latentscape.viz.report import write_report
from report_workspace import make_workspace

pytestmark = pytest.mark.browser
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium() -> str | None:
    for candidate in (os.environ.get("LATENTSCAPE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run; .ci/run installs Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium found (/usr/bin/chromium, chromium on PATH or $LATENTSCAPE_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    ws = make_workspace(root)
    ws["index"] = write_index(root)
    ws["compare"] = write_compare([ws["a"], ws["b"]], root / "compare.html")
    return ws


def _open(browser, path: Path, shot: Path):
    """Load `path`; assert no console errors, no failed requests, every image decoded; screenshot."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.src.slice(0, 14)])")
    assert errors == []
    assert images, f"{path.name}: no images"
    assert all(done and width > 0 for _, done, width, _ in images), images
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scrolling on a laptop
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    return page, images


@pytest.mark.parametrize("role", ["a", "demo", "path", "plane"])
def test_report_pages_load(browser, workspace, tmp_path, role):
    report = write_report(workspace[role])
    page, images = _open(browser, report, tmp_path / f"{role}.png")
    assert page.evaluate("document.querySelectorAll('script').length") == 0  # the evil run name stays text
    if role in ("demo", "a"):
        assert any(src.startswith("data:image/gif") for *_, src in images)
    if role == "demo":
        labels = page.locator(".strip-labels").first.inner_text()
        assert "input" in labels and "t = 0.5" in labels
    page.close()


def test_index_sorts_and_filters(browser, workspace, tmp_path):
    page, _ = _open_index(browser, workspace["index"], tmp_path / "index.png")
    runs = "table.entries[data-kind='run']"
    header = page.locator(f"{runs} th", has_text="test loss").first
    column = page.evaluate(f"Array.from(document.querySelectorAll(\"{runs} thead th\")).findIndex(t => t.textContent.trim() === 'test loss')")
    read = f"Array.from(document.querySelectorAll(\"{runs} tbody tr\")).map(r => r.cells[{column}].getAttribute('data-v')).filter(v => v !== '').map(Number)"
    header.click()
    values = page.evaluate(read)
    assert len(values) >= 2 and values == sorted(values)
    header.click()
    assert page.evaluate(read) == sorted(values, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    total = page.locator("table.entries tbody tr").count()
    page.select_option("#f-model", "ae")
    visible = page.locator("table.entries tbody tr:not([hidden])")
    assert 0 < visible.count() < total
    assert set(visible.evaluate_all("rs => rs.map(r => r.getAttribute('data-model'))")) == {"ae"}
    assert page.locator("section.kind-section[data-kind='tune']").is_hidden()  # a kind with nothing left is folded away
    page.select_option("#f-model", "")
    page.fill("#f-text", "LR grid")
    assert page.locator("table.entries tbody tr:not([hidden])").count() == 1
    page.close()


@pytest.mark.slow
def test_index_lists_every_kind_of_analysis(browser, tmp_path):
    """The index over a folder where every command has run (tests/every_kind.py): each kind has its
    section, lists its folder with a working link, and the page fits a 1,400 px window."""
    from every_kind import KINDS, make_every_kind

    root = tmp_path / "all"
    folders = make_every_kind(root)
    index = write_index(root)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(index.resolve().as_uri())
    page.wait_for_load_state("load")
    assert errors == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400  # no 2,200 px table
    for kind in KINDS:
        section = page.locator(f"section.kind-section[data-kind='{kind}']")
        assert section.count() == 1, kind
        assert section.locator(".kind").first.inner_text() == kind
        where = folders[kind].relative_to(root).as_posix()
        row = section.locator("tbody tr", has_text=where).first
        assert row.count() == 1, (kind, where)
        href = row.locator("a").first.get_attribute("href")
        assert (root / href.split("#")[0]).is_file(), (kind, href)
    assert page.locator(".warnings").count() == 0
    page.screenshot(path=str(tmp_path / "index-every-kind.png"), full_page=True)
    # each analysis page leads with the numbers it was run for, as a table
    leads = {"surface": "at w", "trajectory": "explained variance ratio", "hessian": "eigenvalue 1", "probe": "kNN accuracy",
             "tune": "Trials", "fge": "FGE ensemble", "plane": "Plane coordinates", "path": "barrier"}
    for kind, text in leads.items():
        page.goto((folders[kind] / "report.html").resolve().as_uri())
        assert text in page.locator("main").inner_text(), kind
        assert page.evaluate("document.documentElement.scrollWidth") <= 1400, kind
    page.close()


def _open_index(browser, path: Path, shot: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    assert errors == []
    assert "of" in page.locator("#shown").inner_text()  # the script ran
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path=str(shot), full_page=True)
    return page, errors


def test_compare_page_loads(browser, workspace, tmp_path):
    page, images = _open(browser, workspace["compare"], tmp_path / "compare.png")
    assert len(images) >= 5  # overlaid curves + both runs' pictures
    page.close()


@pytest.mark.slow
def test_real_demo_report_in_browser(browser, tmp_path):
    """The front door: a (tiny) real demo's page leads with its finding and every picture loads."""
    from latentscape.demo import DemoSettings, run_demo

    settings = DemoSettings(epochs=1, curve_epochs=1, points=3, hidden=16, latent_dim=4, threads=1, max_examples=100)
    run_demo(tmp_path / "demo", settings, quiet=True)
    page, images = _open(browser, tmp_path / "demo" / "report.html", tmp_path / "demo.png")
    assert "barrier" in page.locator(".finding").inner_text()
    assert sum(src.startswith("data:image/gif") for *_, src in images) == 2
    assert "input" in page.locator(".strip-labels").first.inner_text()
    page.close()


def test_pages_render_through_the_server_under_its_security_policy(browser, workspace, tmp_path):
    """Served by `report --serve` (Content-Security-Policy, nosniff): the index's script still
    sorts, every picture (data: URIs) still decodes, and the browser reports no violation."""
    import threading

    from latentscape.viz.serve import IndexServer

    root = workspace["index"].parent
    server = IndexServer(root, port=0, refresh_seconds=60, log=lambda line: None)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        response = page.goto(server.url)
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert "of" in page.locator("#shown").inner_text()  # the inline script ran
        page.locator("th", has_text="test loss").first.click()
        page.screenshot(path=str(tmp_path / "served-index.png"), full_page=True)
        for role in ("a", "demo"):
            page.goto(server.url.replace("index.html", f"{workspace[role].relative_to(root)}/report.html"))
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
            assert images and all(done and width > 0 for done, width in images), (role, images)
            page.screenshot(path=str(tmp_path / f"served-{role}.png"), full_page=True)
        assert errors == []
        page.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("role", ["index", "compare", "a", "demo", "plane"])
def test_pages_opened_from_disk_carry_the_servers_policy(browser, workspace, tmp_path, role):
    """A mailed page (opened from disk, no server, no header) enforces the server's policy from its
    own <meta>: its script still runs, its pictures still decode, and a request to anywhere else is
    blocked and reported as a violation; the browser logs no error or warning."""
    from latentscape.viz.serve import CONTENT_SECURITY_POLICY
    from latentscape.viz.templating import PAGE_POLICY

    path = workspace[role] if role in ("index", "compare") else write_report(workspace[role])
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: messages.append(str(e)))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("document.querySelector(\"meta[http-equiv='Content-Security-Policy']\").content") == PAGE_POLICY
    assert CONTENT_SECURITY_POLICY.startswith(PAGE_POLICY)  # one policy, served and mailed
    images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert all(done and width > 0 for done, width in images) and (images or role == "index")
    if role == "index":
        assert "of" in page.locator("#shown").inner_text()  # the inline script ran
        page.locator("th", has_text="test loss").first.click()
        assert page.locator("th[aria-sort]").count() == 1
    assert messages == []
    blocked = page.evaluate("""() => new Promise(done => {
        document.addEventListener('securitypolicyviolation', e => done(e.violatedDirective));
        const img = new Image(); img.src = 'http://127.0.0.1:9/leak.png'; document.body.appendChild(img);
        setTimeout(() => done('not blocked'), 2000);
    })""")
    assert blocked == "img-src"
    page.close()


def test_the_index_on_a_phone_shows_cards_that_fit(browser, workspace, tmp_path):
    """At 390 px each entry is a card (its finding readable without scrolling sideways, its
    metrics as "name: value"), and the headers still sort."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(workspace["index"].resolve().as_uri())
    page.wait_for_load_state("load")
    widest = page.evaluate("Math.max(...Array.from(document.querySelectorAll('table.entries')).map(t => t.getBoundingClientRect().right))")
    assert widest <= 390 and page.evaluate("document.documentElement.scrollWidth") <= 390
    runs = "table.entries[data-kind='run']"
    cell = page.locator(f"{runs} td.num[data-label='test loss']").first
    assert page.evaluate("e => getComputedStyle(e, '::before').content", cell.element_handle()) == '"test loss: "'
    page.locator(f"{runs} th", has_text="test loss").first.click()
    values = page.evaluate(f"Array.from(document.querySelectorAll(\"{runs} td.num[data-label='test loss']\")).map(c => c.getAttribute('data-v')).filter(v => v !== '').map(Number)")
    assert len(values) >= 2 and values == sorted(values)
    page.screenshot(path=str(tmp_path / "index-phone.png"), full_page=True)
    page.close()
