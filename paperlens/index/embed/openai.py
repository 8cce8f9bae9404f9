"""Text embeddings from a served model over ``POST {base_url}/embeddings`` (vLLM, TEI, Infinity, Ollama, LM Studio).

The dimension is not configured: it is read off the first reply (a one-word probe when the engine asks for it
before anything was embedded), and it goes into the index identity with the model's name, so a server that
now serves another model refuses to open an index built with the old one, as a changed local model does.
e5 and bge models expect their inputs prefixed ("query: ", "passage: "): ``embed.openai.query_prefix`` and
``passage_prefix``. Vectors are L2-normalised here whatever the server does, as FAISS's inner product needs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

from paperlens.config import EmbedSettings
from paperlens.errors import (
    ConfigError,
    ModelServerBadReplyError,
    ModelServerTimeoutError,
    ModelServerUnavailableError,
)
from paperlens.index.embed.base import normalise
from paperlens.openai_compat import (
    ModelsProbe,
    api_key,
    auth_headers,
    make_client,
    public_url,
    require_url,
    typed_error,
)

log = logging.getLogger(__name__)

#: What is embedded to learn the dimension when nothing has been embedded yet.
DIMENSION_PROBE = "dimension probe"


class OpenAIEmbedder:
    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        key: str | None = None,
        batch_size: int = 32,
        query_prefix: str = "",
        passage_prefix: str = "",
        timeout_s: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        if not model:
            raise ConfigError("the openai embedder needs embed.model: the name the server serves")
        self.model = model
        self.base_url = require_url(base_url, "embed.openai.base_url")
        self.server = public_url(self.base_url)
        self.batch_size = batch_size
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.client = make_client(self.base_url, key=key, timeout_s=timeout_s, max_retries=max_retries)
        self.extra_headers = auth_headers(key)
        self.probe = ModelsProbe(self.base_url, key, model)
        self._dim: int | None = None
        self._dim_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: EmbedSettings) -> OpenAIEmbedder:
        remote = settings.openai
        return cls(
            settings.model,
            base_url=remote.base_url,
            key=api_key(remote.api_key_env),
            batch_size=settings.batch_size,
            query_prefix=remote.query_prefix,
            passage_prefix=remote.passage_prefix,
            timeout_s=remote.timeout_s,
            max_retries=remote.max_retries,
        )

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._request([DIMENSION_PROBE])
        assert self._dim is not None
        return self._dim

    def adopt_identity(self, identity: dict) -> None:
        """Opening an index this served model built: ask the server for the dimension as usual (a changed
        model then refuses to open the index); only when the server cannot be reached, take the recorded one,
        so the service still starts and /v1/health says what is down. The first reply is checked against it."""
        if (
            identity.get("embedder") != self.name
            or identity.get("model") != self.model
            or self._dim is not None
        ):
            return
        try:
            self._request([DIMENSION_PROBE])
        except (ModelServerUnavailableError, ModelServerTimeoutError) as exc:
            dim = identity.get("dim")
            if not (isinstance(dim, int) and dim > 0):
                raise
            log.warning(
                "embedding server down (%s); opening the index with its recorded %d dimensions", exc.code, dim
            )
            self._dim = dim

    def health(self) -> dict:
        return self.probe()

    def _request(self, texts: list[str]) -> np.ndarray:
        """One /embeddings call: vectors in input order, checked for count and size."""
        try:
            # encoding_format="float": the client asks for base64 by default, which not every server speaks.
            reply = self.client.embeddings.create(
                model=self.model, input=texts, encoding_format="float", extra_headers=self.extra_headers
            )
            rows = sorted(reply.data, key=lambda item: item.index)
            vectors = [list(map(float, row.embedding)) for row in rows]
        except Exception as exc:
            raise typed_error(exc, self.server) from exc
        sizes = {len(v) for v in vectors}
        if len(vectors) != len(texts) or len(sizes) != 1 or 0 in sizes:
            raise ModelServerBadReplyError(
                f"the embedding server at {self.server} returned {len(vectors)} vectors of sizes {sorted(sizes)} "
                f"for {len(texts)} texts"
            )
        (size,) = sizes
        with self._dim_lock:
            if self._dim is None:
                self._dim = size
                log.info("embedding model %s at %s: %d dimensions", self.model, self.server, size)
        if size != self._dim:
            raise ModelServerBadReplyError(
                f"the embedding server at {self.server} now returns {size}-d vectors, not {self._dim}-d: "
                "did the served model change?"
            )
        return normalise(np.asarray(vectors, dtype=np.float32))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefixed = [self.passage_prefix + t for t in texts]
        parts = [
            self._request(prefixed[start : start + self.batch_size])
            for start in range(0, len(prefixed), self.batch_size)
        ]
        return np.concatenate(parts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._request([self.query_prefix + text])[0]
