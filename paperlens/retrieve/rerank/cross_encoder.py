"""sentence-transformers ``CrossEncoder`` reranker: any relevance cross-encoder by hub name or local folder.

The model reads each (query, passage) pair jointly, which is slower than comparing vectors but much better at
telling the passage that answers from one that merely shares words; it runs only on the top fused candidates.
"""

from __future__ import annotations

import threading
from pathlib import Path

from paperlens.errors import BackendUnavailableError


def looks_like_path(model: str) -> bool:
    """A local folder rather than a hub id ('org/name'): absolute, relative ('./', '../', '~') or existing."""
    return model.startswith(("/", "./", "../", "~", "\\")) or Path(model).expanduser().exists()


class CrossEncoderReranker:
    name = "cross-encoder"

    def __init__(
        self, model: str, *, device: str = "cpu", batch_size: int = 32, max_length: int | None = 512
    ) -> None:
        if not model.strip():
            raise BackendUnavailableError(
                "rerank backend 'cross-encoder' needs rerank.model (a name or a folder)"
            )
        if looks_like_path(model) and not Path(model).expanduser().is_dir():
            raise BackendUnavailableError(f"cross-encoder folder not found: {model}")
        self.model = model
        self.batch_size = batch_size
        self._encoder = _load(model, device, max_length)
        # A fast tokenizer is not safe to call from two threads at once ("Already borrowed"); the service
        # answers searches on a thread pool, so one rerank runs at a time.
        self._lock = threading.Lock()

    def rerank(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        import torch

        pairs = [(query, text) for text in texts]
        with self._lock:
            scores = self._encoder.predict(
                pairs,
                batch_size=self.batch_size,
                show_progress_bar=False,
                # Raw logits: a sigmoid would squash confident scores into ties at 1.0.
                activation_fn=torch.nn.Identity(),
                convert_to_numpy=True,
            )
        return [float(s) for s in scores.reshape(-1)]


def _load(model: str, device: str, max_length: int | None):
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise BackendUnavailableError(f"sentence-transformers is not installed: {exc}") from exc
    path = str(Path(model).expanduser()) if looks_like_path(model) else model
    try:
        encoder = CrossEncoder(path, device=device)
    except Exception as exc:  # hub errors, OSError, ValueError from transformers alike
        raise BackendUnavailableError(f"could not load cross-encoder {model!r}: {exc}") from exc
    if encoder.num_labels != 1:
        # A 2- or 3-label head (NLI, classification) has no single relevance score; forcing num_labels=1
        # would replace the head with random weights, so refuse instead.
        raise BackendUnavailableError(
            f"{model!r} has {encoder.num_labels} output labels; a reranker needs a 1-label relevance head"
        )
    limit = _position_limit(encoder)
    if max_length is not None or limit is not None:
        # Never feed more tokens than the position table holds: truncate pairs instead of crashing.
        encoder.max_seq_length = min(x for x in (max_length, limit, encoder.max_seq_length) if x)
    return encoder


def _position_limit(encoder) -> int | None:
    model = getattr(encoder, "transformers_model", None)
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", None)
    return int(limit) if isinstance(limit, int) and limit > 0 else None
