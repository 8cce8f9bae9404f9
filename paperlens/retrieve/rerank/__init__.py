"""Rerank backends, chosen by name in config (``rerank.backend``). Heavy libraries load inside the backend."""

from __future__ import annotations

from paperlens.config import RerankSettings
from paperlens.errors import ConfigError
from paperlens.retrieve.rerank.base import Reranker

__all__ = ["Reranker", "build_reranker"]


def build_reranker(settings: RerankSettings) -> Reranker | None:
    """The configured reranker, loaded now; None for 'none' (the fused order stands)."""
    if settings.backend == "none":
        return None
    if settings.backend == "cross-encoder":
        from paperlens.retrieve.rerank.cross_encoder import CrossEncoderReranker

        return CrossEncoderReranker(
            settings.model,
            device=settings.device,
            batch_size=settings.batch_size,
            max_length=settings.max_length,
        )
    raise ConfigError(f"unknown rerank backend {settings.backend!r} (use 'none' or 'cross-encoder')")
