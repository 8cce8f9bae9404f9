"""retrieve.translate_queries: a Persian question is translated into English by the answer model (an
OpenAI-compatible protocol stand-in on 127.0.0.1, over real HTTP) and searched as an English one, over real
SQLite, FAISS and the bundled embedders. English questions are never sent to the model; a translation is asked
once per question; a failing server, or a reply that is not an English query, leaves the search answering on
the multilingual path; and the answer is still written from the question as asked."""

from __future__ import annotations

import pytest
from openai_standin import CHAT_MODEL, Fault, OpenAIStandIn
from persian_pdfs import make_topics_pdf

from paperlens.config import load_settings
from paperlens.engine import Engine
from paperlens.errors import ConfigError
from paperlens.retrieve.translate import SYSTEM, clean_reply

CHAT = "/v1/chat/completions"
PAGE = {"photosynthesis": 1, "volcano": 2, "football": 3}


@pytest.fixture(scope="module")
def model():
    standin = OpenAIStandIn()
    yield standin
    standin.close()


@pytest.fixture(scope="module")
def engine(tmp_path_factory, model):
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("data"),
        retrieve={"translate_queries": True},
        generate={
            "backend": "openai",
            "model": CHAT_MODEL,
            "base_url": model.base_url,
            "timeout_s": 2.0,
            "max_retries": 0,
        },
    )
    engine = Engine(settings)
    engine.ingest_path(make_topics_pdf(tmp_path_factory.mktemp("pdf") / "topics.pdf"))
    yield engine
    engine.close()


def _chats(model) -> list[dict]:
    return [r["body"] for r in model.requests_to(CHAT)]


def test_a_persian_question_is_searched_as_its_english_translation(engine, model):
    question = "کلروپلاست‌ها چگونه نور خورشید را به قند تبدیل می‌کنند؟"
    before = len(_chats(model))
    model.replies.append("How do chloroplasts turn sunlight into sugar?")
    hits = engine.search(question, k=3)
    sent = _chats(model)[before:]
    assert len(sent) == 1
    assert sent[0]["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": question},
    ]
    assert hits[0].page == PAGE["photosynthesis"]
    # The English lists ran on the translation ("chloroplasts" is only in it), the multilingual one did not.
    assert {"dense", "keyword"} <= set(hits[0].sources)
    assert all("multilingual" not in h.sources for h in hits)
    keyword = engine.retriever.keyword("chloroplasts", 5, filters=_no_filters())
    assert keyword and hits[0].chunk_id in {i for i, _ in keyword}


def test_a_question_is_translated_once_and_english_questions_never(engine, model):
    question = "وقتی آتشفشان فوران می‌کند چه اتفاقی برای قله کوه می‌افتد؟"
    model.replies.append("What happens to the summit of the mountain when a volcano erupts?")
    before = len(_chats(model))
    first = engine.search(question, k=3)
    again = engine.search(question, k=3)
    english = engine.search("Which team lost the 2018 football final?", k=3)
    assert len(_chats(model)) == before + 1
    assert first[0].page == again[0].page == PAGE["volcano"]
    assert [h.chunk_id for h in first] == [h.chunk_id for h in again]
    assert english[0].page == PAGE["football"]


@pytest.mark.parametrize(
    ("question", "fault", "reply"),
    [
        ("فتوسنتز در برگ گیاهان چگونه قند و اکسیژن می‌سازد؟", Fault(status=500), None),
        ("در فوران آتشفشان، خاکستر و گدازه از کجا بیرون می‌آید؟", Fault(malformed=True), None),
        # The model answered in Persian instead of translating: not used.
        ("فینال فوتبال ۲۰۱۸ چگونه تمام شد؟", None, "فینال فوتبال با نتیجه دو بر یک تمام شد"),
    ],
)
def test_a_failed_or_unusable_translation_searches_the_question_as_asked(
    engine, model, question, fault, reply
):
    failed = engine.health()["backends"]["translate"]["failed"]
    if fault is not None:
        model.fail(CHAT, fault)
    if reply is not None:
        model.replies.append(reply)
    hits = engine.search(question, k=3)
    assert hits, "the search still answers"
    assert "multilingual" in hits[0].sources  # the path a Persian question takes without translation
    assert engine.health()["backends"]["translate"]["failed"] == failed + 1
    # A failure is not cached: the next search of the question asks the model again.
    model.replies.append("How did the 2018 football final end?")
    before = len(_chats(model))
    engine.search(question, k=3)
    assert len(_chats(model)) == before + 1


def test_the_answer_is_written_from_the_question_as_asked(engine, model):
    question = "در برگ گیاهان، کلروفیل کدام رنگ‌های نور را بیشتر جذب می‌کند؟"
    model.replies += [
        "Which colours of light does chlorophyll in plant leaves absorb most?",
        "قرمز و آبی [1].",
    ]
    before = len(_chats(model))
    answer = engine.ask(question, k=3)
    translation, answering = _chats(model)[before:]
    assert translation["messages"][-1]["content"] == question
    assert question in answering["messages"][-1]["content"]
    assert answer.citations and answer.citations[0].page == PAGE["photosynthesis"]
    # The answer says what its evidence was searched with; an English question's says nothing.
    assert answer.searched_as == "Which colours of light does chlorophyll in plant leaves absorb most?"
    assert engine.ask("Which team lost the 2018 football final?", k=3).searched_as is None


def test_a_caller_that_translated_first_searches_without_asking_the_model_again(engine, model):
    """The service's routes ask searched_as, then search with translate=False: one model call per request,
    also when the translation fails (a failure is not cached, so searching with translation on would ask
    again)."""
    question = "در برگ گیاهان، کلروپلاست نور را جذب می‌کند؟"
    model.fail(CHAT, Fault(status=500))
    before = len(_chats(model))
    assert engine.searched_as(question) is None
    hits = engine.search(question, k=3, translate=False)
    assert len(_chats(model)) == before + 1
    assert "multilingual" in hits[0].sources


def test_health_shows_the_translator_and_its_counts(engine):
    translate = engine.health()["backends"]["translate"]
    assert translate["name"] == "openai" and translate["model"] == CHAT_MODEL and translate["active"]
    assert translate["translated"] >= 3 and translate["failed"] >= 3


def test_translation_needs_an_answer_model_that_can_chat(tmp_path):
    with pytest.raises(ConfigError, match="translate_queries needs an answer model"):
        load_settings(data_dir=tmp_path, retrieve={"translate_queries": True})


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("How do chloroplasts work?", "How do chloroplasts work?"),
        ('"How do chloroplasts work?"\n', "How do chloroplasts work?"),
        ("\nTranslation: How do chloroplasts work?\n(I kept the term.)", "How do chloroplasts work?"),
        ("Ratio: 2:1 in KRAS G12C?", "Ratio: 2:1 in KRAS G12C?"),
        ("", ""),
    ],
)
def test_clean_reply_keeps_the_translation_alone(reply, expected):
    assert clean_reply(reply) == expected


def _no_filters():
    from paperlens.retrieve.search import Filters

    return Filters()
