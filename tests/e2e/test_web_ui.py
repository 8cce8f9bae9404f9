"""The web page in a real browser: Debian's chromium driven by Playwright against a live paperlens server.

One flow, in the order a person would use the page, with API keys and (tiny, offline) CLIP image embeddings
configured on the server: enter the key -> upload a generated paper with the file picker and watch its job
-> drop the same file on the drop zone -> ask about Figure 1 (streamed answer) -> see the cited figure's crop
thumbnail -> open the citation from the keyboard and check the highlight sits on the cited bbox -> search
with kind filters -> search by an image -> the same at 375 px wide -> delete the paper.
Screenshots go to ``<tmp_path>/screenshots`` (the path is printed; look at them).

Needs ``chromium`` on PATH (Debian: ``apt-get install -y chromium``); skips without it. Playwright's own
browser downloads are never used.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import live_server
from pdf_factory import A4, PLOT_CAPTION, make_paper_pdf
from reliability_kit import marked_pdf
from tiny_clip import TINY_CLIP_NAME, build_tiny_clip

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
    # The browser is another process, out of reach of the test's socket guard: resolve nothing but loopback.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
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
PHONE = {"width": 375, "height": 812}


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(
            "chromium is not installed (Debian: apt-get install -y chromium); the browser test needs it"
        )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real app (real engine, bundled embedder, SQLite, FAISS, a tiny CLIP) on 127.0.0.1."""
    from paperlens.config import ImageEmbedSettings, Settings

    clip = build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"), steps=20)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("ui-data"),
        api_keys=[API_KEY],
        image_embed=ImageEmbedSettings(
            enabled=True, model=TINY_CLIP_NAME, pretrained=str(clip.checkpoint), config_path=clip.config_json
        ),
    )
    with live_server(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@contextlib.contextmanager
def ready_page(url: str, timeout_ms: int = 60_000) -> Iterator[tuple[Any, list[str]]]:
    """A headless Chromium page on the app at ``url``, once it is ready: (page, the page's uncaught errors)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(timeout_ms)
            page.goto(f"{url}/")
            page.wait_for_selector("body[data-ready=true]")
            yield page, errors
        finally:
            browser.close()


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


def _horizontal_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _open_citation_and_check_highlight(page, link) -> str:
    """Open a citation link with the keyboard; the box drawn over the page render must be the cited bbox
    (PDF points) scaled to the displayed image of an A4 page, within 3 px for borders and rounding."""
    n = link.get_attribute("data-n")
    bbox = json.loads(page.get_attribute(f"#cite-{n}", "data-bbox"))
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#viewer[open][data-state=ready]")
    highlight = page.locator("#highlight")
    highlight.wait_for(state="visible")
    highlight.scroll_into_view_if_needed()
    image_box = page.locator("#page-image").bounding_box()
    box = highlight.bounding_box()
    assert box["width"] > 0 and box["height"] > 0
    scale = image_box["width"] / A4[0]
    assert abs(image_box["height"] / image_box["width"] - A4[1] / A4[0]) < 0.01
    assert abs(box["x"] - (image_box["x"] + bbox[0] * scale)) < 3
    assert abs(box["y"] - (image_box["y"] + bbox[1] * scale)) < 3
    assert abs(box["width"] - (bbox[2] - bbox[0]) * scale) < 3
    assert abs(box["height"] - (bbox[3] - bbox[1]) * scale) < 3
    return n


def test_upload_ask_cite_search_delete_in_a_real_browser(server, browser, tmp_path):
    shots = tmp_path / "screenshots"
    print(f"\nscreenshots: {shots}")
    auth = {"Authorization": f"Bearer {API_KEY}"}
    facts = make_paper_pdf(tmp_path / "factory-paper.pdf")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # the delete confirmation
    page.set_default_timeout(30_000)
    skipped: list[str] = []

    # --- The page is served by the app, needs nothing from outside, and every control has a label.
    page.goto(f"{server.url}/")
    page.wait_for_selector("body[data-ready=true]")
    assert _unlabelled_controls(page) == []

    # --- Without a key the server answers 401 and the page asks for one; with it, the library loads.
    assert "wants an API key" in page.locator("#key-note").inner_text()
    page.fill("#api-key", API_KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_function("document.querySelector('#health').textContent.startsWith('service')")
    assert page.evaluate("sessionStorage.getItem('paperlens.apiKey')") == API_KEY
    assert page.locator("#docs-empty").is_visible()
    page.reload()  # the key survives a reload of the tab (session storage)
    page.wait_for_selector("body[data-ready=true]")
    assert page.input_value("#api-key") == API_KEY
    # Image search is offered exactly when the server has image embeddings.
    health = httpx.get(f"{server.url}/v1/health", headers=auth).json()
    image_search_on = bool(health["backends"].get("image_embed", {}).get("active"))
    assert page.locator("#mode-image").is_visible() is image_search_on

    # --- Keyboard: Tab from the key form reaches the (visually hidden) file input, and its label shows focus.
    page.focus("#key-clear")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file-input"
    outline = page.evaluate("getComputedStyle(document.querySelector('label[for=file-input]')).outlineStyle")
    assert outline != "none"

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
    assert job.locator("progress").evaluate("(p) => p.value") == 1
    # Screen readers hear the outcome once, from a status region, not each percent from the row.
    assert page.locator("#announcer").text_content() == f"{facts.path.name}: done"
    assert page.get_attribute("#announcer", "role") == "status"
    states = page.evaluate("window.__jobStates")
    order = ["uploading", "queued", "running", "searchable", "succeeded"]
    assert states[0] == "uploading" and states[-1] == "succeeded", states
    assert states == sorted(states, key=order.index), states  # never goes backwards
    document_id = job.get_attribute("data-document-id")
    doc_row = page.locator(f"#documents .doc[data-document-id='{document_id}']")
    doc_row.wait_for()
    assert facts.title in doc_row.locator(".doc-title").inner_text()
    assert f"{facts.pages} pages" in doc_row.inner_text()
    counts = httpx.get(f"{server.url}/v1/documents/{document_id}", headers=auth).json()["counts"]
    shown_counts = doc_row.locator(".doc-counts").inner_text()
    for kind, count in counts.items():
        assert f"{count} {kind}" in shown_counts
    has_figures = counts.get("figure", 0) > 0
    # Page renders say how big the page is in points, which is what the page scales bboxes by.
    render = httpx.get(f"{server.url}/v1/documents/{document_id}/pages/1/image?dpi=72", headers=auth)
    assert (float(render.headers["X-Page-Width"]), float(render.headers["X-Page-Height"])) == A4

    # --- Drag and drop two files onto the drop zone: the same PDF again (uploaded, recognised, no second
    # document) and a text file posing as a PDF (refused, with the server's error code on its row).
    pdf_b64 = base64.b64encode(facts.path.read_bytes()).decode()
    page.evaluate(
        """([b64, name]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], name, {type: 'application/pdf'}));
            data.items.add(new File(['just some text, not a PDF'], 'notes.pdf', {type: 'application/pdf'}));
            const zone = document.querySelector('#dropzone');
            for (const type of ['dragenter', 'dragover', 'drop']) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
            }
        }""",
        [pdf_b64, "dropped.pdf"],
    )
    dropped = page.locator("#jobs .job", has_text="dropped.pdf")
    dropped.and_(page.locator("[data-status=succeeded]")).wait_for()
    assert dropped.get_attribute("data-document-id") == document_id
    assert "already in the library" in dropped.inner_text()
    refused = page.locator("#jobs .job", has_text="notes.pdf")
    refused.and_(page.locator("[data-status=failed]")).wait_for()
    assert "[not_a_pdf]" in refused.inner_text()
    assert page.locator("#documents .doc").count() == 1
    _shot(page, shots, "1-uploaded")

    # --- Ask about Figure 1 (Enter in the question box submits); the answer arrives as a stream of tokens.
    # What the page shows at the first token (mutation observers run before the stream is read further):
    # the retrieved evidence already, the first words of the answer, and the region marked busy.
    page.evaluate(
        """() => {
            const area = document.querySelector('#answer-area');
            new MutationObserver(() => {
                if (area.dataset.tokens === '1' && !window.__firstToken) window.__firstToken = {
                    evidence: document.querySelectorAll('#evidence li.hit').length,
                    text: document.querySelector('#answer').textContent,
                    busy: document.querySelector('#answer').getAttribute('aria-busy'),
                    citations: document.querySelectorAll('#citations li').length,
                };
            }).observe(area, {attributes: true, attributeFilter: ['data-tokens']});
        }"""
    )
    page.fill("#question", "What does Figure 1 show? Training loss of the factory model over ten epochs")
    page.press("#question", "Enter")
    page.wait_for_selector("#answer-area[data-state=done], #answer-area[data-state=failed]", timeout=120_000)
    assert page.get_attribute("#answer-area", "data-state") == "done", page.locator("#alert").inner_text()
    assert int(page.get_attribute("#answer-area", "data-tokens")) >= 1
    first = page.evaluate("window.__firstToken")
    assert first["evidence"] >= 1 and first["text"].strip() and first["busy"] == "true", first
    assert first["citations"] == 0, first  # citations come with the final event, after the text
    assert page.get_attribute("#answer", "aria-live") == "polite"
    assert page.get_attribute("#answer", "aria-busy") == "false"
    assert page.locator("#answer").inner_text().strip()
    refs = page.locator("#answer a.cite-ref")
    assert refs.count() >= 1
    citations = page.locator("#citations li.citation")
    assert citations.count() >= 1
    for i in range(citations.count()):
        item = citations.nth(i)
        assert item.locator("a.cite-link").inner_text().endswith(f"page {item.get_attribute('data-page')}")
        if item.get_attribute("data-kind") in VISUAL_KINDS:
            assert item.locator("img.thumb").count() == 1  # every cited visual shows its crop

    # The cited figure: its crop thumbnail is a real image shaped like its bbox, and the bbox is Figure 1.
    figure_citations = page.locator("#citations li.citation[data-kind=figure]")
    link = refs.first
    figure_chunk = None
    if not has_figures:
        skipped.append(
            "the parser found no figure elements in the generated paper (element counts: "
            f"{counts}), so there is no cited figure thumbnail to check"
        )
    else:
        assert figure_citations.count() >= 1, "the paper has figures but the answer about Figure 1 cites none"
        figure = figure_citations.first
        thumb = figure.locator("img.thumb")
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
        size = thumb.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
        bbox = json.loads(figure.get_attribute("data-bbox"))
        assert abs(size[0] / size[1] - (bbox[2] - bbox[0]) / (bbox[3] - bbox[1])) < 0.1
        assert thumb.bounding_box()["width"] > 20
        assert figure.get_attribute("data-page") == str(facts.plot.page)
        assert _iou(bbox, facts.plot.rect) > 0.5, (bbox, facts.plot.rect)
        figure_chunk = figure.get_attribute("data-chunk-id")
        link = page.locator(f"#answer a.cite-ref[data-n='{figure.get_attribute('data-n')}']").first
    _shot(page, shots, "2-answer")

    # --- Open the (figure's) citation from the keyboard: the page render shows with the cited region boxed.
    n = _open_citation_and_check_highlight(page, link)
    _shot(page, shots, "3-citation-highlight", full_page=False)
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('#viewer').open")
    assert page.evaluate("document.activeElement.dataset.n") == n  # focus returns to the link ...
    assert page.evaluate("document.activeElement.matches(':focus-visible')")  # ... and shows it

    # --- Search: every hit shows its kind, score and page; a kind filter keeps only that kind.
    page.check("input[name=mode][value=search]")
    page.fill("#search-query", PLOT_CAPTION)
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#hits li.hit")
    hits = page.locator("#hits li.hit")
    for i in range(hits.count()):
        hit = hits.nth(i)
        assert hit.locator(".kind").inner_text().lower() in KNOWN_KINDS
        score = hit.locator(".score").inner_text()
        assert score.startswith("score ")
        float(score.removeprefix("score "))
        assert hit.locator(".hit-page").inner_text() == f"page {hit.get_attribute('data-page')}"
    assert "result" in page.locator("#hits-status").inner_text()

    def search_kinds(kind: str) -> list[str]:
        for box in page.locator("#search-form input[name=kind]").all():
            box.set_checked(box.get_attribute("value") == kind)
        page.evaluate("document.querySelector('#hits-status').textContent = ''")
        page.click("#search-form button[type=submit]")
        page.wait_for_function("/result|Nothing/.test(document.querySelector('#hits-status').textContent)")
        return page.locator("#hits li.hit").evaluate_all("(items) => items.map((i) => i.dataset.kind)")

    kinds = search_kinds("text")
    assert kinds and set(kinds) == {"text"}
    if has_figures:
        kinds = search_kinds("figure")
        assert kinds and set(kinds) == {"figure"}
        assert page.locator("#hits li.hit img.thumb").count() == len(kinds)
    _shot(page, shots, "4-search")

    # --- Image search: upload the cited figure's own crop; it comes back among visual hits.
    if image_search_on and figure_chunk is not None:
        crop = tmp_path / "figure-crop.png"
        element_hits = httpx.post(
            f"{server.url}/v1/search", headers=auth, json={"query": PLOT_CAPTION, "kinds": ["figure"]}
        ).json()["hits"]
        image_url = next(h["image_url"] for h in element_hits if str(h["chunk_id"]) == figure_chunk)
        crop.write_bytes(httpx.get(f"{server.url}{image_url}", headers=auth).content)
        page.check("input[name=mode][value=image]")
        page.set_input_files("#image-file", str(crop))
        page.evaluate("document.querySelector('#hits-status').textContent = ''")
        page.click("#image-button")
        page.wait_for_function("/result|Nothing/.test(document.querySelector('#hits-status').textContent)")
        assert page.locator("#alert").is_hidden(), page.locator("#alert").inner_text()
        found = page.locator("#hits li.hit").evaluate_all(
            "(items) => items.map((i) => [i.dataset.chunkId, i.dataset.kind])"
        )
        assert figure_chunk in [chunk for chunk, _ in found], found
        assert {kind for _, kind in found} <= VISUAL_KINDS, found
        _shot(page, shots, "4b-image-search")
    elif not image_search_on:
        # Hidden control checked above; the upload itself cannot be exercised without CLIP on the server.
        warnings.warn(
            f"image search not exercised: the server reports image_embed inactive "
            f"({health['backends'].get('image_embed')})",
            stacklevel=1,
        )

    # --- A phone (375 px): one column, nothing wider than the screen, and the page viewer still boxes the
    # cited region in the right place.
    page.set_viewport_size(PHONE)
    assert _horizontal_overflow(page) <= 0
    _shot(page, shots, "5-narrow-search")
    page.check("input[name=mode][value=ask]")
    assert _horizontal_overflow(page) <= 0
    _shot(page, shots, "6-narrow-answer")
    _open_citation_and_check_highlight(page, page.locator(f"#answer a.cite-ref[data-n='{n}']").first)
    assert _horizontal_overflow(page) <= 0
    _shot(page, shots, "7-narrow-citation", full_page=False)
    page.click("#viewer-close")
    page.wait_for_function("!document.querySelector('#viewer').open")

    # --- Delete: the row goes, and the server agrees.
    page.set_viewport_size({"width": 1280, "height": 900})
    doc_row.locator("button.danger").click()
    page.wait_for_selector("#docs-empty", state="visible")
    listed = httpx.get(f"{server.url}/v1/documents", headers=auth).json()
    assert listed["documents"] == []

    # --- A job started elsewhere (or before a reload) shows up on the page and is followed to the end: the
    # worker is paused so the job is certainly still queued when the page loads.
    server.app.state.runner.stop()
    try:
        late = marked_pdf(tmp_path / "late.pdf", "okapistry").read_bytes()
        r = httpx.post(
            f"{server.url}/v1/documents", files={"file": ("late.pdf", late, "application/pdf")}, headers=auth
        )
        assert r.status_code == 202, r.text
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        resumed = page.locator(f"#jobs .job[data-job-id='{r.json()['job_id']}']")
        assert "late.pdf" in resumed.inner_text() and resumed.get_attribute("data-status") == "queued"
    finally:
        server.app.state.runner.start()
    resumed.and_(page.locator("[data-status=succeeded]")).wait_for(timeout=180_000)
    page.locator(f"#documents .doc[data-document-id='{r.json()['document_id']}']").wait_for()

    # --- Forgetting the key removes it from the tab's session, and the server asks for one again.
    page.click("#key-clear")
    page.wait_for_function("document.querySelector('#key-note').textContent.includes('wants an API key')")
    assert page.evaluate("sessionStorage.getItem('paperlens.apiKey')") is None

    assert page_errors == []
    context.close()
    if skipped:
        pytest.skip("every other step passed; not checked: " + "; ".join(skipped))
