"""With retrieve.translate_queries, a real browser shows what a Persian question was searched as: the answer
model (the OpenAI stand-in on 127.0.0.1, over real HTTP) translated it, and the page names the English
translation above the evidence and in the search results. Screenshots go to ``<tmp_path>/screenshots``."""

from __future__ import annotations

import pytest
from live_server import live_server
from openai_standin import CHAT_MODEL, OpenAIStandIn
from persian_pdfs import make_topics_pdf
from test_web_ui import _shot, ready_page

from paperlens.text.normalize import normalize_query

pytestmark = pytest.mark.slow

QUESTION = "فتوسنتز در برگ گیاهان چگونه قند و اکسیژن می‌سازد؟"
TRANSLATION = "How does photosynthesis in plant leaves make sugar and oxygen?"
SEARCH = "آتشفشان و گدازه"
SEARCH_TRANSLATION = "volcano and lava"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from paperlens.config import Settings

    model = OpenAIStandIn()
    model.translations = {normalize_query(QUESTION): TRANSLATION, normalize_query(SEARCH): SEARCH_TRANSLATION}
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("ui-translate-data"),
        retrieve={"translate_queries": True},
        generate={"backend": "openai", "model": CHAT_MODEL, "base_url": model.base_url},
    )
    try:
        with live_server(settings) as srv:
            pdf = make_topics_pdf(tmp_path_factory.mktemp("pdf") / "topics.pdf")
            assert srv.upload(pdf)["status"] == "succeeded"
            yield srv
    finally:
        model.close()


def test_the_page_names_the_english_translation_a_persian_question_was_searched_as(server, tmp_path):
    shots = tmp_path / "screenshots"
    print(f"\nscreenshots: {shots}")
    with ready_page(server.url) as (page, errors):
        page.fill("#question", QUESTION)
        page.click("#ask-button")
        page.wait_for_selector("#answer-area[data-state=done]", timeout=120_000)
        searched = page.locator("#searched-as")
        assert searched.is_visible() and TRANSLATION in searched.inner_text()
        assert "photosynthesis" in (page.locator("#evidence .hit-text").first.text_content() or "").lower()
        _shot(page, shots, "translate-1-answer")

        # An English question afterwards: nothing was translated, so nothing is named.
        page.fill("#question", "What happens when a volcano erupts?")
        page.click("#ask-button")
        page.wait_for_selector("#answer-area[data-state=done]", timeout=120_000)
        assert not page.locator("#searched-as").is_visible()

        page.check("input[name=mode][value=search]")
        page.fill("#search-query", SEARCH)
        page.press("#search-query", "Enter")
        page.wait_for_selector("#hits li.hit")
        assert f"searched as “{SEARCH_TRANSLATION}”" in page.locator("#hits-status").inner_text()
        assert "volcanic" in page.locator("#hits .hit-text").first.inner_text().lower()
        _shot(page, shots, "translate-2-search")
        assert errors == []
