"""Answers carry their language, the question's and each quote's, so a page can mark English quotes under a
Persian question; an LLM is asked to answer in the question's language."""

from __future__ import annotations

from paperlens.generate.answer import answer_question, stream_answer
from paperlens.generate.prompts import build_messages
from paperlens.models import ElementKind, Hit

EVIDENCE = [
    Hit(
        chunk_id=1,
        document_id="doc",
        page=3,
        bbox=(0.0, 0.0, 100.0, 100.0),
        kind=ElementKind.TEXT,
        title="Paper",
        text="The corpus has 3.17B tokens in total.",
        score=1.0,
    )
]


class Quoting:
    """A generator that quotes the evidence, as the extractive one does."""

    name = "quoting"
    model = "quoting"

    def generate(self, question, evidence):
        return "The corpus has 3.17B tokens in total [1]."

    def stream(self, question, evidence):
        yield self.generate(question, evidence)


def test_a_persian_question_gets_english_quotes_marked_english():
    answer = answer_question("پیکره چند توکن دارد؟", EVIDENCE, Quoting())
    assert (answer.question_lang, answer.lang) == ("fa", "en")
    assert [c.lang for c in answer.citations] == ["en"]


def test_the_streamed_final_answer_is_marked_the_same_way():
    final = list(stream_answer("پیکره چند توکن دارد؟", EVIDENCE, Quoting()))[-1]
    assert final["event"] == "final"
    assert (final["data"]["question_lang"], final["data"]["lang"]) == ("fa", "en")
    assert final["data"]["citations"][0]["lang"] == "en"


def test_no_evidence_still_names_the_question_language():
    answer = answer_question("پیکره چند توکن دارد؟", [], Quoting())
    assert answer.question_lang == "fa" and answer.citations == []


def test_an_llm_is_asked_to_answer_in_the_question_language_only_when_it_is_not_english():
    for style in ("full", "compact"):
        persian = build_messages("پیکره چند توکن دارد؟", EVIDENCE, style=style)[-1]["content"]
        assert "write the answer in Persian" in persian and "[N] citations" in persian
        english = build_messages("How many tokens?", EVIDENCE, style=style)[-1]["content"]
        assert "write the answer in" not in english
