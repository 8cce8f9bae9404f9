"""Fusion on hand-made lists whose values are worked out by hand, dedup by element, and the Retriever's
filters over a real SQLite store and a real FAISS index (with a bag-of-words embedder, no model)."""

from __future__ import annotations

import time

import pytest
from hash_embedder import HashEmbedder

from paperlens.config import RetrieveSettings
from paperlens.errors import BadInputError
from paperlens.index.store import EmbeddedStore
from paperlens.index.vectors import VectorIndex
from paperlens.models import Chunk, Document, Element, ElementKind
from paperlens.retrieve.fusion import dedup_by_key, reciprocal_rank_fusion, weighted_score_fusion
from paperlens.retrieve.search import Filters, Retriever

DENSE = [(1, 0.9), (2, 0.8), (3, 0.7)]
KEYWORD = [(3, 12.0), (1, 4.0)]


def as_scores(fused):
    return {i: s for i, s, _ in fused}


# ---------------------------------------------------------------- reciprocal rank fusion


def test_rrf_sums_one_over_k_plus_rank():
    fused = reciprocal_rank_fusion({"dense": DENSE, "keyword": KEYWORD}, k=60)
    assert [i for i, _, _ in fused] == [1, 3, 2]
    scores = as_scores(fused)
    assert scores[1] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[3] == pytest.approx(1 / 63 + 1 / 61)
    assert scores[2] == pytest.approx(1 / 62)
    assert fused[0][2] == {"dense": 1, "keyword": 2}
    assert fused[2][2] == {"dense": 2}


def test_rrf_weights_scale_each_list_and_can_flip_the_order():
    fused = reciprocal_rank_fusion({"dense": DENSE, "keyword": KEYWORD}, {"dense": 1.0, "keyword": 2.0}, k=60)
    scores = as_scores(fused)
    assert scores[3] == pytest.approx(1 / 63 + 2 / 61)
    assert scores[1] == pytest.approx(1 / 61 + 2 / 62)
    assert [i for i, _, _ in fused] == [3, 1, 2]
    # A zero weight silences a list but keeps where its items were found.
    fused = reciprocal_rank_fusion({"dense": DENSE, "keyword": KEYWORD}, {"keyword": 0.0}, k=60)
    assert [i for i, _, _ in fused] == [1, 2, 3]
    assert fused[2][2] == {"dense": 3, "keyword": 1}


def test_rrf_small_k_rewards_the_top_ranks_more():
    scores = as_scores(reciprocal_rank_fusion({"a": [(7, 1.0), (8, 0.5)]}, k=1))
    assert scores == {7: pytest.approx(1 / 2), 8: pytest.approx(1 / 3)}


def test_rrf_ties_break_by_id_and_empty_lists_are_fine():
    fused = reciprocal_rank_fusion({"a": [(5, 1.0)], "b": [(4, 1.0)], "c": []}, k=60)
    assert [i for i, _, _ in fused] == [4, 5]
    assert reciprocal_rank_fusion({}) == []


# ---------------------------------------------------------------- weighted score fusion


def test_weighted_fusion_min_max_normalises_each_list():
    fused = weighted_score_fusion({"dense": DENSE, "keyword": KEYWORD})
    scores = as_scores(fused)
    # dense: 0.9 -> 1, 0.8 -> 0.5, 0.7 -> 0; keyword: 12 -> 1, 4 -> 0.
    assert scores == {1: pytest.approx(1.0), 2: pytest.approx(0.5), 3: pytest.approx(1.0)}
    assert [i for i, _, _ in fused] == [1, 3, 2]  # the tie at 1.0 goes to the smaller id
    fused = weighted_score_fusion({"dense": DENSE, "keyword": KEYWORD}, {"dense": 0.5, "keyword": 2.0})
    assert as_scores(fused) == {1: pytest.approx(0.5), 2: pytest.approx(0.25), 3: pytest.approx(2.0)}
    assert [i for i, _, _ in fused] == [3, 1, 2]


def test_weighted_fusion_counts_a_list_of_one_or_of_ties():
    scores = as_scores(weighted_score_fusion({"dense": DENSE, "image": [(9, 0.31)]}))
    assert scores[9] == pytest.approx(1.0)  # not 0: being the only hit of a list is a signal
    scores = as_scores(weighted_score_fusion({"keyword": [(4, 2.0), (5, 2.0)]}, {"keyword": 0.5}))
    assert scores == {4: pytest.approx(0.5), 5: pytest.approx(0.5)}


# ---------------------------------------------------------------- dedup by element


