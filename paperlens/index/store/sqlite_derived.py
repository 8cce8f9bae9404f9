"""The embedded store's derived vectors (the multilingual index): a small SQLite file of its own beside the store
(``vectors/<name>.sqlite3``: chunk id -> vector, and the identity of the model that made them). A file apart, so
turning the second embedder on or off never touches the store's own file."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (chunk_id INTEGER PRIMARY KEY, vector BLOB NOT NULL);
"""


class SQLiteDerivedVectors:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def identity(self) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        return row[0] if row else None

    def reset(self, identity: str) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM vectors")
            self._conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('identity', ?)", (identity,))
            self._conn.execute("COMMIT")

    def ids(self) -> np.ndarray:
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id FROM vectors ORDER BY chunk_id").fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
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

    def present(self, ids: Sequence[int]) -> set[int]:
        have: set[int] = set()
        with self._lock:
            for start in range(0, len(ids), 500):  # well under SQLite's limit on bound parameters
                part = [int(i) for i in ids[start : start + 500]]
                rows = self._conn.execute(
                    f"SELECT chunk_id FROM vectors WHERE chunk_id IN ({','.join('?' * len(part))})", part
                )
                have.update(int(r[0]) for r in rows)
        return have

    def insert(self, ids: Sequence[int], vectors: np.ndarray) -> None:
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

    def delete(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._conn.executemany("DELETE FROM vectors WHERE chunk_id = ?", [(int(i),) for i in ids])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
