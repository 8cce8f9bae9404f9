"""The Postgres store's rows: documents, elements, chunks with their pgvector vectors, CLIP vectors of crops.

A document is written in one transaction together with its blobs (crops and the original PDF, read from the
ingesting replica's data directory), so another replica can serve them the moment the document is visible.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from paperlens.errors import NotFoundError
from paperlens.index.store.base import upload_key
from paperlens.index.store.pg_db import PostgresDatabase, chunk_filter
from paperlens.index.store.pg_keyword import add_lexeme_counts, lexeme_counts
from paperlens.index.store.sqlite_rows import index_changed
from paperlens.models import Chunk, Document, Element, ElementKind

_DOC_COLUMNS = "id, title, pages, filename, size_bytes, collection, status, created_at"


class PostgresRows(PostgresDatabase):
    # -- documents -------------------------------------------------------------------------------------
    def has_document(self, document_id: str) -> bool:
        with self._connection() as conn:
            return (
                conn.execute("SELECT 1 FROM documents WHERE id = %s", (document_id,)).fetchone() is not None
            )

    def add_document(
        self,
        document: Document,
        elements: Sequence[Element],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        image_vectors: Mapping[int, np.ndarray] | None = None,
    ) -> list[int]:
        """Insert a whole document atomically; returns the new chunk ids (in ``chunks`` order), or [] when
        another replica committed the same document first (same bytes, same id: nothing is duplicated)."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk is required")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        blobs = self._document_blobs(document.id, elements)
        with self._connection() as conn:
            # Two replicas finishing the same document take turns; the second finds it and writes nothing.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (document.id,))
            if conn.execute("SELECT 1 FROM documents WHERE id = %s", (document.id,)).fetchone():
                return []
            conn.execute(
                f"INSERT INTO documents({_DOC_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, 'ready', %s)",
                (
                    document.id,
                    document.title,
                    document.pages,
                    document.filename,
                    document.size_bytes,
                    document.collection,
                    document.created_at or time.time(),
                ),
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO elements(id, document_id, page, kind, ord, data) VALUES (%s, %s, %s, %s, %s, %s)",
                    [
                        (e.id, e.document_id, e.page, e.kind.value, e.order, _jsonb(e.model_dump_json()))
                        for e in elements
                    ],
                )
                ids = _insert_chunks(cur, chunks, vectors)
                if image_vectors:
                    cur.executemany(
                        "INSERT INTO image_vectors(chunk_id, embedding) VALUES (%s, %s)",
                        [
                            (ids[pos], np.ascontiguousarray(vec, dtype=np.float32))
                            for pos, vec in image_vectors.items()
                        ],
                    )
                cur.executemany(
                    "INSERT INTO blobs(key, document_id, data) VALUES (%s, %s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET data = excluded.data, document_id = excluded.document_id",
                    [(key, document.id, data) for key, data in blobs],
                )
            add_lexeme_counts(conn, "c.document_id = %s", [document.id])
        return ids

    def revise_document(
        self,
        document_id: str,
        elements: Sequence[Element],
        changed: Mapping[int, tuple[str, np.ndarray]],
        added: Sequence[Chunk],
        added_vectors: np.ndarray,
    ) -> list[int]:
        """See the embedded store's: elements replaced, chunk texts and vectors changed (``tsv`` follows, being
        generated), chunks added, in one transaction; NotFoundError when the document is gone."""
        added_vectors = np.ascontiguousarray(added_vectors, dtype=np.float32)
        with self._connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (document_id,))
            if not conn.execute("SELECT 1 FROM documents WHERE id = %s", (document_id,)).fetchone():
                raise NotFoundError(f"no document with id {document_id}")
            changed_ids = [int(i) for i in changed]
            before = lexeme_counts(conn, "c.id = ANY(%s)", [changed_ids])
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE elements SET data = %s WHERE id = %s AND document_id = %s",
                    [(_jsonb(e.model_dump_json()), e.id, document_id) for e in elements],
                )
                cur.executemany(
                    "UPDATE chunks SET text = %s, embedding = %s WHERE id = %s AND document_id = %s",
                    [
                        (
                            text.replace("\x00", ""),
                            np.ascontiguousarray(vector, dtype=np.float32),
                            int(chunk_id),
                            document_id,
                        )
                        for chunk_id, (text, vector) in changed.items()
                    ],
                )
                added_ids = _insert_chunks(cur, added, added_vectors)
            add_lexeme_counts(conn, "c.id = ANY(%s)", [changed_ids + added_ids], minus=before)
            return added_ids

    def _document_blobs(self, document_id: str, elements: Sequence[Element]) -> list[tuple[str, bytes]]:
        """The files of this document on this replica's disk that other replicas must be able to serve."""
        keys = [e.crop_path for e in elements if e.crop_path] + [upload_key(document_id)]
        out = []
        for key in dict.fromkeys(keys):
            path = self.data_dir / key
            if path.is_file():
                out.append((key, path.read_bytes()))
        return out

    def delete_document(self, document_id: str) -> list[int]:
        """Delete a document with everything it owns (elements, chunks, vectors, blobs); returns chunk ids."""
        with self._connection() as conn:
            # One writer per document at a time (as add and revise), so the counts taken away are the ones stored.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (document_id,))
            ids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT id FROM chunks WHERE document_id = %s", (document_id,)
                ).fetchall()
            ]
            before = lexeme_counts(conn, "c.document_id = %s", [document_id])
            cur = conn.execute("DELETE FROM documents WHERE id = %s", (document_id,))
            if cur.rowcount == 0:
                raise NotFoundError(f"no document with id {document_id}")
            conn.execute("DELETE FROM blobs WHERE document_id = %s", (document_id,))
            add_lexeme_counts(conn, "false", [], minus=before)
        return ids

    def get_document(self, document_id: str) -> Document:
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = %s", (document_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no document with id {document_id}")
        return _document(row)

    def list_documents(self, collections: Iterable[str] | None = None) -> list[Document]:
        sql, args = f"SELECT {_DOC_COLUMNS} FROM documents", []
        if collections is not None:
            sql += " WHERE collection = ANY(%s)"
            args.append(list(collections))
        with self._connection() as conn:
            rows = conn.execute(sql + " ORDER BY created_at", args).fetchall()
        return [_document(r) for r in rows]

    def element_counts(self, document_id: str) -> dict[str, int]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT kind, COUNT(*) FROM elements WHERE document_id = %s GROUP BY kind", (document_id,)
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def titles(self, document_ids: Iterable[str]) -> dict[str, str]:
        ids = list(set(document_ids))
        if not ids:
            return {}
        with self._connection() as conn:
            rows = conn.execute("SELECT id, title FROM documents WHERE id = ANY(%s)", (ids,)).fetchall()
        return {r[0]: r[1] for r in rows}

    # -- elements --------------------------------------------------------------------------------------
    def get_element(self, element_id: str) -> Element:
        with self._connection() as conn:
            row = conn.execute("SELECT data FROM elements WHERE id = %s", (element_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no element with id {element_id}")
        return Element.model_validate(row[0])

    def list_elements(
        self, document_id: str, kind: str | None = None, page: int | None = None
    ) -> list[Element]:
        sql = "SELECT data FROM elements WHERE document_id = %s"
        args: list[object] = [document_id]
        if kind:
            sql += " AND kind = %s"
            args.append(kind)
        if page is not None:
            sql += " AND page = %s"
            args.append(page)
        with self._connection() as conn:
            rows = conn.execute(sql + " ORDER BY page, ord", args).fetchall()
        return [Element.model_validate(r[0]) for r in rows]

    # -- chunks ----------------------------------------------------------------------------------------
    def chunk_count(self) -> int:
        with self._connection() as conn:
            row = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()
        return int(row[0]) if row else 0

    def chunk_ids(self) -> np.ndarray:
        with self._connection() as conn:
            rows = conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for ids, vectors in self._keyset_pages("chunks", "id", "embedding", batch):
            yield ids, np.stack([as_array(v) for v in vectors])

    def iter_chunk_texts(self, batch: int = 256) -> Iterator[tuple[np.ndarray, list[str]]]:
        yield from self._keyset_pages("chunks", "id", "text", batch)

    def replace_vectors(self, ids: np.ndarray, vectors: np.ndarray, meta: Mapping[str, str]) -> None:
        """Swap every chunk's vector and set ``meta`` keys in one transaction (all or nothing)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(ids) != len(vectors):
            raise ValueError("one vector per chunk is required")
        with self._connection() as conn:
            conn.execute("LOCK TABLE chunks IN SHARE ROW EXCLUSIVE MODE")  # no chunk comes or goes meanwhile
            stored = [int(r[0]) for r in conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()]
            if stored != sorted(int(i) for i in ids):
                raise index_changed()
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE chunks SET embedding = %s WHERE id = %s",
                    [(vec, int(i)) for i, vec in zip(ids, vectors, strict=True)],
                )
                cur.executemany(
                    "INSERT INTO meta(key, value) VALUES (%s, %s)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    list(meta.items()),
                )

    # -- vectors keyed by chunk, in tables of their own (CLIP image vectors, the multilingual ones) ---------
    def _chunk_vector_ids(self, table: str) -> np.ndarray:
        with self._connection() as conn:
            rows = conn.execute(f"SELECT chunk_id FROM {table} ORDER BY chunk_id").fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def _iter_chunk_vectors(self, table: str, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for ids, vectors in self._keyset_pages(table, "chunk_id", "embedding", batch):
            yield ids, np.stack([as_array(v) for v in vectors])

    def _put_chunk_vectors(self, table: str, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Insert or replace the vectors of chunks that still exist (one deleted meanwhile is skipped)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._connection() as conn, conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table}(chunk_id, embedding) SELECT %s, %s"
                " WHERE EXISTS (SELECT 1 FROM chunks WHERE id = %s)"
                " ON CONFLICT (chunk_id) DO UPDATE SET embedding = excluded.embedding",
                [(int(i), v, int(i)) for i, v in zip(ids, vectors, strict=True)],
            )

    # -- image vectors (CLIP) --------------------------------------------------------------------------
    def image_vector_ids(self) -> np.ndarray:
        return self._chunk_vector_ids("image_vectors")

    def iter_image_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield from self._iter_chunk_vectors("image_vectors", batch)

    def visual_chunks_without_image_vectors(self) -> list[tuple[int, str]]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT c.id, e.data->>'crop_path' FROM chunks c JOIN elements e ON e.id = c.element_ids[1]"
                " WHERE c.kind IN ('figure', 'table', 'formula') AND e.data->>'crop_path' IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM image_vectors v WHERE v.chunk_id = c.id) ORDER BY c.id"
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def add_image_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        self._put_chunk_vectors("image_vectors", ids, vectors)

    def clear_image_vectors(self) -> None:
        with self._connection() as conn:
            conn.execute("DELETE FROM image_vectors")

    def filtered_chunk_ids(
        self,
        document_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        pages: tuple[int, int] | None = None,
        collections: Sequence[str] | None = None,
    ) -> np.ndarray:
        where, args = chunk_filter(document_ids, kinds, pages, collections)
        with self._connection() as conn:
            rows = conn.execute(f"SELECT c.id FROM chunks c {where}", args).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def get_chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        wanted = [int(i) for i in ids]
        if not wanted:
            return {}
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT id, document_id, page, kind, text, bbox, element_ids, section FROM chunks"
                " WHERE id = ANY(%s)",
                (wanted,),
            ).fetchall()
        return {
            int(r[0]): Chunk(
                id=int(r[0]),
                document_id=r[1],
                page=r[2],
                kind=ElementKind(r[3]),
                text=r[4],
                bbox=tuple(r[5]),
                element_ids=list(r[6]),
                section=r[7],
            )
            for r in rows
        }


def as_array(value: Any) -> np.ndarray:
    """A pgvector value as float32 numpy (the loader gives ``Vector`` objects or arrays by version)."""
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


def _jsonb(text: str) -> str:
    # jsonb refuses the NUL character that a PDF's text layer can hold; SQLite kept it, nothing reads it.
    return text.replace("\\u0000", "")


def _document(row: Sequence[Any]) -> Document:
    return Document(
        id=row[0],
        title=row[1],
        pages=row[2],
        filename=row[3],
        size_bytes=row[4],
        collection=row[5],
        status=row[6],
        created_at=row[7],
    )


def _insert_chunks(cur: Any, chunks: Sequence[Chunk], vectors: np.ndarray) -> list[int]:
    """Insert ``chunks`` with their vectors; their ids, drawn in order so reading order stays id order."""
    if not chunks:
        return []
    rows = cur.execute(
        "SELECT nextval(pg_get_serial_sequence('chunks', 'id')) FROM generate_series(1, %s) g ORDER BY g",
        (len(chunks),),
    ).fetchall()
    ids = [int(r[0]) for r in rows]
    cur.executemany(
        "INSERT INTO chunks(id, document_id, page, kind, text, bbox, element_ids, section, embedding)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                chunk_id,
                c.document_id,
                c.page,
                c.kind.value,
                c.text.replace("\x00", ""),  # Postgres text cannot hold NUL
                list(c.bbox),
                list(c.element_ids),
                c.section,
                vector,
            )
            for chunk_id, c, vector in zip(ids, chunks, vectors, strict=True)
        ],
    )
    return ids
