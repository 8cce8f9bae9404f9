"""The Postgres store: rows, pgvector vectors, full text, jobs and blobs in one database that several API
replicas share (``store.backend = "postgres"``, ``store.url``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from paperlens.index.store.pg_blobs import PostgresBlobs
from paperlens.index.store.pg_derived import PostgresDerivedVectors
from paperlens.index.store.pg_jobs import PostgresJobs
from paperlens.index.store.pg_keyword import PostgresKeyword
from paperlens.index.store.pg_rows import PostgresRows
from paperlens.index.store.pg_vectors import PgVectorIndex

if TYPE_CHECKING:
    from paperlens.config import RetrieveSettings, StoreSettings


class PostgresStore(PostgresRows, PostgresKeyword, PostgresJobs, PostgresBlobs):
    backend = "postgres"
    shared = True

    def __init__(self, url: str, data_dir: Path, settings: StoreSettings) -> None:
        super().__init__(url, data_dir, settings)

    def vector_index(self, name: str, dim: int, retrieve: RetrieveSettings) -> PgVectorIndex:
        table, id_column = ("chunks", "id") if name == "text" else ("image_vectors", "chunk_id")
        self.fix_vector_dim(table, dim)
        return PgVectorIndex(self, table, id_column, dim, self.settings.hnsw_ef_search)

    def derived_vectors(
        self, name: str, dim: int, retrieve: RetrieveSettings
    ) -> tuple[PostgresDerivedVectors, PgVectorIndex]:
        table = PostgresDerivedVectors(self, name, dim)
        return table, PgVectorIndex(self, table.table, "chunk_id", dim, self.settings.hnsw_ef_search)

    def describe(self) -> dict[str, object]:
        try:
            self.ping()
        except Exception as exc:  # any failure to answer is "not reachable"; the reason goes to the log
            return {"backend": self.backend, "reachable": False, "error": type(exc).__name__}
        return {"backend": self.backend, "reachable": True, "schema_version": self.schema_version}
