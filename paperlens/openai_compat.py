"""Talking to OpenAI-compatible model servers (vLLM, Ollama, llama.cpp's llama-server, LM Studio, TGI, TEI):
one client factory, one mapping of their failures to paperlens' typed errors, one health probe.

Why the official ``openai`` client rather than hand-written httpx or LangChain's ``ChatOpenAI``: it is the
provider's own, well-kept implementation of exactly this wire format (chat completions, streamed chunks up to
``[DONE]``, embeddings, image content parts), and it already does what a robust client needs: a timeout, bounded
retries with exponential backoff on 408/409/429/5xx and connection errors that honour ``Retry-After``, and typed
exceptions that keep the HTTP status. ``ChatOpenAI`` wraps this same client; it would add tiktoken and a second
retry layer, and hide the status codes mapped below.

The API key is read from a named environment variable at client construction; it is never stored in settings,
logged, or shown in ``/v1/health`` (which shows the base URL without credentials or query string).
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from paperlens.errors import (
    BackendUnavailableError,
    ConfigError,
    ModelServerBadReplyError,
    ModelServerTimeoutError,
    ModelServerUnavailableError,
    PaperlensError,
)

log = logging.getLogger(__name__)

#: How long /v1/health waits for a server's /models, and how long one probe's result is reused.
PROBE_TIMEOUT_S = 3.0
PROBE_TTL_S = 5.0


def public_url(url: str | None) -> str:
    """The URL without user:password, query string or fragment: what may be shown or logged."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def api_key(env_name: str | None, explicit: str | None = None) -> str | None:
    """The key to send: an explicit one (a setting), else the named environment variable, else none."""
    if explicit:
        return explicit
    return os.environ.get(env_name) if env_name else None


def require_url(base_url: str | None, setting: str) -> str:
    if not base_url or not base_url.strip():
        raise ConfigError(
            f"{setting} is required for an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1"
        )
    return base_url.strip().rstrip("/")


def make_client(base_url: str, *, key: str | None, timeout_s: float, max_retries: int):
    """An ``openai.OpenAI`` client for one server. The client insists on a key; local servers need none, so
    without one a placeholder is given and every call omits the header (``auth_headers``)."""
    try:
        from openai import OpenAI
    except ImportError as exc:
        raise BackendUnavailableError(
            "served model backends need the openai client: pip install 'paperlens[openai]'"
        ) from exc

    return OpenAI(base_url=base_url, api_key=key or "no-key", timeout=timeout_s, max_retries=max_retries)


def auth_headers(key: str | None) -> dict[str, Any] | None:
    """``extra_headers`` for each call: none with a key; without one, the Authorization header left out."""
    if key:
        return None
    from openai import Omit

    return {"Authorization": Omit()}


def image_part(path: str | Path) -> dict[str, Any]:
    """A PNG crop as an OpenAI image content part: a base64 data URL, so the server needs no access to our disk."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}


def typed_error(exc: BaseException, server: str) -> PaperlensError:
    """A failure talking to ``server`` (a public URL) as a paperlens error with a stable code."""
    import openai

    if isinstance(exc, PaperlensError):
        return exc
    if isinstance(exc, openai.APITimeoutError) or _is_transport(exc, "TimeoutException"):
        return ModelServerTimeoutError(f"the model server at {server} did not answer in time")
    if isinstance(exc, openai.APIConnectionError) or _is_transport(exc, "TransportError"):
        return ModelServerUnavailableError(f"the model server at {server} cannot be reached: {exc}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 408 or status == 429 or status >= 500:
            return ModelServerUnavailableError(
                f"the model server at {server} is busy or failing (HTTP {status}) after its retries"
            )
        if status in (401, 403):
            return ModelServerBadReplyError(
                f"the model server at {server} refused the API key (HTTP {status})",
                code="model_server_rejected",
            )
        return ModelServerBadReplyError(
            f"the model server at {server} refused the request (HTTP {status}): {_brief(exc.message)}",
            code="model_server_rejected",
        )
    # Malformed JSON, a missing field, a stream that stops without [DONE]: garbage, not an outage.
    return ModelServerBadReplyError(
        f"the model server at {server} sent a reply that cannot be read: {_brief(exc)}"
    )


def _is_transport(exc: BaseException, name: str) -> bool:
    """httpx's (and the ``openai`` client's httpx fork's) transport errors, which escape a stream mid-way."""
    return any(
        cls.__name__ == name and cls.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore")
        for cls in type(exc).__mro__
    )


def _brief(value: Any, limit: int = 200) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "…"


class ModelsProbe:
    """``GET {base_url}/models``, for /v1/health: did the server answer, and does it list our model.

    Cached for a few seconds so a load balancer polling health does not hammer the model server."""

    def __init__(
        self, base_url: str, key: str | None, model: str = "", models_url: str | None = None
    ) -> None:
        self.base_url = base_url
        self.models_url = models_url or base_url.rstrip("/") + "/models"
        self.key = key
        self.model = model
        self._lock = threading.Lock()
        self._cached: tuple[float, dict] | None = None

    def __call__(self) -> dict:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < PROBE_TTL_S:
                return self._cached[1]
            result = self._probe()
            self._cached = (time.monotonic(), result)
            return result

    def _probe(self) -> dict:
        import httpx

        report: dict[str, Any] = {"base_url": public_url(self.base_url), "models_answered": False}
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        try:
            response = httpx.get(self.models_url, headers=headers, timeout=PROBE_TIMEOUT_S)
            response.raise_for_status()
            ids = [str(m.get("id")) for m in response.json().get("data", []) if isinstance(m, dict)]
        except httpx.HTTPStatusError as exc:
            report["error"] = f"HTTP {exc.response.status_code}"
            return report
        except Exception as exc:  # any failure is the answer: the server is not usable now
            # The type only: an exception's text may hold the URL, and the URL may hold credentials.
            report["error"] = type(exc).__name__
            return report
        report["models_answered"] = True
        if self.model:
            # Ollama lists "name:tag"; a model asked for without its tag is served as ":latest".
            report["model_listed"] = self.model in ids or f"{self.model}:latest" in ids
        return report
