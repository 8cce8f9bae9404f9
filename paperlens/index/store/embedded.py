"""The embedded store (the default): SQLite rows, FTS5 and jobs in one file, FAISS vector files, blobs as
files, all in one data directory that one process owns."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from paperlens.index.store.file_blobs import FileBlobs
from paperlens.index.store.sqlite_jobs import SQLiteJobs
from paperlens.index.store.sqlite_keyword import SQLiteKeyword
from paperlens.index.store.sqlite_rows import SQLiteRows

if TYPE_CHECKING:
    from paperlens.config import RetrieveSettings
    from paperlens.index.store.sqlite_derived import SQLiteDerivedVectors
    from paperlens.index.vectors import VectorIndex


class EmbeddedStore(SQLiteRows, SQLiteKeyword, SQLiteJobs, FileBlobs):
    backend = "embedded"
    shared = False

    def __init__(self, path: Path, data_dir: Path | None = None) -> None:
        SQLiteRows.__init__(self, path)
        FileBlobs.__init__(self, data_dir if data_dir is not None else path.parent)

    def vector_index(self, name: str, dim: int, retrieve: RetrieveSettings) -> VectorIndex:
        from paperlens.index.vectors import VectorIndex

        return VectorIndex.configured(self.data_dir / "vectors" / f"{name}.faiss", dim, retrieve)

    def derived_vectors(
        self, name: str, dim: int, retrieve: RetrieveSettings
    ) -> tuple[SQLiteDerivedVectors, VectorIndex]:
        from paperlens.index.store.sqlite_derived import SQLiteDerivedVectors

        table = SQLiteDerivedVectors(self.data_dir / "vectors" / f"{name}.sqlite3")
        return table, self.vector_index(name, dim, retrieve)

    def ping(self) -> None:
        with self._lock:
            self._conn.execute("SELECT 1").fetchone()

    def describe(self) -> dict[str, object]:
        return {"backend": self.backend, "reachable": True, "path": self.path.name}
