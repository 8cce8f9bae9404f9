"""The Postgres store's derived vectors (the multilingual index): a table beside the chunks
(``multilingual_vectors``, HNSW for cosine distance), so every replica searches the vectors any replica made,
and a chunk's vector goes with the chunk (``ON DELETE CASCADE``). The identity of the model that made them is
the meta key ``multilingual_identity``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from paperlens.index.store.pg_db import embedding_type

if TYPE_CHECKING:
    from paperlens.index.store.pg_rows import PostgresRows

TABLES = {"multilingual": "multilingual_vectors"}


class PostgresDerivedVectors:
    def __init__(self, db: PostgresRows, name: str, dim: int) -> None:
        self._db = db
        self.table = TABLES[name]
        self.dim = dim
        self._identity_key = f"{name}_identity"
        db.fix_vector_dim(self.table, dim)

    def identity(self) -> str | None:
        return self._db.get_meta(self._identity_key)

    def reset(self, identity: str) -> None:
        with self._db._connection() as conn:
            conn.execute(f"DELETE FROM {self.table}")
            typed = embedding_type(conn, self.table)
            if typed is not None and typed != f"vector({self.dim})":  # another model, another dimension
                conn.execute(f"ALTER TABLE {self.table} ALTER COLUMN embedding TYPE vector({int(self.dim)})")
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (self._identity_key, identity),
            )

    def ids(self) -> np.ndarray:
        return self._db._chunk_vector_ids(self.table)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield from self._db._iter_chunk_vectors(self.table, batch)

    def present(self, ids: Sequence[int]) -> set[int]:
        if len(ids) == 0:
            return set()
        with self._db._connection() as conn:
            rows = conn.execute(
                f"SELECT chunk_id FROM {self.table} WHERE chunk_id = ANY(%s)", ([int(i) for i in ids],)
            ).fetchall()
        return {int(r[0]) for r in rows}

    def insert(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Keep the vectors of chunks that still exist (one deleted meanwhile on another replica is skipped)."""
        self._db._put_chunk_vectors(self.table, ids, vectors)

    def delete(self, ids: Iterable[int]) -> None:
        with self._db._connection() as conn:
            conn.execute(f"DELETE FROM {self.table} WHERE chunk_id = ANY(%s)", ([int(i) for i in ids],))

    def close(self) -> None:
        """Nothing: the store's pool holds the connections."""
