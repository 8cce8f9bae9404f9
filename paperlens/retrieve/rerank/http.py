"""A served reranker over HTTP: ``POST {base_url}/rerank``, the endpoint TEI, Infinity and vLLM all serve.

Query plus texts in, one score per text out. The request goes in TEI's shape (``{"query", "texts"}``, reply a
list of ``{"index", "score"}``) or, with ``rerank.http.api = "cohere"``, in the shape Infinity and vLLM take
(``{"model", "query", "documents"}``, reply ``{"results": [{"index", "relevance_score"}]}``); either reply is
read. httpx, already a dependency, is all it needs; this is not an OpenAI endpoint, so the ``openai`` client
does not apply, and its retry policy (bounded, exponential backoff, ``Retry-After`` honoured) is copied here.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import httpx

from paperlens.config import RerankSettings
from paperlens.errors import (
    ConfigError,
    ModelServerBadReplyError,
    ModelServerTimeoutError,
    ModelServerUnavailableError,
)
from paperlens.openai_compat import ModelsProbe, api_key, public_url, require_url

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 30.0


def retry_after_s(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: use our own backoff


def read_scores(body: object, n: int) -> list[float]:
    """Scores in input order from either reply shape; anything else is a bad reply (ValueError)."""
    items = body.get("results") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ValueError("neither a list of ranks nor {'results': [...]}")
    scores: list[float | None] = [None] * n
    for item in items:
        index = item["index"]
        score = item["score"] if "score" in item else item["relevance_score"]
        if not isinstance(index, int) or not 0 <= index < n:
            raise ValueError(f"index {index!r} out of range")
        scores[index] = float(score)
    if any(s is None for s in scores):
        raise ValueError(f"scores for {sum(s is not None for s in scores)} of {n} texts")
    return [float(s) for s in scores]  # type: ignore[arg-type]


class HttpReranker:
    name = "http"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        key: str | None = None,
        api: str = "tei",
        timeout_s: float = 60.0,
        max_retries: int = 3,
        retry_delay_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if api == "cohere" and not model:
            raise ConfigError("rerank.http.api = 'cohere' needs rerank.model: the name the server serves")
        self.model = model
        self.base_url = require_url(base_url, "rerank.http.base_url")
        self.server = public_url(self.base_url)
        self.api = api
        self.max_retries, self.retry_delay_s = max_retries, retry_delay_s
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout_s, headers=headers)
        # TEI and Infinity list their model at /v1/models too; a root that already ends in /v1 is kept.
        root = self.base_url if self.base_url.endswith("/v1") else self.base_url + "/v1"
        self.probe = ModelsProbe(self.base_url, key, model, models_url=root + "/models")

    @classmethod
    def from_settings(cls, settings: RerankSettings) -> HttpReranker:
        remote = settings.http
        return cls(
            settings.model,
            base_url=remote.base_url,
            key=api_key(remote.api_key_env),
            api=remote.api,
            timeout_s=remote.timeout_s,
            max_retries=remote.max_retries,
        )

    def health(self) -> dict:
        return self.probe()

    def _body(self, query: str, texts: list[str]) -> dict:
        if self.api == "cohere":
            return {"model": self.model, "query": query, "documents": texts, "top_n": len(texts)}
        return {"query": query, "texts": texts, "truncate": True}

    def rerank(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        body = self._body(query, texts)
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self.client.post("/rerank", json=body)
            except httpx.TimeoutException as exc:
                if last:
                    raise ModelServerTimeoutError(
                        f"the rerank server at {self.server} did not answer in time"
                    ) from exc
                self._back_off(attempt, None)
                continue
            except httpx.TransportError as exc:
                if last:
                    raise ModelServerUnavailableError(
                        f"the rerank server at {self.server} cannot be reached: {type(exc).__name__}"
                    ) from exc
                self._back_off(attempt, None)
                continue
            if response.status_code in RETRY_STATUS:
                if last:
                    raise ModelServerUnavailableError(
                        f"the rerank server at {self.server} is busy or failing (HTTP {response.status_code}) "
                        "after its retries"
                    )
                self._back_off(attempt, retry_after_s(response.headers))
                continue
            if response.is_error:
                raise ModelServerBadReplyError(
                    f"the rerank server at {self.server} refused the request (HTTP {response.status_code})",
                    code="model_server_rejected",
                )
            try:
                return read_scores(response.json(), len(texts))
            except (ValueError, KeyError, TypeError) as exc:
                raise ModelServerBadReplyError(
                    f"the rerank server at {self.server} sent a reply that cannot be read: {exc}"
                ) from exc
        raise AssertionError("unreachable")

    def _back_off(self, attempt: int, server_says: float | None) -> None:
        delay = (
            server_says
            if server_says is not None
            else self.retry_delay_s * 2**attempt * (1 + random.random() / 4)
        )
        delay = min(MAX_BACKOFF_S, delay)
        log.info("rerank server %s: retry %d/%d in %.1fs", self.server, attempt + 1, self.max_retries, delay)
        self._sleep(delay)