def test_dedup_keeps_the_best_placed_item_per_element_and_merges_sources():
    fused = [
        (10, 0.9, {"dense": 1}),
        (11, 0.8, {"image": 1}),
        (12, 0.7, {"keyword": 1}),
        (13, 0.6, {"dense": 4, "image": 2}),
    ]
    out = dedup_by_key(fused, {10: "fig-a", 11: "fig-b", 13: "fig-a"})
    assert [i for i, _, _ in out] == [10, 11, 12]
    assert out[0] == (10, 0.9, {"dense": 1, "image": 2})
    assert fused[0][2] == {"dense": 1}  # the input is not modified


# ---------------------------------------------------------------- filters, through the Retriever


def _chunk(doc: str, page: int, kind: ElementKind, text: str, element: str) -> Chunk:
    return Chunk(document_id=doc, page=page, bbox=(0, 0, 10, 10), kind=kind, text=text, element_ids=[element])


@pytest.fixture
def retriever(tmp_path):
    """Two documents in two collections, text and visual chunks on several pages, all about 'attention'."""
    store = EmbeddedStore(tmp_path / "db.sqlite3")
    embedder = HashEmbedder()
    vectors = VectorIndex(tmp_path / "text.faiss", embedder.dim)
    layout = {
        ("doc-a", "alpha"): [
            (1, ElementKind.TEXT, "attention heads in the encoder"),
            (2, ElementKind.TEXT, "attention weights per layer and head"),
            (3, ElementKind.TABLE, "table of attention scores per layer"),
            (4, ElementKind.FIGURE, "figure showing attention maps"),
        ],
        ("doc-b", "beta"): [
            (1, ElementKind.TEXT, "self attention explained"),
            (2, ElementKind.FIGURE, "attention heatmap figure"),
            (5, ElementKind.FORMULA, "softmax attention formula"),
        ],
    }
    for (doc, collection), rows in layout.items():
        elements, chunks = [], []
        for n, (page, kind, text) in enumerate(rows):
            element_id = f"{doc}-{page}-{n}"
            elements.append(
                Element(id=element_id, document_id=doc, page=page, bbox=(0, 0, 10, 10), kind=kind, text=text)
            )
            chunks.append(_chunk(doc, page, kind, text, element_id))
        document = Document(id=doc, title=doc, pages=5, collection=collection, created_at=time.time())
        ids = store.add_document(
            document, elements, chunks, embedder.embed_passages([c.text for c in chunks])
        )
        vectors.add(ids, embedder.embed_passages([c.text for c in chunks]))
    yield Retriever(store, vectors, embedder, RetrieveSettings(k=10, candidates=20))
    store.close()


def _where(hits):
    return {(h.document_id, h.page, h.kind.value) for h in hits}


def test_unfiltered_search_sees_everything(retriever):
    hits = retriever.retrieve("attention", k=10)
    assert len(hits) == 7
    assert all({"dense", "keyword"} & h.sources.keys() for h in hits)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            Filters(document_ids=["doc-b"]),
            {("doc-b", 1, "text"), ("doc-b", 2, "figure"), ("doc-b", 5, "formula")},
        ),
        (
            Filters(collections=["alpha"]),
            {("doc-a", p, k) for p, k in [(1, "text"), (2, "text"), (3, "table"), (4, "figure")]},
        ),
        (Filters(pages=(2, 3)), {("doc-a", 2, "text"), ("doc-a", 3, "table"), ("doc-b", 2, "figure")}),
        (
            Filters(kinds=["figure", "formula"]),
            {("doc-a", 4, "figure"), ("doc-b", 2, "figure"), ("doc-b", 5, "formula")},
        ),
        (Filters(kinds=["figure"], collections=["beta"], pages=(1, 2)), {("doc-b", 2, "figure")}),
        (Filters(document_ids=["doc-a"], collections=["beta"]), set()),
        (Filters(document_ids=[]), set()),
    ],
)
def test_filters_apply_to_every_retriever(retriever, filters, expected):
    hits = retriever.retrieve("attention layer", k=10, filters=filters)
    assert _where(hits) == expected
    # Both lists honour the filter on their own, not only after fusion.
    ranked, _ = retriever.ranked_lists("attention layer", 20, filters)
    chunks = retriever.store.get_chunks([i for items in ranked.values() for i, _ in items])
    assert {(c.document_id, c.page, c.kind.value) for c in chunks.values()} <= expected


