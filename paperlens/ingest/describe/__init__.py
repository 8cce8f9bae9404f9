"""Visual crops -> structured text. Choose a backend by name with ``build_describer``; run the ingestion
stage with ``describe_elements``. Backends import their heavy libraries only when built."""

from __future__ import annotations

from paperlens.backends import Registry
from paperlens.config import DescribeSettings
from paperlens.errors import BackendUnavailableError
from paperlens.ingest.describe.base import Describer, DescribeRequest, Description
from paperlens.ingest.describe.prompts import PROMPT_VERSION, parse_model_output
from paperlens.ingest.describe.stage import describe_elements, request_context

__all__ = [
    "DESCRIBERS",
    "PROMPT_VERSION",
    "DescribeRequest",
    "Describer",
    "Description",
    "build_describer",
    "describe_elements",
    "parse_model_output",
    "request_context",
]


DESCRIBERS: Registry[Describer | None] = Registry("describe")


@DESCRIBERS.register("none")
def _none(settings: DescribeSettings) -> None:
    return None


@DESCRIBERS.register("offline")
def _offline(settings: DescribeSettings) -> Describer:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError("the offline describer needs rapidocr-onnxruntime installed") from exc
    from paperlens.ingest.describe.offline import OfflineDescriber

    return OfflineDescriber()


@DESCRIBERS.register("qwen-vl")
def _qwen_vl(settings: DescribeSettings) -> Describer:
    from paperlens.ingest.describe.qwen_vl import TransformersVLMDescriber

    describer = TransformersVLMDescriber(settings)
    describer.check_available()
    return describer


@DESCRIBERS.register("gemini")
def _gemini(settings: DescribeSettings) -> Describer:
    try:
        from paperlens.ingest.describe.gemini import GeminiDescriber
    except ImportError as exc:
        raise BackendUnavailableError("the gemini describer needs google-genai (paperlens[gemini])") from exc
    return GeminiDescriber(settings)


@DESCRIBERS.register("openai")
def _openai(settings: DescribeSettings) -> Describer:
    from paperlens.ingest.describe.openai import OpenAIDescriber

    return OpenAIDescriber(settings)


def build_describer(settings: DescribeSettings) -> Describer | None:
    """The configured describer, or None for ``backend = "none"``.

    A backend whose weights, key or library are missing raises ``BackendUnavailableError`` here, at start-up,
    with what to do about it; it never quietly becomes another backend. An unknown name is the registry's
    ``UnknownBackendError``, listing the known ones.
    """
    return DESCRIBERS.build(settings.backend, settings)
