"""Visual crops -> structured text. Choose a backend by name with ``build_describer``; run the ingestion
stage with ``describe_elements``. Backends import their heavy libraries only when built."""

from __future__ import annotations

from paperlens.config import DescribeSettings
from paperlens.errors import BackendUnavailableError
from paperlens.ingest.describe.base import Describer, DescribeRequest, Description
from paperlens.ingest.describe.prompts import PROMPT_VERSION, parse_model_output
from paperlens.ingest.describe.stage import describe_elements, request_context

__all__ = [
    "PROMPT_VERSION",
    "DescribeRequest",
    "Describer",
    "Description",
    "build_describer",
    "describe_elements",
    "parse_model_output",
    "request_context",
]


def build_describer(settings: DescribeSettings) -> Describer | None:
    """The configured describer, or None for ``backend = "none"``.

    A backend whose weights, key or library are missing raises ``BackendUnavailableError`` here, at start-up,
    with what to do about it; it never quietly becomes another backend.
    """
    backend = settings.backend
    if backend == "none":
        return None
    if backend == "offline":
        try:
            import rapidocr_onnxruntime  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailableError(
                "the offline describer needs rapidocr-onnxruntime installed"
            ) from exc
        from paperlens.ingest.describe.offline import OfflineDescriber

        return OfflineDescriber()
    if backend == "qwen-vl":
        from paperlens.ingest.describe.qwen_vl import TransformersVLMDescriber

        describer = TransformersVLMDescriber(settings)
        describer.check_available()
        return describer
    if backend == "gemini":
        try:
            from paperlens.ingest.describe.gemini import GeminiDescriber
        except ImportError as exc:
            raise BackendUnavailableError(
                "the gemini describer needs google-genai (paperlens[gemini])"
            ) from exc
        return GeminiDescriber(settings)
    raise BackendUnavailableError(f"unknown describe backend {backend!r}")
