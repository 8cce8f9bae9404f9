"""Answer generation: backends chosen by name in config, citations checked by shared code.

Public entry points: ``build_generator`` (the configured backend), ``answer_question`` / ``stream_answer``
(checked answers, whole or as Server-Sent-Event dicts) and ``llm_choose`` (multiple choice for the benchmark).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from paperlens.backends import Registry
from paperlens.config import GenerateSettings
from paperlens.generate.answer import answer_question, sse_format, stream_answer
from paperlens.generate.base import NOT_FOUND, Generator, StreamingGenerator
from paperlens.index.embed.base import Embedder
from paperlens.models import Hit

__all__ = [
    "GENERATORS",
    "NOT_FOUND",
    "Generator",
    "StreamingGenerator",
    "answer_question",
    "build_generator",
    "sse_format",
    "stream_answer",
]

#: Finds the crop image of a visual hit on disk (the engine knows where crops live); None when it has none.
ImageResolver = Callable[[Hit], Path | None]

GENERATORS: Registry[Generator] = Registry("generate")


@GENERATORS.register("extractive")
def _extractive(
    settings: GenerateSettings,
    embedder: Embedder,
    image_resolver: ImageResolver | None,
    multilingual: Embedder | None,
) -> Generator:
    from paperlens.generate.extractive import ExtractiveGenerator

    return ExtractiveGenerator(embedder, max_sentences=settings.max_sentences, multilingual=multilingual)


@GENERATORS.register("local")
def _local(
    settings: GenerateSettings,
    embedder: Embedder,
    image_resolver: ImageResolver | None,
    multilingual: Embedder | None,
) -> Generator:
    from paperlens.generate.local import LocalGenerator

    return LocalGenerator.from_settings(settings)


@GENERATORS.register("gemini")
def _gemini(
    settings: GenerateSettings,
    embedder: Embedder,
    image_resolver: ImageResolver | None,
    multilingual: Embedder | None,
) -> Generator:
    from paperlens.generate.gemini import GeminiGenerator

    return GeminiGenerator.from_settings(settings)


@GENERATORS.register("qwen-vl")
def _qwen_vl(
    settings: GenerateSettings,
    embedder: Embedder,
    image_resolver: ImageResolver | None,
    multilingual: Embedder | None,
) -> Generator:
    from paperlens.generate.qwen_vl import QwenVLGenerator

    return QwenVLGenerator.from_settings(settings, image_resolver=image_resolver)


@GENERATORS.register("openai")
def _openai(
    settings: GenerateSettings,
    embedder: Embedder,
    image_resolver: ImageResolver | None,
    multilingual: Embedder | None,
) -> Generator:
    from paperlens.generate.openai import OpenAIGenerator

    return OpenAIGenerator.from_settings(settings, image_resolver=image_resolver)


def build_generator(
    settings: GenerateSettings,
    embedder: Embedder,
    image_resolver: ImageResolver | None = None,
    multilingual: Embedder | None = None,
) -> Generator:
    """Build the configured generator. A missing model is an error here, never a silent switch to another.

    ``multilingual``: the embedder the extractive answer scores sentences with for questions not in English."""
    return GENERATORS.build(settings.backend, settings, embedder, image_resolver, multilingual)
