"""FAISS vectors keyed by chunk id, saved atomically, checked against the store on open.

The store holds every vector, so this index is derived data: if the file is missing, stale (a crash between
the SQLite commit and the FAISS save) or corrupt, it is rebuilt from the store without re-embedding.

Two layouts, chosen by size (``kind="auto"``) or forced in config:
- ``flat``: exact inner-product search (``IndexIDMap2(IndexFlatIP)``), ids = chunk ids. Exact and cheap up to
  about a hundred thousand vectors, where one query is still a few milliseconds of dot products.
- ``ivf``: an inverted file (``IndexIVFFlat``, inner product) holding the chunk ids natively. A query scans
  ``nprobe`` of ``nlist`` clusters, so its cost stops growing with the collection; deletes stay cheap
  (``remove_ids``), which is why IVF and not HNSW (FAISS's HNSW cannot remove vectors). A filtered query scans
  every cluster with the filter as an id selector, so filters never lose results to the approximation.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from paperlens.index.atomic import replace_atomically

if TYPE_CHECKING:
    from paperlens.config import RetrieveSettings

log = logging.getLogger(__name__)

IndexKind = Literal["auto", "flat", "ivf"]

#: below this many vectors an IVF index is never built: too few points to train its clusters on.
MIN_IVF_VECTORS = 1024


def ivf_nlist(n: int) -> int:
    """Clusters for ``n`` vectors: about 2*sqrt(n), so each cluster holds a few hundred vectors (FAISS wants
    at least 39 training points per cluster)."""
    return int(max(16, min(65536, 2 * math.sqrt(max(n, 1)), n // 39)))


class VectorIndex:
    """Inner-product search over normalised vectors (= cosine); ids = chunk ids."""

    def __init__(
        self,
        path: Path,
        dim: int,
        kind: IndexKind = "flat",
        approximate_above: int = 200_000,
        nprobe: int = 32,
        threads: int | None = None,
    ) -> None:
        import faiss

        if threads:
            # One query is one scan: extra OpenMP threads only spin against the service's own request
            # threads (measured: 6x slower flat search on a busy 2-core machine), so this is set per process.
            faiss.omp_set_num_threads(threads)

        self._faiss: Any = faiss  # its bundled stubs lag the SWIG API (selectors, IVF parameters)
        self.path = path
        self.dim = dim
        self.kind_setting: IndexKind = kind
        self.approximate_above = approximate_above
        self.nprobe = nprobe
        self._lock = threading.RLock()
        self._index = self._empty()

    @classmethod
    def configured(cls, path: Path, dim: int, retrieve: RetrieveSettings) -> VectorIndex:
        """The index at ``path`` laid out as the ``retrieve`` settings say (flat/IVF, nprobe, threads)."""
        return cls(
            path,
            dim,
            kind=retrieve.vector_index,
            approximate_above=retrieve.approximate_above,
            nprobe=retrieve.ivf_nprobe,
            threads=retrieve.omp_threads or None,
        )

    def _empty(self):
        return self._faiss.IndexIDMap2(self._faiss.IndexFlatIP(self.dim))

    def _wants_ivf(self, n: int) -> bool:
        if self.kind_setting == "flat" or n < MIN_IVF_VECTORS:
            return False
        return self.kind_setting == "ivf" or n >= self.approximate_above

    @property
    def kind(self) -> str:
        """The layout in use now: "flat" or "ivf"."""
        return "ivf" if self._is_ivf(self._index) else "flat"

    def _is_ivf(self, index) -> bool:
        return isinstance(index, self._faiss.IndexIVF)

    def _build(self, ids: np.ndarray, vectors: np.ndarray):
        """A fresh index of the right layout for these vectors."""
        vectors = np.ascontiguousarray(vectors, np.float32)
        ids = np.ascontiguousarray(ids, np.int64)
        if not self._wants_ivf(len(ids)):
            index = self._empty()
            if len(ids):
                index.add_with_ids(vectors, ids)
            return index
        nlist = ivf_nlist(len(ids))
        quantizer = self._faiss.IndexFlatIP(self.dim)
        index = self._faiss.IndexIVFFlat(quantizer, self.dim, nlist, self._faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        quantizer.this.disown()  # the IVF index frees its quantizer; Python must not free it twice
        # Train on a sample: k-means over every vector of a large collection costs more and gains nothing.
        rng = np.random.default_rng(0)
        cap = nlist * 64
        sample = vectors if len(vectors) <= cap else vectors[rng.choice(len(vectors), cap, replace=False)]
        index.train(sample)
        index.add_with_ids(vectors, ids)
        index.nprobe = min(self.nprobe, nlist)
        return index

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
                    ids = self._ids_of(index)
                    same_layout = self._is_ivf(index) == self._wants_ivf(len(expected_ids)) or (
                        self.kind_setting == "auto" and self._is_ivf(index)
                    )
                    if (
                        index.d == self.dim
                        and same_layout
                        and np.array_equal(np.sort(ids), np.sort(expected_ids))
                    ):
                        if self._is_ivf(index):
                            index.nprobe = min(self.nprobe, index.nlist)
                        self._index = index
                        return "loaded"
                    log.warning(
                        "vector file %s disagrees with the store or the config (%d vectors vs %d chunks);"
                        " rebuilding",
                        self.path,
                        index.ntotal,
                        len(expected_ids),
                    )
                except Exception as exc:  # a torn or corrupt file: the store still has everything
                    log.warning("vector file %s unreadable (%s); rebuilding", self.path, exc)
            id_parts, vector_parts = [], []
            for ids, vectors in batches:
                id_parts.append(np.asarray(ids, np.int64))
                vector_parts.append(np.asarray(vectors, np.float32).reshape(-1, self.dim))
            all_ids = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int64)
            all_vectors = (
                np.concatenate(vector_parts) if vector_parts else np.zeros((0, self.dim), np.float32)
            )
            self._index = self._build(all_ids, all_vectors)
            self.save()
            return "rebuilt" if self._index.ntotal else "empty"

    def save(self) -> None:
        """Write to a temp file in the same folder, fsync, then atomically replace the old file."""
        with self._lock:
            replace_atomically(self.path, lambda tmp: self._faiss.write_index(self._index, tmp))

    # -- change ----------------------------------------------------------------------------------------
    def add(self, ids: Iterable[int], vectors: np.ndarray | Sequence[np.ndarray]) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, np.float32).reshape(len(ids), self.dim)
        with self._lock:
            if not self._is_ivf(self._index) and self._wants_ivf(self._index.ntotal + len(ids)):
                # The collection just outgrew exact search: re-lay it out once as IVF (no re-embedding).
                old_ids, old_vectors = self._flat_contents()
                log.info("vector index %s passes %d vectors: switching to IVF", self.path.name, len(old_ids))
                self._index = self._build(
                    np.concatenate([old_ids, ids]), np.concatenate([old_vectors, vectors])
                )
                return
            self._index.add_with_ids(vectors, ids)

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
            return self._ids_of(self._index)

    def _ids_of(self, index) -> np.ndarray:
        if not index.ntotal:
            return np.array([], dtype=np.int64)
        if self._is_ivf(index):
            invlists = index.invlists
            parts = []
            for list_no in range(index.nlist):
                size = invlists.list_size(list_no)
                if size:
                    parts.append(self._faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy())
            return np.concatenate(parts).astype(np.int64)
        return self._faiss.vector_to_array(index.id_map).copy()

    def _flat_contents(self) -> tuple[np.ndarray, np.ndarray]:
        ids = self._ids_of(self._index)
        if not len(ids):
            return ids, np.zeros((0, self.dim), np.float32)
        return ids, self._index.index.reconstruct_n(0, len(ids))

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (id, cosine) for one query vector, optionally restricted to ``allowed_ids``."""
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:
            if not self._index.ntotal:
                return []
            ivf = self._is_ivf(self._index)
            selector = None
            if allowed_ids is not None:
                if len(allowed_ids) == 0:
                    return []
                selector = self._faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
                k = min(k, len(allowed_ids))
            if ivf:
                # Filtered: scan every cluster (exact among the allowed ids); unfiltered: nprobe clusters.
                nprobe = self._index.nlist if selector is not None else self._index.nprobe
                params = self._faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
            else:
                params = self._faiss.SearchParameters(sel=selector) if selector is not None else None
            k = min(k, self._index.ntotal)
            scores, ids = self._index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]
