"""Queries and passages through ONNX Runtime: the same transformer, exported from the loaded weights, same vector.

A search embeds one short text, where torch's per-operator overhead and its small-matrix kernels dominate:
on 2 cores (one thread) the bundled MiniLM took 20-24 ms a query in torch and 9 ms in ONNX Runtime, with
vectors equal to 2e-7. Only the transformer is exported; pooling, dense and normalise layers still run in
torch on its output, so any sentence-transformers pipeline over a Hugging Face encoder gets the same vector.
Passages go through the same graph in batches sorted by length (``encode_batch``), so a batch pads to about
its own texts' length; ingestion measured them against torch in benchmarks/ingest_throughput.py.

The export takes a few seconds, so it is done on the first query (the service makes one at startup), kept
per process and written to ``cache_dir`` keyed by the model's files and the library versions; a later
process loads the file (about 0.8 s).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from paperlens.index.atomic import replace_atomically

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Bump when the exported graph changes shape, so old cache files are not reused (2: fused attention).
EXPORT_FORMAT = 2
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_sessions: dict[tuple[str, int], Any] = {}
_sessions_lock = threading.Lock()


class UnsupportedModelError(RuntimeError):
    """The pipeline's first module is not a plain Hugging Face text encoder, so it stays in torch."""


def _preprocess(model: SentenceTransformer, texts: list[str]) -> dict[str, Any]:
    # sentence-transformers 6 renamed tokenize() to preprocess(); both return the features dict.
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return prepare(texts)


def _encoder(model: SentenceTransformer) -> Any:
    """The Hugging Face model to export; raises when ``encode()`` does more than this path reproduces."""
    import transformers

    # encode() prepends a default prompt and cuts vectors to truncate_dim; this path does neither.
    for setting in ("default_prompt_name", "truncate_dim"):
        if getattr(model, setting, None):
            raise UnsupportedModelError(f"the model sets {setting}")
    first = model[0]
    encoder = getattr(first, "auto_model", None) or getattr(first, "model", None)
    if not isinstance(encoder, transformers.PreTrainedModel):
        raise UnsupportedModelError(f"first module {type(first).__name__} holds no Hugging Face model")
    text = getattr(first, "modality_config", {}).get("text", {"method": "forward"})
    if text.get("method") != "forward" or text.get("method_output_name", "last_hidden_state") not in (
        "last_hidden_state",
        ("last_hidden_state",),
        ["last_hidden_state"],
    ):
        raise UnsupportedModelError(f"text is encoded by {text!r}, not the model's last hidden state")
    return encoder


def _input_names(features: dict[str, Any]) -> list[str]:
    import torch

    tensors = [name for name, value in features.items() if isinstance(value, torch.Tensor)]
    unknown = set(tensors) - set(_INPUTS)
    if unknown:
        raise UnsupportedModelError(
            f"the tokenizer gives inputs this export does not handle: {sorted(unknown)}"
        )
    return [name for name in _INPUTS if name in tensors]


