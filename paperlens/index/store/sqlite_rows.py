"""The embedded store's rows: documents, elements, chunks with their vectors, and CLIP vectors of crops."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from paperlens.errors import NotFoundError, RetryableError
from paperlens.index.store.sqlite_db import SQLiteDatabase, chunk_filter
from paperlens.models import Chunk, Document, Element, ElementKind


class SQLiteRows(SQLiteDatabase):
    # -- documents -------------------------------------------------------------------------------------
    def has_document(self, document_id: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone()
        return row is not None

    def add_document(
        self,
        document: Document,
        elements: Sequence[Element],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        image_vectors: Mapping[int, np.ndarray] | None = None,
    ) -> list[int]:
        """Insert a whole document atomically. Returns the new chunk ids (in ``chunks`` order).

        ``image_vectors`` maps a position in ``chunks`` (a visual chunk) to the CLIP vector of its crop."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk is required")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids: list[int] = []
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO documents(id, title, pages, filename, size_bytes, collection, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    document.id,
                    document.title,
                    document.pages,
                    document.filename,
                    document.size_bytes,
                    document.collection,
                    "ready",
                    document.created_at or time.time(),
                ),
            )
            conn.executemany(
                "INSERT INTO elements(id, document_id, page, kind, ord, data) VALUES (?, ?, ?, ?, ?, ?)",
                [(e.id, e.document_id, e.page, e.kind.value, e.order, e.model_dump_json()) for e in elements],
            )
            ids.extend(self._insert_chunk(conn, c, v) for c, v in zip(chunks, vectors, strict=True))
            if image_vectors:
                conn.executemany(
                    "INSERT INTO image_vectors(chunk_id, vector) VALUES (?, ?)",
                    [
                        (ids[pos], np.ascontiguousarray(vec, dtype=np.float32).tobytes())
                        for pos, vec in image_vectors.items()
                    ],
                )
        return ids

    def revise_document(
        self,
        document_id: str,
        elements: Sequence[Element],
        changed: Mapping[int, tuple[str, np.ndarray]],
        added: Sequence[Chunk],
        added_vectors: np.ndarray,
    ) -> list[int]:
        """What a deferred stage learnt about a stored document, in one transaction: ``elements`` replace the
        stored ones of the same ids, ``changed`` gives chunks (by id) a new text and vector, ``added`` chunks
        are inserted. Returns the added chunks' ids; NotFoundError when the document is gone."""
        added_vectors = np.ascontiguousarray(added_vectors, dtype=np.float32)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone() is None:
                raise NotFoundError(f"no document with id {document_id}")
            conn.executemany(
                "UPDATE elements SET data = ? WHERE id = ? AND document_id = ?",
                [(e.model_dump_json(), e.id, document_id) for e in elements],
            )
            for chunk_id, (text, vector) in changed.items():
                old = conn.execute(
                    "SELECT text FROM chunks WHERE id = ? AND document_id = ?", (int(chunk_id), document_id)
                ).fetchone()
                if old is None:
                    continue
                # chunks_fts holds the chunks' text by reference: take the old words out, put the new ones in.
                conn.execute(
                    "INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', ?, ?)",
                    (int(chunk_id), old["text"]),
                )
                conn.execute(
                    "UPDATE chunks SET text = ?, vector = ? WHERE id = ?",
                    (text, np.ascontiguousarray(vector, dtype=np.float32).tobytes(), int(chunk_id)),
                )
                conn.execute("INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)", (int(chunk_id), text))
            return [self._insert_chunk(conn, c, v) for c, v in zip(added, added_vectors, strict=True)]

    @staticmethod
    def _insert_chunk(conn: sqlite3.Connection, chunk: Chunk, vector: np.ndarray) -> int:
        cur = conn.execute(
            "INSERT INTO chunks(document_id, page, kind, text, bbox, element_ids, section, vector)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                chunk.document_id,
                chunk.page,
                chunk.kind.value,
                chunk.text,
                json.dumps(list(chunk.bbox)),
                json.dumps(chunk.element_ids),
                chunk.section,
                vector.tobytes(),
            ),
        )
        return int(cur.lastrowid or 0)

    def delete_document(self, document_id: str) -> list[int]:
        """Delete a document with its elements, chunks and FTS rows. Returns the removed chunk ids."""
        with self._transaction() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE document_id = ?", (document_id,))]
            cur = conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            if cur.rowcount == 0:
                raise NotFoundError(f"no document with id {document_id}")
        return ids

    def get_document(self, document_id: str) -> Document:
        with self._lock:
            row = self._conn.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document with id {document_id}")
        return _document(row)

    def list_documents(self, collections: Iterable[str] | None = None) -> list[Document]:
        sql, args = "SELECT * FROM documents", []
        if collections is not None:
            cols = list(collections)
            sql += f" WHERE collection IN ({','.join('?' * len(cols))})"
            args = cols
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at", args).fetchall()
        return [_document(r) for r in rows]

    def element_counts(self, document_id: str) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, COUNT(*) AS n FROM elements WHERE document_id = ? GROUP BY kind", (document_id,)
            ).fetchall()
        return {r["kind"]: r["n"] for r in rows}

    def titles(self, document_ids: Iterable[str]) -> dict[str, str]:
        ids = list(set(document_ids))
        if not ids:
            return {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT id, title FROM documents WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
        return {r["id"]: r["title"] for r in rows}

    # -- elements --------------------------------------------------------------------------------------
    def get_element(self, element_id: str) -> Element:
        with self._lock:
            row = self._conn.execute("SELECT data FROM elements WHERE id = ?", (element_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no element with id {element_id}")
        return Element.model_validate_json(row["data"])

    def list_elements(
        self, document_id: str, kind: str | None = None, page: int | None = None
    ) -> list[Element]:
        sql = "SELECT data FROM elements WHERE document_id = ?"
        args: list[object] = [document_id]
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        if page is not None:
            sql += " AND page = ?"
            args.append(page)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY page, ord", args).fetchall()
        return [Element.model_validate_json(r["data"]) for r in rows]

    # -- chunks ----------------------------------------------------------------------------------------
    def chunk_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunk_ids(self) -> np.ndarray:
        with self._lock:
            rows = self._conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (ids, vectors) batches of every stored chunk vector, for rebuilding FAISS."""
        for ids, blobs in self._keyset_pages("chunks", "id", "vector", batch):
            yield ids, np.stack([np.frombuffer(b, dtype=np.float32) for b in blobs])

    def iter_chunk_texts(self, batch: int = 256) -> Iterator[tuple[np.ndarray, list[str]]]:
        """Yield (ids, texts) batches of every stored chunk, in id order, for embedding them again."""
        yield from self._keyset_pages("chunks", "id", "text", batch)

    def replace_vectors(self, ids: np.ndarray, vectors: np.ndarray, meta: Mapping[str, str]) -> None:
        """Swap every chunk's vector and set ``meta`` keys in one transaction (all or nothing).

        ``ids`` must be exactly the stored chunk ids: a chunk added or removed meanwhile fails the swap."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(ids) != len(vectors):
            raise ValueError("one vector per chunk is required")
        with self._transaction() as conn:
            stored = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY id")]
            if stored != sorted(int(i) for i in ids):
                raise index_changed()
            conn.executemany(
                "UPDATE chunks SET vector = ? WHERE id = ?",
                [(vec.tobytes(), int(i)) for i, vec in zip(ids, vectors, strict=True)],
            )
            conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                list(meta.items()),
            )

    # -- image vectors (CLIP) --------------------------------------------------------------------------
    def image_vector_ids(self) -> np.ndarray:
        with self._lock:
            rows = self._conn.execute("SELECT chunk_id FROM image_vectors ORDER BY chunk_id").fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def iter_image_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (chunk ids, CLIP vectors) batches, for rebuilding the image FAISS index."""
        for ids, blobs in self._keyset_pages("image_vectors", "chunk_id", "vector", batch):
            yield ids, np.stack([np.frombuffer(b, dtype=np.float32) for b in blobs])

    def visual_chunks_without_image_vectors(self) -> list[tuple[int, str]]:
        """(chunk id, crop path relative to the data dir) of visual chunks whose crop has no CLIP vector yet."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id, json_extract(e.data, '$.crop_path') AS crop FROM chunks c"
                " JOIN elements e ON e.id = json_extract(c.element_ids, '$[0]')"
                " WHERE c.kind IN ('figure', 'table', 'formula') AND crop IS NOT NULL"
                " AND c.id NOT IN (SELECT chunk_id FROM image_vectors) ORDER BY c.id"
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def add_image_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Store CLIP vectors for existing chunks (backfill); chunks deleted meanwhile are skipped."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO image_vectors(chunk_id, vector)"
                " SELECT ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?)",
                [(int(i), v.tobytes(), int(i)) for i, v in zip(ids, vectors, strict=True)],
            )

    def clear_image_vectors(self) -> None:
        """Forget every CLIP vector (the configured CLIP model changed; they are re-embedded from crops)."""
        with self._lock:
            self._conn.execute("DELETE FROM image_vectors")

    def filtered_chunk_ids(
        self,
        document_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        pages: tuple[int, int] | None = None,
        collections: Sequence[str] | None = None,
    ) -> np.ndarray:
        where, args = chunk_filter(document_ids, kinds, pages, collections)
        with self._lock:
            rows = self._conn.execute(f"SELECT c.id FROM chunks c {where}", args).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def get_chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        out: dict[int, Chunk] = {}
        with self._lock:
            for start in range(0, len(ids), 900):
                part = ids[start : start + 900]
                rows = self._conn.execute(
                    "SELECT id, document_id, page, kind, text, bbox, element_ids, section FROM chunks"
                    f" WHERE id IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
                for r in rows:
                    out[r["id"]] = Chunk(
                        id=r["id"],
                        document_id=r["document_id"],
                        page=r["page"],
                        kind=ElementKind(r["kind"]),
                        text=r["text"],
                        bbox=tuple(json.loads(r["bbox"])),
                        element_ids=json.loads(r["element_ids"]),
                        section=r["section"],
                    )
        return out


def index_changed() -> RetryableError:
    return RetryableError(
        "the chunks changed while their vectors were being computed (is the service running on"
        " this data directory?); nothing was replaced: stop it and run again",
        code="index_changed",
    )


def _document(row: sqlite3.Row) -> Document:
    return Document(
        id=row["id"],
        title=row["title"],
        pages=row["pages"],
        filename=row["filename"],
        size_bytes=row["size_bytes"],
        collection=row["collection"],
        status=row["status"],
        created_at=row["created_at"],
    )
