"""The web page in a real browser: Debian's chromium driven by Playwright against a live paperlens server.

One flow, in the order a person would use the page, with an API key configured on the server:
enter the key -> upload a generated paper -> watch the job finish -> ask (streamed answer) -> see a figure
crop thumbnail -> open a citation from the keyboard and check the highlight box sits on the cited bbox ->
search with a kind filter -> narrow screen -> delete the paper. Screenshots go to the test's tmp folder.

Needs ``chromium`` on PATH (Debian: ``apt-get install -y chromium``); skips without it. Playwright's own
browser downloads are never used.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from pdf_factory import A4, PLOT_CAPTION, make_paper_pdf

pytestmark = pytest.mark.slow

API_KEY = "ui-test-key-123"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VISUAL_KINDS = {"figure", "table", "formula"}
KNOWN_KINDS = {
    "text",
    "title",
    "figure",
    "table",
    "formula",
    "caption",
    "list",
    "header",
    "footer",
    "footnote",
}


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(
            "chromium is not installed (Debian: apt-get install -y chromium); the browser test needs it"
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The real app (real engine, bundled embedder, SQLite, FAISS) served by uvicorn on 127.0.0.1."""
    import uvicorn

    from paperlens.config import Settings
    from paperlens.service.app import create_app

    settings = Settings(data_dir=tmp_path_factory.mktemp("ui-data"), api_keys=[API_KEY])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180  # start-up loads the embedder once
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the paperlens server did not start")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _shot(page, folder: Path, name: str, full_page: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def _unlabelled_controls(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter((c) => c.type !== 'hidden')
            .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label'))
            .map((c) => c.id || c.name || c.outerHTML)"""
    )


def test_upload_ask_cite_search_delete_in_a_real_browser(live_server, browser, tmp_path):
    shots = tmp_path / "screenshots"
    facts = make_paper_pdf(tmp_path / "factory-paper.pdf")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # the delete confirmation
    page.set_default_timeout(30_000)

    # --- The page is served by the app, needs nothing from outside, and every control has a label.
    page.goto(f"{live_server}/")
    page.wait_for_selector("body[data-ready=true]")
    assert _unlabelled_controls(page) == []

    # --- Without a key the server answers 401 and the page asks for one; with it, the library loads.
    assert "API key" in page.locator("#key-note").inner_text()
    page.fill("#api-key", API_KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_function("document.querySelector('#health').textContent.startsWith('service')")
    assert page.evaluate("sessionStorage.getItem('paperlens.apiKey')") == API_KEY
    assert page.locator("#docs-empty").is_visible()
    page.reload()  # the key survives a reload of the tab (session storage)
    page.wait_for_selector("body[data-ready=true]")
    assert page.input_value("#api-key") == API_KEY
    # Image search is offered only when the server has image embeddings (off by default).
    health = httpx.get(f"{live_server}/v1/health", headers={"X-API-Key": API_KEY}).json()
    image_search_on = bool(health["backends"].get("image_embed", {}).get("active"))
    page.check("input[name=mode][value=image]")
    assert page.locator("#image-button").is_enabled() is image_search_on
    assert page.locator("#image-off").is_visible() is not image_search_on
    page.check("input[name=mode][value=ask]")

    # --- Upload through the file picker; record every state the job row goes through.
    page.evaluate(
        """() => {
            window.__jobStates = [];
            new MutationObserver(() => {
                const row = document.querySelector('#jobs .job');
                const s = row && row.dataset.status;
                if (s && window.__jobStates.at(-1) !== s) window.__jobStates.push(s);
            }).observe(document.querySelector('#jobs'), {subtree: true, childList: true, attributes: true});
        }"""
    )
    page.set_input_files("#file-input", str(facts.path))
    page.wait_for_selector(
        "#jobs .job[data-status=succeeded], #jobs .job[data-status=failed]", timeout=180_000
    )
    job = page.locator("#jobs .job").first
    assert job.get_attribute("data-status") == "succeeded", job.inner_text()
    assert page.locator("#jobs .job progress").first.evaluate("(p) => p.value") == 1
    states = page.evaluate("window.__jobStates")
    order = ["uploading", "queued", "running", "succeeded"]
    assert states == sorted(states, key=order.index), states  # never goes backwards
    document_id = job.get_attribute("data-document-id")
    doc_row = page.locator(f"#documents .doc[data-document-id='{document_id}']")
    doc_row.wait_for()
    assert facts.title in doc_row.locator(".doc-title").inner_text()
    assert f"{facts.pages} pages" in doc_row.inner_text()
    assert "text" in doc_row.locator(".doc-counts").inner_text()
    _shot(page, shots, "1-uploaded")

    # --- Ask (Enter in the question box submits); the answer arrives as a stream of tokens.
    page.fill("#question", "What does Figure 1 show about the training loss over epochs?")
    page.press("#question", "Enter")
    page.wait_for_selector("#answer-area[data-state=done], #answer-area[data-state=failed]", timeout=120_000)
    assert page.get_attribute("#answer-area", "data-state") == "done", page.locator("#alert").inner_text()
    assert int(page.get_attribute("#answer-area", "data-tokens")) >= 1
    assert page.get_attribute("#answer", "aria-live") == "polite"
    assert page.locator("#answer").inner_text().strip()
    refs = page.locator("#answer a.cite-ref")
    assert refs.count() >= 1
    citations = page.locator("#citations li.citation")
    assert citations.count() >= 1
    for i in range(citations.count()):
        item = citations.nth(i)
        assert item.locator("a.cite-link").inner_text().endswith(f"page {item.get_attribute('data-page')}")

    # A figure's crop thumbnail: among the citations when the answer cites the figure, else in the evidence.
    figure_citations = page.locator("#citations li.citation[data-kind=figure]")
    if figure_citations.count():
        thumb = figure_citations.locator("img.thumb")
    else:
        thumb = page.locator("#evidence li.hit[data-kind=figure] img.thumb")
        if not page.locator("#evidence-box[open]").count():
            page.click("#evidence-box summary")
    assert thumb.count() >= 1, "no figure crop among the citations or the evidence"
    thumb.first.wait_for()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.first.element_handle())
    assert thumb.first.bounding_box()["width"] > 20
    _shot(page, shots, "2-answer")

    # --- Open a citation from the keyboard: the page render shows with the cited region boxed.
    # The figure's citation when there is one (its box is the figure), else the first citation.
    link = refs.first
    if figure_citations.count():
        link = page.locator(
            f"#answer a.cite-ref[data-n='{figure_citations.first.get_attribute('data-n')}']"
        ).first
    n = link.get_attribute("data-n")
    bbox = json.loads(page.get_attribute(f"#cite-{n}", "data-bbox"))
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#viewer[open][data-state=ready]")
    highlight = page.locator("#highlight")
    highlight.wait_for(state="visible")
    image_box = page.locator("#page-image").bounding_box()
    box = highlight.bounding_box()
    assert box["width"] > 0 and box["height"] > 0
    # Where the box must be: the bbox in points scaled to the displayed image of an A4 page (3 px slack for
    # borders and rounding). This also checks that the server rendered the page at the dpi the page asked for.
    scale = image_box["width"] / A4[0]
    assert abs(image_box["height"] / image_box["width"] - A4[1] / A4[0]) < 0.01
    assert abs(box["x"] - (image_box["x"] + bbox[0] * scale)) < 3
    assert abs(box["y"] - (image_box["y"] + bbox[1] * scale)) < 3
    assert abs(box["width"] - (bbox[2] - bbox[0]) * scale) < 3
    assert abs(box["height"] - (bbox[3] - bbox[1]) * scale) < 3
    _shot(page, shots, "3-citation-highlight", full_page=False)
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('#viewer').open")
    assert page.evaluate("document.activeElement.dataset.n") == n  # focus returns to the link

    # --- Search: every hit shows its kind, score and page; a kind filter keeps only that kind.
    page.check("input[name=mode][value=search]")
    page.fill("#search-query", PLOT_CAPTION)
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#hits li.hit")
    hits = page.locator("#hits li.hit")
    for i in range(hits.count()):
        hit = hits.nth(i)
        assert hit.locator(".kind").inner_text().lower() in KNOWN_KINDS
        assert hit.locator(".score").inner_text().startswith("score ")
        float(hit.locator(".score").inner_text().removeprefix("score "))
        assert hit.locator(".hit-page").inner_text() == f"page {hit.get_attribute('data-page')}"
    assert "result" in page.locator("#hits-status").inner_text()
    page.check("#search-form input[name=kind][value=text]")
    page.click("#search-form button[type=submit]")
    page.wait_for_function("document.querySelector('#hits-status').textContent.includes('result')")
    kinds = page.locator("#hits li.hit").evaluate_all("(items) => items.map((i) => i.dataset.kind)")
    assert kinds and set(kinds) == {"text"}
    _shot(page, shots, "4-search")

    # --- Narrow screen (a phone): one column, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    _shot(page, shots, "5-narrow")

    # --- Delete: the row goes, and the server agrees.
    page.set_viewport_size({"width": 1280, "height": 900})
    doc_row.locator("button.danger").click()
    page.wait_for_selector("#docs-empty", state="visible")
    listed = httpx.get(f"{live_server}/v1/documents", headers={"Authorization": f"Bearer {API_KEY}"}).json()
    assert listed["documents"] == []

    assert page_errors == []
    context.close()
    print(f"screenshots: {shots}")
