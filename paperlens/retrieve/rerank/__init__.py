"""Rerank backends, chosen by name in config (``rerank.backend``). Heavy libraries load inside the backend."""

from __future__ import annotations

from paperlens.backends import Registry
from paperlens.config import RerankSettings
from paperlens.retrieve.rerank.base import Reranker

__all__ = ["RERANKERS", "Reranker", "build_reranker"]

RERANKERS: Registry[Reranker | None] = Registry("rerank")


@RERANKERS.register("none")
def _none(settings: RerankSettings) -> None:
    return None  # the fused order stands


@RERANKERS.register("cross-encoder")
def _cross_encoder(settings: RerankSettings) -> Reranker:
    from paperlens.retrieve.rerank.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(
        settings.model,
        device=settings.device,
        batch_size=settings.batch_size,
        max_length=settings.max_length,
    )


@RERANKERS.register("http")
def _http(settings: RerankSettings) -> Reranker:
    from paperlens.retrieve.rerank.http import HttpReranker

    return HttpReranker.from_settings(settings)


def build_reranker(settings: RerankSettings) -> Reranker | None:
    """The configured reranker, loaded now; None for 'none' (the fused order stands)."""
    return RERANKERS.build(settings.backend, settings)
