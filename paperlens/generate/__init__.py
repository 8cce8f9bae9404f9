"""Answer generation: backends chosen by name in config, citations checked by shared code.

Public entry points: ``build_generator`` (the configured backend), ``answer_question`` / ``stream_answer``
(checked answers, whole or as Server-Sent-Event dicts) and ``llm_choose`` (multiple choice for the benchmark).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from paperlens.config import GenerateSettings
from paperlens.generate.answer import answer_question, sse_format, stream_answer
from paperlens.generate.base import NOT_FOUND, Generator
from paperlens.index.embed.base import Embedder
from paperlens.models import Hit

__all__ = ["NOT_FOUND", "Generator", "answer_question", "build_generator", "sse_format", "stream_answer"]

#: Finds the crop image of a visual hit on disk (the engine knows where crops live); None when it has none.
ImageResolver = Callable[[Hit], Path | None]


def build_generator(
    settings: GenerateSettings,
    embedder: Embedder,
    image_resolver: ImageResolver | None = None,
    multilingual: Embedder | None = None,
) -> Generator:
    """Build the configured generator. A missing model is an error here, never a silent switch to another.

    ``multilingual``: the embedder the extractive answer scores sentences with for questions not in English."""
    backend = settings.backend
    if backend == "extractive":
        from paperlens.generate.extractive import ExtractiveGenerator

        return ExtractiveGenerator(embedder, max_sentences=settings.max_sentences, multilingual=multilingual)
    if backend == "local":
        from paperlens.generate.local import LocalGenerator

        return LocalGenerator.from_settings(settings)
    if backend == "gemini":
        from paperlens.generate.gemini import GeminiGenerator

        return GeminiGenerator.from_settings(settings)
    if backend == "qwen-vl":
        from paperlens.generate.qwen_vl import QwenVLGenerator

        return QwenVLGenerator.from_settings(settings, image_resolver=image_resolver)
    from paperlens.errors import ConfigError

    raise ConfigError(f"unknown answer backend {backend!r}: use extractive, local, gemini or qwen-vl")
