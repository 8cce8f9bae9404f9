"""The local executor: warm, isolated parser processes on this machine; describe and embed in-process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperlens.config import Settings
from paperlens.index.embed.base import Embedder
from paperlens.ingest.describe.base import Describer
from paperlens.ingest.executors.base import CountProgress
from paperlens.ingest.executors.tasks import can_describe_in_workers, describe_share, shares_of
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
        # Only when OCR ran ahead: a parse_fn of the caller's (tests) need not know the argument.
        extra: dict[str, Any] = {"ocr_results": ocr_results} if ocr_results else {}
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
        """Visuals are described side by side in the warm workers when the backend can be built there (the
        offline one: OCR of each crop, seconds per crop, the costliest stage on born-digital papers)."""
        from paperlens.ingest.describe import describe_elements

        assert self.describer is not None
        cache_dir = self.settings.cache_dir / "describe"
        visuals = [e for e in elements if e.is_visual and e.crop_path]
        pool = self.pool
        if pool.size < 2 or len(visuals) < 2 or not can_describe_in_workers(self.settings.describe):
            return describe_elements(elements, self.settings.data_dir, self.describer, cache_dir, progress)
        described: dict[str, Element] = {}
        for share in pool.map_shares(
            describe_share,
            shares_of(visuals, pool.size),
            self.settings.data_dir,
            self.settings.describe.model_dump_json(),
            cache_dir,
            timeout_s=self.settings.ingest.parse_timeout_s,
            per_unit_timeout_s=self.settings.ingest.parse_timeout_per_page_s,
            progress=progress,
        ):
            described.update((e.id, e) for e in share)
        return [described.get(e.id, e) for e in elements]

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
