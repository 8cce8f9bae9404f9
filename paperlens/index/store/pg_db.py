"""The Postgres store's connection pool, migrations (once, under an advisory lock), metadata and filters.

Every method takes a pooled connection for one transaction (``_connection``): committed when the block ends,
rolled back on an exception. A database that cannot be reached, or a pool that hands out no connection within
``store.connect_timeout_s``, is a ``StoreUnavailableError`` (HTTP 503, code ``store_unavailable``), never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from paperlens.errors import ConfigError, StoreUnavailableError
from paperlens.index.store.pg_schema import MIGRATIONS

if TYPE_CHECKING:
    from paperlens.config import StoreSettings

log = logging.getLogger(__name__)

#: The advisory lock key replicas take while migrating (any constant; "paperlens" in ASCII).
MIGRATION_LOCK = 0x70617065726C656E


def _unavailable(exc: BaseException) -> StoreUnavailableError:
    # psycopg's message can hold the host and user; the client only learns that the store is down.
    log.warning("postgres store unavailable: %s", exc)
    return StoreUnavailableError("the document store (PostgreSQL) cannot be reached; retry in a little while")


def _configure(conn: psycopg.Connection, ef_search: int) -> None:
    """Set up each new pooled connection once, so a search is one round trip: vectors travel as binary numpy,
    and the HNSW settings hold for the session (iterative scans only matter to filtered queries, whose index
    scan then keeps going until it has found enough allowed rows)."""
    from pgvector.psycopg import register_vector

    register_vector(conn)
    conn.execute(f"SET hnsw.ef_search = {int(ef_search)}")
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    conn.commit()


#: Vector tables with an HNSW index: those searched over the whole library. Image vectors are few and always
#: searched exactly.
HNSW_TABLES = ("chunks", "multilingual_vectors")


def embedding_type(conn: psycopg.Connection, table: str) -> str | None:
    """The type of ``table.embedding``: "vector" until a dimension is fixed, then e.g. "vector(384)"."""
    row = conn.execute(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attname = 'embedding'",
        (table,),
    ).fetchone()
    return row[0] if row else None


class PostgresDatabase:
    def __init__(self, url: str, data_dir: Path, settings: StoreSettings) -> None:
        if not url:
            raise ConfigError(
                "store.backend = postgres needs store.url (PAPERLENS_STORE__URL=postgresql://...)"
            )
        self.url = url
        self.data_dir = data_dir
        self.settings = settings
        self._timeout = settings.connect_timeout_s
        try:
            self.schema_version = migrate(url, self._timeout)
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from exc
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=settings.pool_size,
            open=False,
            configure=lambda conn: _configure(conn, settings.hnsw_ef_search),
            check=ConnectionPool.check_connection,  # a connection broken by a database restart is replaced
            kwargs={"connect_timeout": max(1, int(self._timeout))},
            name="paperlens-store",
        )
        try:
            self._pool.open(wait=True, timeout=self._timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise _unavailable(exc) from exc

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection for one transaction (committed at the end of the block)."""
        try:
            with self._pool.connection(timeout=self._timeout) as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise _unavailable(exc) from exc

    def ping(self) -> None:
        with self._connection() as conn:
            conn.execute("SELECT 1").fetchone()

    # -- meta ------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._connection() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def _keyset_pages(
        self, table: str, key: str, column: str, batch: int
    ) -> Iterator[tuple[np.ndarray, list]]:
        """(ids, values) pages of ``column`` over a whole table in ``key`` order, one short query per page."""
        last = -1
        while True:
            with self._connection() as conn:
                rows = conn.execute(
                    f"SELECT {key}, {column} FROM {table} WHERE {key} > %s ORDER BY {key} LIMIT %s",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            last = int(rows[-1][0])
            yield np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]

    def fix_vector_dim(self, table: str, dim: int) -> None:
        """Give ``table.embedding`` its dimension and, for the tables searched whole (``HNSW_TABLES``), the HNSW
        cosine index (once, by whichever replica gets there first; the others find it done)."""
        with self._connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            if embedding_type(conn, table) == "vector":
                conn.execute(f"ALTER TABLE {table} ALTER COLUMN embedding TYPE vector({int(dim)})")
            if table in HNSW_TABLES:
                # The graph is built in memory when it fits (measured: 100k x 384-d needs ~250 MB); past
                # maintenance_work_mem pgvector builds on disk, several times slower.
                conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_embedding_hnsw ON {table}"
                    " USING hnsw (embedding vector_cosine_ops)"
                )


def migrate(url: str, timeout: float) -> int:
    """Apply the migrations this database lacks, in order, each in its own transaction, under an advisory lock
    so that replicas starting together apply each exactly once. Returns the schema version."""
    with psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout))) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
            current = int(row[0]) if row else 0
            for version, sql in MIGRATIONS:
                if version <= current:
                    continue
                log.warning("applying store schema migration %d", version)
                with conn.transaction():
                    conn.execute(sql.encode())  # our own constant SQL, not a literal to psycopg's type checks
                    conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (version,))
                current = version
            return current
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def chunk_filter(
    document_ids: Sequence[str] | None,
    kinds: Sequence[str] | None,
    pages: tuple[int, int] | None,
    collections: Sequence[str] | None,
) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause over ``chunks c`` and its arguments (empty when nothing is filtered)."""
    clauses: list[str] = []
    args: list[Any] = []
    if document_ids is not None:
        clauses.append("c.document_id = ANY(%s)")
        args.append(list(document_ids))
    if kinds is not None:
        clauses.append("c.kind = ANY(%s)")
        args.append([str(k) for k in kinds])
    if pages is not None:
        clauses.append("c.page BETWEEN %s AND %s")
        args.extend(pages)
    if collections is not None:
        clauses.append("c.document_id IN (SELECT id FROM documents WHERE collection = ANY(%s))")
        args.append(list(collections))
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