def cache_key(source: str) -> str:
    """What the exported graph depends on: the model's files (name, size, mtime) and the exporting libraries."""
    import torch
    import transformers

    parts: list[Any] = [EXPORT_FORMAT, source, torch.__version__, transformers.__version__]
    folder = Path(source)
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            parts.append([str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def export(model: SentenceTransformer) -> tuple[bytes, list[str]]:
    """The model's transformer as ONNX bytes (batch and length dynamic) and the names of its inputs."""
    import torch

    encoder = _encoder(model)
    # Two texts of different lengths, so the traced graph applies the padding mask rather than skipping it.
    features = _preprocess(model, ["a", "an example sentence, longer than the first one"])
    names = _input_names(features)

    class Forward(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.encoder(**dict(zip(names, inputs, strict=True)), return_dict=False)[0]

    def traced() -> bytes:
        buffer = io.BytesIO()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation chatter; failures still raise
            torch.onnx.export(
                Forward().eval(),
                tuple(features[name] for name in names),
                buffer,
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "token_embeddings"]},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter needs only the onnx package, not onnxscript
            )
        return buffer.getvalue()

    plain = traced()
    feeds = {name: features[name].numpy().astype(np.int64) for name in names}
    return _fused(encoder, traced, plain, feeds) or plain, names


def _fused(encoder: Any, traced: Callable[[], bytes], plain: bytes, feeds: dict[str, Any]) -> bytes | None:
    """The graph with ONNX Runtime's transformer fusions (attention, layer norms, GELU each one kernel): the
    bundled MiniLM embeds passages ~1.2x faster on CPU. The optimizer knows attention written out in full, not
    torch's fused kernel, so the encoder is traced again with eager attention. The result must give the plain
    graph's output on the sample texts; otherwise (an architecture the optimizer does not know) None."""
    import onnx
    import onnxruntime as ort

    config = encoder.config
    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
    switch = getattr(encoder, "set_attn_implementation", None)
    before = getattr(config, "_attn_implementation", None)
    if not (heads and hidden and switch and before):
        return None
    try:
        from onnxruntime.transformers import optimizer

        switch("eager")
        try:
            eager = traced()
        finally:
            switch(before)
        fused = optimizer.optimize_model(
            onnx.load_from_string(eager), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        )
        if not fused.get_fused_operator_statistics().get("Attention"):
            return None
        graph = fused.model.SerializeToString()

        def run(model: bytes) -> np.ndarray:
            session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
            return session.run(None, feeds)[0]

        mask = feeds["attention_mask"][:, :, None].astype(bool)
        if not np.allclose(np.where(mask, run(graph), 0), np.where(mask, run(plain), 0), atol=1e-4):
            log.warning(
                "the fused ONNX graph of %s differs from the plain one; keeping the plain one", type(encoder)
            )
            return None
        return graph
    except Exception as exc:  # an optimizer or exporter that cannot handle this model: the plain graph serves
        log.warning("ONNX transformer fusions unavailable for %s (%s)", type(encoder).__name__, exc)
        return None


def cached_session(path: Path | None, threads: int, export_graph: Callable[[], bytes], what: str) -> Any:
    """An ONNX Runtime session (CPU, ``threads`` intra-op threads, 0: all cores) of the graph cached at ``path``,
    or of ``export_graph()`` when there is none or it is unreadable; an exported graph is written to ``path`` for
    the next process."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(threads, 0)
    options.inter_op_num_threads = 1
    # Idle pool threads would otherwise spin on a core the keyword search needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")

    def session(onnx_bytes: bytes) -> Any:
        return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])

    if path is not None and path.exists():
        try:
            return session(path.read_bytes())
        except Exception as exc:  # truncated or foreign file: export again over it
            log.warning("cached %s %s is unreadable (%s); exporting again", what, path, exc)
    onnx_bytes = export_graph()
    opened = session(onnx_bytes)
    if path is not None:
        try:
            replace_atomically(path, lambda tmp: Path(tmp).write_bytes(onnx_bytes))
        except OSError as exc:  # a read-only data dir costs the next process an export, nothing more
            log.warning("could not cache the %s at %s: %s", what, path, exc)
    return opened


class OnnxQueryEncoder:
    """Embeds texts like ``model.encode(texts)`` would, with the transformer run by ONNX Runtime."""

    def __init__(
        self, model: SentenceTransformer, source: str, threads: int, cache_dir: Path | None = None
    ) -> None:
        _encoder(model)  # also when the graph comes from the cache: the checks are on the pipeline
        self._model = model
        self._tail = list(model)[1:]
        key = cache_key(source)
        with _sessions_lock:
            cached = _sessions.get((key, threads))
            if cached is None:
                cached = _sessions[(key, threads)] = self._open(model, key, threads, cache_dir)
        self._session, self._names = cached

    @staticmethod
    def _open(
        model: SentenceTransformer, key: str, threads: int, cache_dir: Path | None
    ) -> tuple[Any, list[str]]:
        path = cache_dir / f"query-encoder-{key}.onnx" if cache_dir else None
        session = cached_session(path, threads, lambda: export(model)[0], "ONNX query encoder")
        return session, _input_names(_preprocess(model, ["a"]))

    def encode(self, text: str) -> np.ndarray:
        return self._run([text])[0]

    def encode_batch(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """One vector per text, in order. Texts are grouped longest first, so each batch is padded to about
        its own texts' length rather than the longest text of the whole call."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        parts: dict[int, np.ndarray] = {}
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            for i, vector in zip(chosen, self._run([texts[i] for i in chosen]), strict=True):
                parts[i] = vector
        return np.stack([parts[i] for i in range(len(texts))]) if texts else np.zeros((0, 0), np.float32)

    def _run(self, texts: list[str]) -> np.ndarray:
        import torch

        features = _preprocess(self._model, texts)
        feeds = {name: features[name].numpy().astype(np.int64) for name in self._names}
        hidden = self._session.run(None, feeds)[0]
        features["token_embeddings"] = torch.from_numpy(hidden)
        with torch.inference_mode():
            for module in self._tail:
                features = module(features)
        return features["sentence_embedding"].numpy()


#: The same encoder serves passages as well as queries.
OnnxEncoder = OnnxQueryEncoder
