"""Keyword scores among the candidates: word rarity counted among them, not in the whole library.

The pure function on hand-made texts, then the Retriever over a real SQLite store and a real FAISS index, where
a library-wide rare word finds the paper and the candidates' own rare words find the passage."""

from __future__ import annotations

import time

from hash_embedder import HashEmbedder

from paperlens.config import RetrieveSettings
from paperlens.index.store import EmbeddedStore
from paperlens.index.vectors import VectorIndex
from paperlens.models import Chunk, Document, ElementKind
from paperlens.retrieve.local_keyword import local_keyword_scores
from paperlens.retrieve.search import Filters, Retriever


def test_a_word_every_candidate_holds_weighs_nothing_and_a_rare_one_decides():
    texts = {
        1: "lwoffii lwoffii lwoffii grows in the hospital",
        2: "lwoffii was evolved in the lab until it became resistant",
        3: "lwoffii genome assembly and annotation",
    }
    scores = dict(local_keyword_scores("Was lwoffii evolved to be resistant?", texts))
    assert max(scores, key=scores.get) == 2
    # "lwoffii" is in every candidate: FTS5 gives such a word (almost) no weight, so 1 and 3 tie near zero.
    assert scores[1] < 0.01 * scores[2] and scores[3] < 0.01 * scores[2]


def test_words_are_stemmed_like_the_keyword_index_and_no_match_is_no_score():
    texts = {7: "the strains resisted ampicillin", 8: "colour of the colonies", 9: "growth curves of strains"}
    ranked = local_keyword_scores("Which strain resists ampicillin?", texts)
    assert [chunk_id for chunk_id, _ in ranked][0] == 7  # strain/strains, resists/resisted: one stem each
    assert 8 not in dict(ranked)
    assert local_keyword_scores("of the", {}) == []
    assert local_keyword_scores("", texts) == []


def _library(tmp_path):
    """Paper "acin" (every chunk says lwoffii) among papers where "evolved" and "resistant" are common words."""
    store = EmbeddedStore(tmp_path / "db.sqlite3")
    embedder = HashEmbedder()
    vectors = VectorIndex(tmp_path / "text.faiss", embedder.dim)
    papers = {
        "acin": [
            "lwoffii lwoffii lwoffii lwoffii is found on skin and in hospitals worldwide",
            "lwoffii strains were evolved in the lab and became resistant to colistin",
            "lwoffii lwoffii genomes of twelve isolates were sequenced and assembled",
            "lwoffii colonies are small, grey and smooth on blood agar plates after two days at thirty degrees",
        ],
        **{
            f"other-{n}": [
                f"bacteria evolved resistant phenotypes in study {n}",
                f"resistant mutants evolved quickly in trial {n}",
            ]
            for n in range(6)
        },
    }
    for doc, texts in papers.items():
        chunks = [
            Chunk(document_id=doc, page=p, bbox=(0, 0, 1, 1), kind=ElementKind.TEXT, text=t, element_ids=[])
            for p, t in enumerate(texts, start=1)
        ]
        vectors_of = embedder.embed_passages(texts)
        document = Document(id=doc, title=doc, pages=len(texts), created_at=time.time())
        vectors.add(store.add_document(document, [], chunks, vectors_of), vectors_of)
    return store, vectors, embedder


def test_the_candidates_own_rare_words_lift_the_passage_that_answers(tmp_path):
    store, vectors, embedder = _library(tmp_path)
    query, paper = "Was lwoffii evolved to be resistant?", Filters(document_ids=["acin"])
    # Keyword list alone: library-wide, "lwoffii" is rare and "evolved" and "resistant" are in most chunks
    # (BM25 gives them no weight), so the chunk that repeats "lwoffii" wins.
    settings = RetrieveSettings(dense_weight=0.0, local_keyword_weight=0.0)
    retriever = Retriever(store, vectors, embedder, settings)
    plain = retriever.retrieve(query, k=4, filters=paper)
    assert [h.page for h in plain] == [1, 3, 2, 4]
    assert "local_keyword" not in plain[0].sources
    # Among the candidates, "evolved" and "resistant" are what sets the answering chunk apart.
    retriever.settings = settings.model_copy(update={"local_keyword_weight": 1.0})
    hits = retriever.retrieve(query, k=4, filters=paper)
    assert hits[0].page == 2
    assert hits[0].sources["local_keyword"] == 1
    store.close()
