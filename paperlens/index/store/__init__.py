"""Where paperlens keeps things: the ``Store`` protocol (``base``) and its two implementations, chosen by
``store.backend``: ``embedded`` (SQLite + FTS5 + FAISS + files) and ``postgres`` (pgvector, shared by replicas)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paperlens.index.store.base import Job, Store, VectorSearch
from paperlens.index.store.embedded import EmbeddedStore
from paperlens.index.store.keywords import FTS_TOKENIZE, fts_query

if TYPE_CHECKING:
    from paperlens.config import Settings

__all__ = ["FTS_TOKENIZE", "EmbeddedStore", "Job", "Store", "VectorSearch", "fts_query", "open_store"]


def open_store(settings: Settings) -> Store:
    """The configured store: the SQLite file in the data directory, or the shared Postgres database."""
    if settings.store.backend == "postgres":
        from paperlens.index.store.postgres import PostgresStore

        return PostgresStore(settings.store.url, settings.data_dir, settings.store)
    return EmbeddedStore(settings.db_path, settings.data_dir)