def test_two_chunks_of_one_element_come_back_once(tmp_path):
    store = EmbeddedStore(tmp_path / "db.sqlite3")
    embedder = HashEmbedder()
    vectors = VectorIndex(tmp_path / "text.faiss", embedder.dim)
    element = Element(id="e-fig", document_id="d", page=1, bbox=(0, 0, 1, 1), kind=ElementKind.FIGURE)
    chunks = [
        _chunk("d", 1, ElementKind.FIGURE, "loss curve figure caption", "e-fig"),
        _chunk("d", 1, ElementKind.FIGURE, "loss curve figure description with axes", "e-fig"),
        _chunk("d", 1, ElementKind.TEXT, "the loss curve falls", "e-text"),
        _chunk("d", 1, ElementKind.TEXT, "the loss curve falls quickly", "e-text"),  # a split paragraph
    ]
    texts = [c.text for c in chunks]
    ids = store.add_document(
        Document(id="d", title="d", pages=1), [element], chunks, embedder.embed_passages(texts)
    )
    vectors.add(ids, embedder.embed_passages(texts))
    hits = Retriever(store, vectors, embedder, RetrieveSettings()).retrieve("loss curve figure", k=10)
    assert sorted(h.chunk_id for h in hits if h.kind == ElementKind.FIGURE) in ([ids[0]], [ids[1]])
    assert (
        sum(h.kind == ElementKind.TEXT for h in hits) == 2
    )  # pieces of one paragraph are different passages
    store.close()


def test_a_search_needs_text_or_an_image(retriever):
    with pytest.raises(BadInputError):
        retriever.retrieve("   ")


def test_a_page_the_question_names_comes_first_in_a_document_scoped_search(retriever):
    scoped = Filters(document_ids=["doc-a"])
    plain = retriever.retrieve("attention weights per layer", k=4, filters=scoped)
    assert plain[0].page == 2  # the best match by words alone
    hits = retriever.retrieve("attention weights per layer on page 3", k=4, filters=scoped)
    assert (hits[0].page, hits[0].kind.value) == (3, "table")
    assert "page_ref" in hits[0].sources
    # Across the whole library "page 3" is no particular page; a page range filter still bounds it.
    ranked, _ = retriever.ranked_lists("attention on page 3", 20, Filters())
    assert "page_ref" not in ranked
    ranked, _ = retriever.ranked_lists(
        "attention on page 3", 20, Filters(document_ids=["doc-a"], pages=(1, 2))
    )
    assert "page_ref" not in ranked
    retriever.settings = retriever.settings.model_copy(update={"page_ref_weight": 0.0})  # switched off
    assert retriever.retrieve("attention weights per layer on page 3", k=4, filters=scoped)[0].page == 2


def test_a_reference_list_ranks_below_the_body_text_it_shares_words_with(tmp_path):
    store = EmbeddedStore(tmp_path / "db.sqlite3")
    embedder = HashEmbedder()
    vectors = VectorIndex(tmp_path / "text.faiss", embedder.dim)
    bibliography = (
        "12. Shi J, Zhao Y, Wang K. Gasdermin cleavage in pyroptosis. Nature. 2015; 526: 660-5. 13. Liu X, "
        "Zhang Z, Ruan J. Gasdermin pores in pyroptosis. Nature. 2016; 535: 153-8. 14. Das S, Miller M, Beppu AK. "
        "Gasdermin B in pyroptosis. Cell. 2020; 10: 1-9. 15. Wang Y, Gao W. Gasdermin pyroptosis. 2017."
    )
    body = "We found that gasdermin cleavage triggers pyroptosis in macrophages."
    chunks = [
        _chunk("d", 9, ElementKind.TEXT, bibliography, "e-refs"),
        _chunk("d", 3, ElementKind.TEXT, body, "e-body"),
    ]
    texts = [c.text for c in chunks]
    ids = store.add_document(Document(id="d", title="d", pages=9), [], chunks, embedder.embed_passages(texts))
    vectors.add(ids, embedder.embed_passages(texts))
    query = "gasdermin pyroptosis"
    # RRF (k=60) of dense and keyword so the scores are worked out by hand: the bibliography tops both lists,
    # the body is second.
    settings = RetrieveSettings(fusion="rrf", reference_list_weight=1.0, local_keyword_weight=0.0)
    retriever = Retriever(store, vectors, embedder, settings)
    plain = retriever.retrieve(query, k=2)
    assert [(h.page, h.sources) for h in plain] == [
        (9, {"dense": 1, "keyword": 1}),
        (3, {"dense": 2, "keyword": 2}),
    ]
    assert plain[0].score == pytest.approx(2 / 61, abs=1e-6)
    retriever.settings = settings.model_copy(update={"reference_list_weight": 0.5})
    hits = retriever.retrieve(query, k=2)
    assert [h.page for h in hits] == [3, 9]  # demoted, still found
    assert hits[1].score == pytest.approx(0.5 * 2 / 61, abs=1e-6)
    assert hits[0].score == pytest.approx(2 / 62, abs=1e-6)
    store.close()
