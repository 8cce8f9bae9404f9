"""Rerankers rescore the fused candidates with a model that reads the query and the passage together."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Reranker(Protocol):
    """(query, passages) -> one relevance score per passage, in the same order; higher means more relevant.

    Scores are only comparable within one call (raw model logits, not probabilities)."""

    name: str  # backend name, e.g. "cross-encoder"
    model: str  # model name or path, shown in /v1/health

    def rerank(self, query: str, texts: list[str]) -> list[float]: ...
