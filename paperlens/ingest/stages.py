"""The stages of ingestion (see ``pipeline.py``). Each does one thing to a ``Work`` and says how far it got.

Shares of the progress bar follow where the time goes on born-digital papers (parse, describe and embed
dominate); a scanned deck spends its time in OCR, which then fills its larger share.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from paperlens.config import ChunkSettings
from paperlens.ingest.chunk import chunk_elements
from paperlens.ingest.executors.base import Executor
from paperlens.ingest.pipeline import Work

Progress = Callable[[float], None]


def _counted(progress: Progress) -> Callable[[int, int], None]:
    return lambda done, total: progress(done / max(total, 1))


class OcrStage:
    """OCR of the pages that have no text layer, before layout analysis (which reads their lines)."""

    name = "ocr"
    share = 0.15

    def __init__(self, executor: Executor, enabled: bool) -> None:
        self.executor = executor
        self.enabled = enabled

    def run(self, work: Work, progress: Progress) -> None:
        work.ocr_results = self.executor.ocr(work.path, work.document_id, _counted(progress))


class ParseStage:
    """Layout elements in reading order, with crops of figures, tables and formulas."""

    name = "parse"
    share = 0.35
    enabled = True

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def run(self, work: Work, progress: Progress) -> None:
        parsed = self.executor.parse(
            work.path, work.document_id, work.ocr_results, Path(work.filename).stem, _counted(progress)
        )
        work.title, work.pages, work.parse_stats = parsed.title, parsed.pages, parsed.stats
        work.elements = parsed.elements


class DescribeStage:
    """Visual crops -> text (OCR of the crop, caption, table Markdown; or a VLM)."""

    name = "describe"
    share = 0.2

    def __init__(self, executor: Executor, enabled: bool) -> None:
        self.executor = executor
        self.enabled = enabled

    def run(self, work: Work, progress: Progress) -> None:
        work.elements = self.executor.describe(work.elements, _counted(progress))


class DeferredDescribeStage:
    """The describe stage run after the write: the stored document's visuals are described, and the chunks
    whose text that changes (or visuals that had no text before) are embedded and stored again. ``revise(work)``
    does it all; it is the same work as ``DescribeStage``, moved off the path to searchable."""

    name = "describe"
    share = 0.2

    def __init__(self, revise: Callable[[Work, Progress], None], enabled: bool) -> None:
        self.revise = revise
        self.enabled = enabled

    def run(self, work: Work, progress: Progress) -> None:
        self.revise(work, progress)


class ChunkStage:
    name = "chunk"
    share = 0.02
    enabled = True

    def __init__(self, settings: ChunkSettings) -> None:
        self.settings = settings

    def run(self, work: Work, progress: Progress) -> None:
        work.chunks = chunk_elements(work.elements, self.settings)


class EmbedStage:
    name = "embed"
    share = 0.22
    enabled = True

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def run(self, work: Work, progress: Progress) -> None:
        work.vectors = self.executor.embed([c.text for c in work.chunks], progress)


class MultilingualEmbedStage:
    """Passages embedded a second time by the multilingual model, whose index serves questions not in English
    (off when ``embed.multilingual`` is "none").

    A deferred stage: it runs after the write, over the stored chunks, since the text is searchable without it
    and the multilingual model costs about four times the English one per passage. ``add(work)`` embeds
    ``work.chunks`` and keeps the vectors under ``work.chunk_ids``."""

    name = "embed-multilingual"
    share = 0.15

    def __init__(self, add: Callable[[Work], Any], enabled: bool) -> None:
        self.add = add
        self.enabled = enabled

    def run(self, work: Work, progress: Progress) -> None:
        self.add(work)


class ImageEmbedStage:
    """CLIP vectors of visual chunks' crops (off unless CLIP weights are configured)."""

    name = "image-embed"
    share = 0.03

    def __init__(self, embed_visual_chunks: Callable[[Work], dict], enabled: bool) -> None:
        self.embed_visual_chunks = embed_visual_chunks
        self.enabled = enabled

    def run(self, work: Work, progress: Progress) -> None:
        work.image_vectors = self.embed_visual_chunks(work)


class WriteStage:
    """The one writer: the whole document in one store transaction, then its vectors."""

    name = "write"
    share = 0.03
    enabled = True

    def __init__(self, write: Callable[[Work], bool]) -> None:
        self.write = write

    def run(self, work: Work, progress: Progress) -> None:
        work.created = self.write(work)
