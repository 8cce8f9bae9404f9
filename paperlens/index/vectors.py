"""FAISS vectors keyed by chunk id, saved atomically, checked against the store on open.

The store holds every vector, so this index is derived data: if the file is missing, stale (a crash between
the SQLite commit and the FAISS save) or corrupt, it is rebuilt from the store without re-embedding.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class VectorIndex:
    """Inner-product search over normalised vectors (= cosine), ids = chunk ids (``IndexIDMap2``)."""

    def __init__(self, path: Path, dim: int) -> None:
        import faiss

        self._faiss = faiss
        self.path = path
        self.dim = dim
        self._lock = threading.RLock()
        self._index = self._empty()

    def _empty(self):
        return self._faiss.IndexIDMap2(self._faiss.IndexFlatIP(self.dim))

    # -- lifecycle -------------------------------------------------------------------------------------
    def load_or_rebuild(
        self, expected_ids: np.ndarray, batches: Iterable[tuple[np.ndarray, np.ndarray]]
    ) -> str:
        """Load the file if it agrees with ``expected_ids`` exactly; otherwise rebuild from ``batches``.

        Returns what happened: "loaded", "rebuilt" or "empty".
        """
        with self._lock:
            if self.path.exists():
                try:
                    index = self._faiss.read_index(str(self.path))
                    ids = (
                        self._faiss.vector_to_array(index.id_map) if index.ntotal else np.array([], np.int64)
                    )
                    if index.d == self.dim and np.array_equal(np.sort(ids), np.sort(expected_ids)):
                        self._index = index
                        return "loaded"
                    log.warning(
                        "vector file %s disagrees with the store (%d vectors vs %d chunks); rebuilding",
                        self.path,
                        index.ntotal,
                        len(expected_ids),
                    )
                except Exception as exc:  # a torn or corrupt file: the store still has everything
                    log.warning("vector file %s unreadable (%s); rebuilding", self.path, exc)
            self._index = self._empty()
            for ids, vectors in batches:
                self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids.astype(np.int64))
            self.save()
            return "rebuilt" if self._index.ntotal else "empty"

    def save(self) -> None:
        """Write to a temp file in the same folder, fsync, then atomically replace the old file."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
            os.close(fd)
            try:
                self._faiss.write_index(self._index, tmp)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)

    # -- change ----------------------------------------------------------------------------------------
    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return
        with self._lock:
            self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids)

    def remove(self, ids: Iterable[int]) -> int:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return 0
        with self._lock:
            return int(self._index.remove_ids(self._faiss.IDSelectorBatch(ids)))

    # -- reading ---------------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            if not self._index.ntotal:
                return np.array([], dtype=np.int64)
            return self._faiss.vector_to_array(self._index.id_map).copy()

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (id, cosine) for one query vector, optionally restricted to ``allowed_ids``."""
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:
            if not self._index.ntotal:
                return []
            params = None
            if allowed_ids is not None:
                if len(allowed_ids) == 0:
                    return []
                selector = self._faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
                params = self._faiss.SearchParameters(sel=selector)
                k = min(k, len(allowed_ids))
            k = min(k, self._index.ntotal)
            scores, ids = self._index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]
