"""Embedding backends: one Protocol per kind, implementations in their own files, chosen by name in config."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Text -> L2-normalised float32 vectors. Queries and passages may be embedded differently (e5)."""

    name: str  # backend name, e.g. "sentence-transformers"
    model: str  # model name or path, recorded in the index identity

    @property
    def dim(self) -> int: ...  # an attribute, or a property when it is learnt (a served model's first reply)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


@runtime_checkable
class ImageEmbedder(Protocol):
    """Images and text into one shared space (CLIP): crops are searched by text queries or by an image."""

    name: str
    model: str

    @property
    def dim(self) -> int: ...

    def embed_images(self, paths: Sequence[Path]) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)
