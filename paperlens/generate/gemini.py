"""Answers from Gemini through LangChain (``langchain_google_genai.ChatGoogleGenerativeAI``).

Model and key come from config (``generate.model`` / ``generate.api_key``, else ``GOOGLE_API_KEY`` /
``GEMINI_API_KEY``); ``generate.base_url`` points the client at a proxy or a test server (the client's
``base_url``, formerly ``client_options={"api_endpoint": ...}``). Remote failures become typed errors: rate
limits and outages are retryable (503), a rejected key is an unavailable backend, anything else is upstream.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from paperlens.config import GenerateSettings
from paperlens.errors import BackendUnavailableError, RetryableError, UpstreamError
from paperlens.generate.base import StreamingGenerator
from paperlens.generate.prompts import build_messages
from paperlens.models import Hit

DEFAULT_MODEL = "gemini-2.5-flash"


def _text_of(message: Any) -> str:
    """Text of a LangChain message or chunk (content may be a string or a list of typed blocks)."""
    text = getattr(message, "text", None)
    if isinstance(text, str):  # langchain-core >= 1.0: a str property
        return str(text)
    if callable(text):  # older langchain-core: a method
        return text()
    content = getattr(message, "content", "")
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")


def _typed_error(exc: Exception) -> Exception:
    """Map the client's exceptions (LangChain-classified, SDK or transport) to paperlens' typed errors."""
    import httpx
    from langchain_google_genai.chat_models import (
        GoogleAPIError,
        GoogleAuthenticationError,
        GoogleModelNotFoundError,
        GooglePermissionDeniedError,
        GoogleRateLimitError,
    )

    if isinstance(exc, GoogleRateLimitError | GoogleAPIError | httpx.TransportError | TimeoutError):
        return RetryableError(f"Gemini is busy or unreachable, try again later: {exc}")
    # Gemini answers a wrong key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID), not 401.
    bad_key = "API_KEY_INVALID" in str(exc) or "API key not valid" in str(exc)
    if bad_key or isinstance(exc, GoogleAuthenticationError | GooglePermissionDeniedError):
        return BackendUnavailableError(f"Gemini rejected the API key: {exc}")
    if isinstance(exc, GoogleModelNotFoundError):
        return BackendUnavailableError(f"Gemini has no such model: {exc}")
    return UpstreamError(f"Gemini request failed: {exc}")


class GeminiGenerator(StreamingGenerator):
    name = "gemini"

    def __init__(
        self,
        model: str = "",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        temperature: float = 0.0,
        max_output_tokens: int = 1024,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        max_evidence_chars: int = 1500,
    ) -> None:
        self.model = model or DEFAULT_MODEL
        key = api_key or os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")
        if not key:
            raise BackendUnavailableError(
                "the gemini answer backend needs an API key: set PAPERLENS_GENERATE__API_KEY or GOOGLE_API_KEY"
            )
        self.max_evidence_chars = max_evidence_chars
        from langchain_google_genai import ChatGoogleGenerativeAI

        options: dict[str, Any] = {"base_url": base_url} if base_url else {}
        self.llm = ChatGoogleGenerativeAI(
            model=self.model,
            api_key=key,
            vertexai=False,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
            timeout=timeout_s,
            max_retries=max_retries + 1,  # the SDK counts attempts, and reads 0 as "its default" (5 retries)
            **options,
        )

    @classmethod
    def from_settings(cls, settings: GenerateSettings) -> GeminiGenerator:
        return cls(
            settings.model,
            api_key=settings.api_key,
            base_url=settings.base_url,
            temperature=settings.temperature,
            max_output_tokens=settings.max_new_tokens,
            timeout_s=settings.timeout_s,
            max_retries=settings.max_retries,
            max_evidence_chars=settings.max_evidence_chars,
        )

    @staticmethod
    def _to_langchain(messages: list[dict[str, str]]) -> list:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        return [kinds[m["role"]](content=m["content"]) for m in messages]

    def chat(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> str:
        kwargs = {"max_output_tokens": max_new_tokens} if max_new_tokens else {}
        try:
            return _text_of(self.llm.invoke(self._to_langchain(messages), **kwargs)).strip()
        except Exception as exc:
            raise _typed_error(exc) from exc

    def stream(self, question: str, evidence: Sequence[Hit]) -> Iterator[str]:
        messages = self._to_langchain(build_messages(question, evidence, self.max_evidence_chars))
        try:
            for chunk in self.llm.stream(messages):
                text = _text_of(chunk)
                if text:
                    yield text
        except Exception as exc:
            raise _typed_error(exc) from exc
