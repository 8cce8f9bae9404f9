"""Embed every stored chunk again with the configured text embedder (``paperlens reembed``).

Changing ``embed.model`` used to mean a new data directory and ingesting every PDF again, parsing and OCR
included. The chunk texts are all in SQLite, so only the vectors need redoing. Crash safety: the new vectors and
the new index identity are written in one SQLite transaction, and the FAISS file is removed *before* that commit,
so whatever the moment of a crash, the next start finds either the old vectors and identity (and rebuilds FAISS
from them) or the new ones; never new vectors under an old FAISS file with the same ids.

The service must not be running on the same data directory while this runs: it holds the old vectors in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from paperlens.config import Settings
from paperlens.index.embed import build_embedder
from paperlens.index.embed.base import Embedder
from paperlens.index.store import open_store


def embedder_identity(embedder: Embedder) -> dict:
    """What the stored vectors are tied to: a different value means they cannot be searched together."""
    return {"embedder": embedder.name, "model": embedder.model, "dim": embedder.dim}


def reembed(settings: Settings, progress: Callable[[int, int], None] | None = None) -> dict:
    """Re-embed every chunk in ``settings.data_dir`` with ``settings.embed``; rebuild the text FAISS file.

    ``progress(done, total)`` is called after each batch. Returns {"chunks", "before", "after"}."""
    store = open_store(settings)
    try:
        embedder = build_embedder(settings.embed)
        before = store.get_meta("index_identity")
        total = store.chunk_count()
        batch = max(settings.embed.batch_size * 4, 64)
        id_parts, vector_parts, done = [], [], 0
        for ids, texts in store.iter_chunk_texts(batch):
            id_parts.append(ids)
            vector_parts.append(np.asarray(embedder.embed_passages(texts), dtype=np.float32))
            done += len(ids)
            if progress is not None:
                progress(done, total)
        ids = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int64)
        vectors = np.concatenate(vector_parts) if vector_parts else np.zeros((0, embedder.dim), np.float32)
        identity = embedder_identity(embedder)
        path = settings.vectors_dir / "text.faiss"
        path.unlink(missing_ok=True)  # before the commit: see the module docstring
        store.replace_vectors(ids, vectors, {"index_identity": json.dumps(identity, sort_keys=True)})
        index = store.vector_index("text", embedder.dim, settings.retrieve)
        index.load_or_rebuild(store.chunk_ids(), store.iter_vectors())
        return {"chunks": int(len(ids)), "before": json.loads(before) if before else None, "after": identity}
    finally:
        store.close()
