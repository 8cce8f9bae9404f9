"""The local executor: warm, isolated parser processes on this machine; describe and embed in-process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from paperlens.config import Settings
from paperlens.index.embed.base import Embedder
from paperlens.ingest.describe.base import Describer
from paperlens.ingest.executors.base import CountProgress
from paperlens.ingest.isolate import parse_pdf_isolated, worker_pool
from paperlens.ingest.ocr import ocr_document
from paperlens.ingest.parse import ParsedDocument
from paperlens.models import Element


class LocalExecutor:
    name = "local"

    def __init__(self, settings: Settings, embedder: Embedder, describer: Describer | None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.describer = describer

    @property
    def pool(self):
        return worker_pool(self.settings.ingest)

    def warm_up(self) -> None:
        self.pool.warm_up()

    def ocr(self, path: Path, document_id: str, progress: CountProgress) -> dict[int, list]:
        return ocr_document(path, self.settings.ingest, self.pool, progress)

    def parse(
        self, path: Path, document_id: str, ocr_results: dict[int, list], title: str, progress: CountProgress
    ) -> ParsedDocument:
        extra = {"ocr_results": ocr_results} if ocr_results else {}
        return parse_pdf_isolated(
            path,
            document_id,
            self.settings.crops_dir,
            self.settings.ingest,
            progress=progress,
            fallback_title=title,
            **extra,
        )

    def describe(self, elements: list[Element], progress: CountProgress) -> list[Element]:
        from paperlens.ingest.describe import describe_elements

        assert self.describer is not None
        return describe_elements(
            elements, self.settings.data_dir, self.describer, self.settings.cache_dir / "describe", progress
        )

    def embed(self, texts: Sequence[str], progress: Callable[[float], None]) -> np.ndarray:
        return embed_in_batches(self.embedder, texts, self.settings.embed.batch_size, progress)

    def close(self) -> None:
        """The worker pool is shared by every engine in the process and outlives this one."""


def embed_in_batches(
    embedder: Embedder, texts: Sequence[str], batch_size: int, progress: Callable[[float], None]
) -> np.ndarray:
    """Vectors of ``texts`` in their order, embedded in groups so the bar moves on long documents."""
    step = max(batch_size * 4, 64)
    parts = []
    for start in range(0, len(texts), step):
        parts.append(embedder.embed_passages(texts[start : start + step]))
        progress(min(1.0, (start + step) / max(len(texts), 1)))
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.concatenate(parts)
