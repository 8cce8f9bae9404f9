"""The Postgres store's blobs (crops, original PDFs) in a ``bytea`` table: any replica serves what another
ingested, with no shared filesystem. A replica keeps a copy of what it read in its own data directory (the key
is the path), since a crop never changes under its key (document ids are hashes of the bytes)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from paperlens.errors import NotFoundError
from paperlens.index.store.pg_db import PostgresDatabase


class PostgresBlobs(PostgresDatabase):
    def _local(self, key: str) -> Path:
        root = self.data_dir.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root):
            raise NotFoundError(f"no blob {key!r}")
        return path

    def put_blob(self, key: str, document_id: str, source: Path) -> None:
        data = Path(source).read_bytes()
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO blobs(key, document_id, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (key) DO UPDATE SET data = excluded.data, document_id = excluded.document_id",
                (key, document_id, data),
            )

    def read_blob(self, key: str) -> bytes:
        local = self._local(key)
        if local.is_file():
            return local.read_bytes()
        with self._connection() as conn:
            row = conn.execute("SELECT data FROM blobs WHERE key = %s", (key,)).fetchone()
        if row is None:
            raise NotFoundError(f"no blob {key!r}")
        return bytes(row[0])

    def blob_path(self, key: str) -> Path | None:
        local = self._local(key)
        if local.is_file():
            return local
        try:
            data = self.read_blob(key)
        except NotFoundError:
            return None
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f"{local.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, local)
        return local

    def delete_blob(self, key: str) -> None:
        self._local(key).unlink(missing_ok=True)
        with self._connection() as conn:
            conn.execute("DELETE FROM blobs WHERE key = %s", (key,))
