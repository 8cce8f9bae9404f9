"""The one retrieval path the service, the CLI and the benchmark share: dense + keyword, fused, reranked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from paperlens.config import RerankSettings, RetrieveSettings
from paperlens.index.embed.base import Embedder
from paperlens.index.store import Store
from paperlens.index.vectors import VectorIndex
from paperlens.models import VISUAL_KINDS, Hit
from paperlens.retrieve.fusion import reciprocal_rank_fusion, weighted_score_fusion


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


@dataclass
class Retriever:
    store: Store
    vectors: VectorIndex
    embedder: Embedder
    settings: RetrieveSettings
    rerank_settings: RerankSettings = field(default_factory=RerankSettings)
    reranker: object | None = None  # a paperlens.retrieve.rerank Reranker, when configured

    def dense(self, query_vector: np.ndarray, limit: int, filters: Filters) -> list[tuple[int, float]]:
        allowed = self.store.filtered_chunk_ids(**filters.as_kwargs()) if filters.active else None
        return self.vectors.search(query_vector, limit, allowed_ids=allowed)

    def keyword(self, query: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
        return self.store.keyword_search(query, limit, **filters.as_kwargs())

    def retrieve(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        k = k or self.settings.k
        filters = filters or Filters()
        n = max(self.settings.candidates, k)
        ranked = {
            "dense": self.dense(self.embedder.embed_query(query), n, filters),
            "keyword": self.keyword(query, n, filters),
        }
        weights = {"dense": self.settings.dense_weight, "keyword": self.settings.keyword_weight}
        if self.settings.fusion == "weighted":
            fused = weighted_score_fusion(ranked, weights)
        else:
            fused = reciprocal_rank_fusion(ranked, weights, k=self.settings.rrf_k)
        if self.reranker is not None:
            fused = self._rerank(query, fused[: max(self.rerank_settings.top_n, k)])
        top = fused[:k]
        return self.hits([(i, s, r) for i, s, r in top])

    def _rerank(self, query: str, fused: list[tuple[int, float, dict[str, int]]]):
        chunks = self.store.get_chunks([i for i, _, _ in fused])
        present = [item for item in fused if item[0] in chunks]
        scores = self.reranker.rerank(query, [chunks[i].text for i, _, _ in present])  # type: ignore[union-attr]
        rescored = [
            (i, float(s), {**ranks, "rerank": 0}) for (i, _, ranks), s in zip(present, scores, strict=True)
        ]
        rescored.sort(key=lambda item: -item[1])
        for rank, item in enumerate(rescored, start=1):
            item[2]["rerank"] = rank
        return rescored

    def hits(self, scored: Sequence[tuple[int, float, dict[str, int]]]) -> list[Hit]:
        chunks = self.store.get_chunks([i for i, _, _ in scored])
        titles = self.store.titles(c.document_id for c in chunks.values())
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
                    image_url=f"/v1/elements/{element_id}/image" if visual and element_id else None,
                    sources=ranks,
                )
            )
        return hits
