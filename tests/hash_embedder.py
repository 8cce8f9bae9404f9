"""A deterministic bag-of-words embedder for tests of the retrieval path that need no neural model.

Each word is hashed (stable across runs: blake2b, not Python's salted ``hash``) to one of ``dim`` buckets;
the vector is the L2-normalised bucket counts, so texts sharing words have a higher cosine. It implements the
``Embedder`` protocol for real, so the store, FAISS and the Retriever around it are exercised unchanged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from paperlens.index.embed.base import normalise


class HashEmbedder:
    name = "hash-bow"
    model = "test"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            vector[bucket % self.dim] += 1.0
        return vector

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.stack([self._vector(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]
