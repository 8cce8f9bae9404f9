"""A Persian question in a real browser (Debian's chromium, Playwright) against a live server over English
papers: the question and a Persian search render right to left, the extractive answer quotes the English
evidence marked ``lang="en"``, and the page says the answer quotes the papers rather than translating them.
Screenshots go to ``<tmp_path>/screenshots`` (the path is printed; look at them)."""

from __future__ import annotations

import pytest
from live_server import live_server
from persian_pdfs import make_topics_pdf
from test_web_ui import _shot, ready_page

pytestmark = pytest.mark.slow

QUESTION = "فتوسنتز در برگ گیاهان چگونه قند و اکسیژن می‌سازد؟"
DIRECTION = "(sel) => { const n = document.querySelector(sel); return [getComputedStyle(n).direction, n.matches(':dir(rtl)')]; }"  # noqa: E501


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from paperlens.config import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("ui-fa-data"))
    with live_server(settings) as srv:
        pdf = make_topics_pdf(tmp_path_factory.mktemp("pdf") / "topics.pdf")
        assert srv.upload(pdf)["status"] == "succeeded"
        yield srv


def test_a_persian_question_renders_right_to_left_and_the_english_quotes_are_marked(server, tmp_path):
    shots = tmp_path / "screenshots"
    print(f"\nscreenshots: {shots}")
    with ready_page(server.url) as (page, errors):
        # An empty box reads left to right; typed Persian turns it right to left.
        assert page.evaluate(DIRECTION, "#question") == ["ltr", False]
        page.fill("#question", QUESTION)
        assert page.evaluate(DIRECTION, "#question") == ["rtl", True]
        page.click("#ask-button")
        page.wait_for_selector("#answer-area[data-state=done]", timeout=120_000)

        # The offline answer quotes the English page on photosynthesis: marked English, laid out left to
        # right inside the page, with a note that it is the papers' wording, not a translation.
        answer = page.locator("#answer p[lang=en]").first
        assert "chlorophyll" in answer.inner_text().lower() or "sunlight" in answer.inner_text().lower()
        assert page.evaluate(DIRECTION, "#answer p[lang=en]") == ["ltr", False]
        note = page.locator("#answer .lang-note")
        assert "not a translation" in note.inner_text() and "(Persian)" in note.inner_text()
        quote = page.locator("#citations blockquote").first
        assert quote.get_attribute("lang") == "en" and quote.get_attribute("dir") == "auto"
        assert page.locator("#evidence .hit-text").first.get_attribute("dir") == "auto"
        # Right to left with start alignment: the Persian text sits against the box's right edge.
        assert page.evaluate("getComputedStyle(document.querySelector('#question')).textAlign") == "start"
        _shot(page, shots, "fa-1-answer")

        # Search mode: a Persian query box is right to left too, and finds the English page.
        page.check("input[name=mode][value=search]")
        page.fill("#search-query", "آتشفشان و گدازه")
        assert page.evaluate(DIRECTION, "#search-query") == ["rtl", True]
        page.press("#search-query", "Enter")
        page.wait_for_selector("#hits li.hit")
        assert "volcanic" in page.locator("#hits .hit-text").first.inner_text().lower()
        _shot(page, shots, "fa-2-search")
        assert errors == []
