"""Vector search in pgvector: the vectors are the store's own rows, so there is nothing to load, save or keep in
step (the FAISS ``VectorIndex`` interface's ``add``/``remove``/``save`` do nothing here).

Unfiltered queries walk the HNSW cosine index (``hnsw.ef_search`` candidates). Filtered queries name the allowed
chunk ids and are exact: the allowed rows are read through the primary key (a bitmap scan) and sorted by
distance, as the FAISS index does with an id selector.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from paperlens.index.store.pg_db import HNSW_TABLES

if TYPE_CHECKING:
    from paperlens.index.store.pg_db import PostgresDatabase


class PgVectorIndex:
    def __init__(self, db: PostgresDatabase, table: str, id_column: str, dim: int, ef_search: int) -> None:
        self._db = db
        self.table = table
        self.id_column = id_column
        self.dim = dim
        self.ef_search = ef_search

    @property
    def ntotal(self) -> int:
        with self._db._connection() as conn:
            row = conn.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()
        return int(row[0]) if row else 0

    @property
    def kind(self) -> str:
        return "pgvector-hnsw" if self.table in HNSW_TABLES else "pgvector-exact"

    def load_or_rebuild(
        self, expected_ids: np.ndarray, batches: Iterable[tuple[np.ndarray, np.ndarray]]
    ) -> str:
        return "loaded"

    def add(self, ids: Iterable[int], vectors: np.ndarray | Sequence[np.ndarray]) -> None:
        """Nothing: ``add_document`` stored the vectors with their chunks."""

    def remove(self, ids: Iterable[int]) -> int:
        """Nothing: ``delete_document`` removed the vectors with their chunks."""
        return 0

    def save(self) -> None:
        """Nothing: every vector is committed with its chunk."""

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        vector = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        where, args = "", []
        if allowed_ids is not None:
            if len(allowed_ids) == 0:
                return []
            where = f"WHERE {self.id_column} = ANY(%s)"
            args.append([int(i) for i in allowed_ids])
        sql = (
            f"SELECT {self.id_column}, 1 - (embedding <=> %s) AS score FROM {self.table} {where}"
            " ORDER BY embedding <=> %s LIMIT %s"
        )
        ef_search = max(int(self.ef_search), int(k))  # fewer candidates than k would return fewer than k rows
        with self._db._connection() as conn:
            if ef_search != self._db.settings.hnsw_ef_search:  # else the session already has it (pg_db)
                conn.execute(f"SET LOCAL hnsw.ef_search = {ef_search}")
            if allowed_ids is not None:
                # Filtered: an exact scan of the allowed rows (found through the primary key), as FAISS does with
                # its id selector, so a filter never loses results to the approximate graph.
                conn.execute("SET LOCAL enable_indexscan = off")
            rows = conn.execute(sql, [vector, *args, vector, int(k)]).fetchall()
        ranked = [(int(r[0]), float(r[1])) for r in rows]
        ranked.sort(key=lambda item: -item[1])  # relaxed_order may return neighbours slightly out of order
        return ranked
