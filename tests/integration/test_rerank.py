"""The cross-encoder reranker on a tiny BERT cross-encoder trained in the test (tests/tiny_rerank.py), loaded
through sentence-transformers' ``CrossEncoder`` from its folder like any downloaded reranker, then applied by
the Retriever (and the Engine, from config) to the fused candidates."""

from __future__ import annotations

import time

import pytest
from hash_embedder import HashEmbedder
from tiny_rerank import TRIPLES, build_tiny_cross_encoder

from paperlens.config import RerankSettings, RetrieveSettings, load_settings
from paperlens.errors import BackendUnavailableError
from paperlens.index.store import EmbeddedStore
from paperlens.index.vectors import VectorIndex
from paperlens.models import Chunk, Document, Element, ElementKind
from paperlens.retrieve.rerank import Reranker, build_reranker
from paperlens.retrieve.search import Retriever

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny_ce"), steps=40, seed=0)


@pytest.fixture(scope="module")
def reranker(tiny) -> Reranker:
    return build_reranker(RerankSettings(backend="cross-encoder", model=str(tiny.folder), batch_size=2))


def test_loaded_scores_are_the_trained_models_logits(tiny, reranker):
    import torch

    assert isinstance(reranker, Reranker) and reranker.model == str(tiny.folder)
    query, good, bad = TRIPLES[0]
    scores = reranker.rerank(query, [good, bad, good])
    batch = tiny.tokenizer([query] * 3, [good, bad, good], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = tiny.model(**batch).logits.squeeze(-1).tolist()
    assert scores == pytest.approx(expected, abs=1e-4)
    assert scores[0] == pytest.approx(scores[2], abs=1e-5)  # batching does not change a pair's score
    for query, good, bad in TRIPLES:
        relevant, irrelevant = reranker.rerank(query, [good, bad])
        assert relevant > irrelevant, query
    assert reranker.rerank("anything", []) == []


def _store_with(tmp_path, texts: list[str]):
    store = EmbeddedStore(tmp_path / "db.sqlite3")
    embedder = HashEmbedder()
    vectors = VectorIndex(tmp_path / "text.faiss", embedder.dim)
    elements = [
        Element(id=f"e{n}", document_id="d", page=n + 1, bbox=(0, 0, 1, 1), kind=ElementKind.TEXT, text=t)
        for n, t in enumerate(texts)
    ]
    chunks = [
        Chunk(document_id="d", page=e.page, bbox=e.bbox, text=e.text, element_ids=[e.id]) for e in elements
    ]
    document = Document(id="d", title="d", pages=len(texts), created_at=time.time())
    ids = store.add_document(document, elements, chunks, embedder.embed_passages(texts))
    vectors.add(ids, embedder.embed_passages(texts))
    return store, vectors, embedder, dict(zip(ids, texts, strict=True))


def test_retriever_orders_the_fused_candidates_by_the_rerankers_scores(tmp_path, reranker):
    query, good, _ = TRIPLES[2]  # "which optimizer was used"
    # Passages that share more words with the query than the relevant one does, so fusion ranks them first.
    texts = [
        "which optimizer was used is a question the reviewers asked twice",
        "the optimizer used here was used before, which is why it was used",
        good,
        "we thank the reviewers for their helpful comments",
    ]
    store, vectors, embedder, by_id = _store_with(tmp_path, texts)
    # RRF of dense and keyword alone: on these four passages its order differs from the reranker's, so the test
    # can see the rerank act (the candidates' own keyword list would happen to put them in the reranker's order).
    settings = RetrieveSettings(k=4, candidates=10, fusion="rrf", local_keyword_weight=0.0)
    plain = Retriever(store, vectors, embedder, settings).retrieve(query, k=4)
    reranked = Retriever(
        store, vectors, embedder, settings, RerankSettings(top_n=10), reranker=reranker
    ).retrieve(query, k=4)

    fused_order = [h.chunk_id for h in plain]
    assert set(fused_order) == set(by_id)
    expected_scores = dict(
        zip(fused_order, reranker.rerank(query, [by_id[i] for i in fused_order]), strict=True)
    )
    expected_order = sorted(fused_order, key=lambda i: -expected_scores[i])
    assert [h.chunk_id for h in reranked] == expected_order
    assert [h.chunk_id for h in reranked] != fused_order  # the reranker did change the order
    assert [h.score for h in reranked] == pytest.approx(
        [expected_scores[i] for i in expected_order], abs=1e-5
    )
    assert [h.sources["rerank"] for h in reranked] == [1, 2, 3, 4]
    assert all({"dense"} <= h.sources.keys() for h in reranked)  # where fusion found it is kept
    # Only the top_n fused candidates are rescored; the rest cannot overtake them.
    top1 = Retriever(store, vectors, embedder, settings, RerankSettings(top_n=1), reranker=reranker)
    assert [h.chunk_id for h in top1.retrieve(query, k=1)] == fused_order[:1]
    store.close()


def test_engine_builds_the_configured_reranker_and_reports_it(tiny, tmp_path):
    from paperlens.engine import Engine

    settings = load_settings(
        data_dir=tmp_path / "data",
        describe={"backend": "none"},
        rerank={"backend": "cross-encoder", "model": str(tiny.folder), "top_n": 5},
    )
    engine = Engine(settings)
    try:
        assert isinstance(engine.retriever.reranker, Reranker)
        rerank = engine.health()["backends"]["rerank"]
        assert rerank == {"name": "cross-encoder", "model": str(tiny.folder), "active": True}
    finally:
        engine.close()


def test_missing_or_unusable_models_are_refused(tmp_path):
    assert build_reranker(RerankSettings()) is None
    with pytest.raises(BackendUnavailableError, match="needs rerank.model"):
        build_reranker(RerankSettings(backend="cross-encoder", model=""))
    with pytest.raises(BackendUnavailableError, match="not found"):
        build_reranker(RerankSettings(backend="cross-encoder", model=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendUnavailableError, match="could not load"):
        build_reranker(RerankSettings(backend="cross-encoder", model=str(tmp_path / "empty")))
