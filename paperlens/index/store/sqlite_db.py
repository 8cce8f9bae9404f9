"""The embedded store's SQLite file: one connection, one lock, WAL, the schema, metadata and chunk filters.

SQLite is the source of truth of the embedded store. A document, its elements, its chunks, their vectors and
their FTS rows are written in ONE transaction, so a crash leaves either the whole document or none of it. FAISS
files are a derived, rebuildable view of the vectors stored here (see ``paperlens.index.vectors``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from paperlens.index.store.keywords import FTS_TOKENIZE

SCHEMA_VERSION = 1

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    pages INTEGER NOT NULL,
    filename TEXT NOT NULL DEFAULT '',
    size_bytes INTEGER NOT NULL DEFAULT 0,
    collection TEXT NOT NULL DEFAULT 'default',
    status TEXT NOT NULL DEFAULT 'ready',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS elements (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    page INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ord INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS elements_by_doc ON elements(document_id, page, ord);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    page INTEGER NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    bbox TEXT NOT NULL,
    element_ids TEXT NOT NULL,
    section TEXT,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(document_id, page);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='{FTS_TOKENIZE}'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
-- CLIP vectors of visual chunks' crops (derived from the crop files, kept so FAISS rebuilds need no model).
CREATE TABLE IF NOT EXISTS image_vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT 'queued',
    progress REAL NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    upload_path TEXT NOT NULL,
    filename TEXT NOT NULL DEFAULT '',
    collection TEXT NOT NULL DEFAULT 'default',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    timings TEXT,
    searchable_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, created_at);
"""


class SQLiteDatabase:
    """Thread-safe access to the SQLite database (one connection, one lock; WAL for crash safety)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self._conn.executescript(_SCHEMA)
            columns = {r["name"] for r in self._conn.execute("PRAGMA table_info(jobs)")}
            # Columns jobs gained after the first release; a library made before them gets them on open.
            for column, kind in (("timings", "TEXT"), ("searchable_at", "REAL"), ("finished_at", "REAL")):
                if column not in columns:
                    self._conn.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
            if self.get_meta("schema_version") is None:
                self.set_meta("schema_version", str(SCHEMA_VERSION))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock: committed on success, rolled back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # -- meta ------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def _keyset_pages(
        self, table: str, key: str, column: str, batch: int
    ) -> Iterator[tuple[np.ndarray, list]]:
        """Yield (ids, values) pages of ``column`` over a whole table in ``key`` order, a page per lock hold:
        a rebuild over 100k rows never blocks writers for long, and never skips or repeats a row."""
        last = -1
        while True:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT {key}, {column} FROM {table} WHERE {key} > ? ORDER BY {key} LIMIT ?",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            last = int(rows[-1][0])
            yield np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]


def chunk_filter(
    document_ids: Sequence[str] | None,
    kinds: Sequence[str] | None,
    pages: tuple[int, int] | None,
    collections: Sequence[str] | None,
) -> tuple[str, list]:
    """A ``WHERE`` clause over ``chunks c`` and its arguments (empty when nothing is filtered)."""
    clauses: list[str] = []
    args: list = []
    if document_ids is not None:
        clauses.append(f"c.document_id IN ({','.join('?' * len(document_ids))})")
        args.extend(document_ids)
    if kinds is not None:
        clauses.append(f"c.kind IN ({','.join('?' * len(kinds))})")
        args.extend(str(k) for k in kinds)
    if pages is not None:
        clauses.append("c.page BETWEEN ? AND ?")
        args.extend(pages)
    if collections is not None:
        clauses.append(
            f"c.document_id IN (SELECT id FROM documents WHERE collection IN ({','.join('?' * len(collections))}))"
        )
        args.extend(collections)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
