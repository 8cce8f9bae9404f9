"""Gemini describes crops over its API (``google-genai``): one generateContent call per crop, JSON mode.

Rate limits (429) and overload (500/503/504) are retried here with exponential backoff and jitter, honouring
``Retry-After`` when the server sends it; the SDK's own retries stay off so there is one policy to reason
about. A rejected key (401/403, or 400 API_KEY_INVALID, which is what Gemini actually answers) is a
``BackendUnavailableError`` at once: retrying a bad key only burns time.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from paperlens.config import DescribeSettings
from paperlens.errors import BackendUnavailableError, PaperlensError, RetryableError
from paperlens.ingest.describe.base import DescribeRequest, Description
from paperlens.ingest.describe.prompts import PROMPT_VERSION, describe_with_retry, instruction_for

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gemini-2.5-flash"
RETRY_STATUS = frozenset({429, 500, 503, 504})
MAX_BACKOFF_S = 60.0


class GeminiRequestError(PaperlensError):
    """Gemini refused one request for a reason retrying will not fix (e.g. an image it cannot read)."""

    code = "describe_failed"


def _is_bad_key(status: int, error) -> bool:
    if status in (401, 403):
        return True
    text = f"{getattr(error, 'status', '')} {getattr(error, 'message', '')} {getattr(error, 'details', '')}"
    return status == 400 and ("API_KEY_INVALID" in text or "API key not valid" in text)


def _retry_after(error) -> float | None:
    response = getattr(error, "response", None)
    value = getattr(response, "headers", {}).get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date; fall back to our own backoff


class GeminiDescriber:
    name = "gemini"
    prompt_version = PROMPT_VERSION

    def __init__(self, settings: DescribeSettings, sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.api_key:
            raise BackendUnavailableError(
                "the gemini describer needs an API key: set PAPERLENS_DESCRIBE__API_KEY (or describe.api_key)"
            )
        from google import genai
        from google.genai import types

        self.settings = settings
        self.model = settings.model or DEFAULT_MODEL
        self.batch_size = settings.batch_size
        self._sleep = sleep
        self._types = types
        http_options = types.HttpOptions(timeout=int(settings.timeout_s * 1000))
        if settings.base_url:
            http_options.base_url = settings.base_url
        # vertexai=False: never pick up Vertex credentials from the environment instead of the key given.
        self._client = genai.Client(api_key=settings.api_key, vertexai=False, http_options=http_options)

    def _call(self, request: DescribeRequest, retry: bool) -> str:
        """One crop -> the model's text, retrying rate limits and overload with exponential backoff."""
        from google.genai import errors

        types = self._types
        image = types.Part.from_bytes(data=Path(request.image_path).read_bytes(), mime_type="image/png")
        prompt = instruction_for(str(request.element.kind), request.context, retry=retry)
        config = types.GenerateContentConfig(temperature=0.0, response_mime_type="application/json")
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.models.generate_content(
                    model=self.model, contents=[image, prompt], config=config
                )
                return response.text or ""
            except errors.APIError as exc:
                status = int(exc.code or 0)
                if _is_bad_key(status, exc):
                    raise BackendUnavailableError(
                        f"Gemini rejected the API key (HTTP {status}): {exc.message or exc.status}"
                    ) from exc
                if status not in RETRY_STATUS:
                    raise GeminiRequestError(
                        f"Gemini refused the request (HTTP {status}): {exc.message}"
                    ) from exc
                if attempt == attempts:
                    raise RetryableError(
                        f"Gemini still answers HTTP {status} after {attempts} attempts; try again later"
                    ) from exc
                base = self.settings.retry_delay_s * 2 ** (attempt - 1)
                server_says = _retry_after(exc)
                delay = server_says if server_says is not None else base * (1 + random.random() * 0.25)
                delay = min(MAX_BACKOFF_S, delay)
                log.info("Gemini HTTP %s, retry %d/%d in %.1fs", status, attempt, attempts - 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def generate(self, requests: list[DescribeRequest], retry: bool = False) -> list[str]:
        if len(requests) <= 1 or self.settings.batch_size <= 1:
            return [self._call(r, retry) for r in requests]
        # The API takes one image per call; a few calls in flight hide the network latency.
        with ThreadPoolExecutor(max_workers=min(self.settings.batch_size, len(requests))) as pool:
            return list(pool.map(lambda r: self._call(r, retry), requests))

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        results: list[Description] = []
        size = self.settings.batch_size
        for start in range(0, len(requests), size):
            results += describe_with_retry(requests[start : start + size], self.generate)
        return results
