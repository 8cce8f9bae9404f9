"""Ingestion as an explicit pipeline of stages: OCR -> parse -> chunk -> embed -> image-embed -> write, then the
deferred describe -> embed-multilingual (describe goes before chunk instead with ``ingest.defer_describe`` off).

Each stage is a small object with a name, its share of the job's progress bar and an ``enabled`` flag; the
pipeline times every stage, so an ingestion's result says where its seconds went. A switched-off stage stays
in the list (it reports 0 s and its share of the bar is skipped), so nothing downstream checks for ``None``.

OCR runs ahead of layout analysis: the layout of a scanned page is built on its OCR lines, and doing the OCR
of all image-only pages first is what lets them be read side by side (by warm local workers, or Ray tasks).
The heavy, untrusted work of the first stages goes through an ``Executor`` (``executors.py``), so the same
pipeline runs with warm local worker processes or on a Ray cluster.

Stages after the write are *deferred*: the document is searchable once the write commits, and what they add
(the visuals' descriptions, the multilingual vectors) can follow later, when the worker has no document waiting
to become searchable. The service runs them as the job's ``enriching`` state; ``Pipeline.run(...,
deferred=True)`` runs them straight on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from paperlens.models import Chunk, Element

#: progress(stage name, fraction of the whole job in 0..1)
StageProgress = Callable[[str, float], None]


@dataclass
class Work:
    """One document on its way through the stages; each stage fills in its part."""

    path: Path
    document_id: str
    filename: str
    size: int
    collection: str
    ocr_results: dict[int, list] = field(default_factory=dict)
    title: str = ""
    pages: int = 0
    parse_stats: dict = field(default_factory=dict)
    elements: list[Element] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    vectors: Any = None  # float32 array, one row per chunk
    image_vectors: dict[int, Any] = field(default_factory=dict)  # position in chunks -> CLIP vector
    created: bool = True  # False when the write stage found the document stored already (a concurrent ingest)
    chunk_ids: list[int] = field(default_factory=list)  # the store's ids of ``chunks``, once written
    timings: dict[str, float] = field(default_factory=dict)


class Stage(Protocol):
    name: str
    share: float  # of the progress bar (the shares of a pipeline's stages sum to 1)
    enabled: bool

    def run(self, work: Work, progress: Callable[[float], None]) -> None: ...


class Pipeline:
    """Runs stages in order over one ``Work``, timing each and mapping its progress onto the whole bar.

    ``stages`` make a document searchable (the last of them writes it); ``deferred`` stages run after that and
    only add to what is stored. Both share one progress bar, the deferred stages at its end."""

    def __init__(self, stages: Sequence[Stage], deferred: Sequence[Stage] = ()) -> None:
        names = [s.name for s in [*stages, *deferred]]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names repeat: {names}")
        self.stages = list(stages)
        self.deferred = list(deferred)

    @property
    def every(self) -> list[Stage]:
        """All stages in the order they run: those to searchable, then the deferred ones."""
        return [*self.stages, *self.deferred]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.every]

    @property
    def defers_work(self) -> bool:
        """Whether any deferred stage is switched on (when none is, a document is done once searchable)."""
        return any(s.enabled for s in self.deferred)

    def stage(self, name: str) -> Stage:
        for stage in self.every:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def spans(self) -> dict[str, tuple[float, float]]:
        """Each enabled stage's part of the bar: its share, scaled so the enabled shares fill 0..1."""
        total = sum(s.share for s in self.every if s.enabled) or 1.0
        spans, start = {}, 0.0
        for stage in self.every:
            width = stage.share / total if stage.enabled else 0.0
            spans[stage.name] = (start, min(1.0, start + width))
            start += width
        return spans

    def run(
        self,
        work: Work,
        progress: StageProgress | None = None,
        on_timings: Callable[[dict[str, float]], None] | None = None,
        deferred: bool = True,
    ) -> Work:
        """Run the stages in order; ``on_timings(timings so far)`` after each stage (a job shows them live).

        ``deferred=False`` stops once the document is written (searchable); ``run_deferred`` does the rest."""
        self._run(self.stages, work, progress, on_timings)
        if deferred and work.created:
            self._run(self.deferred, work, progress, on_timings)
        return work

    def run_deferred(
        self,
        work: Work,
        progress: StageProgress | None = None,
        on_timings: Callable[[dict[str, float]], None] | None = None,
    ) -> Work:
        """The deferred stages alone, over a stored document (``work.chunks`` and ``work.chunk_ids`` filled)."""
        return self._run(self.deferred, work, progress, on_timings)

    def _run(
        self,
        stages: Sequence[Stage],
        work: Work,
        progress: StageProgress | None,
        on_timings: Callable[[dict[str, float]], None] | None,
    ) -> Work:
        spans = self.spans()
        for stage in stages:
            if not stage.enabled:
                work.timings[stage.name] = 0.0
                continue
            lo, hi = spans[stage.name]

            def report(fraction: float, name: str = stage.name, lo: float = lo, hi: float = hi) -> None:
                if progress:
                    progress(name, lo + (hi - lo) * max(0.0, min(1.0, fraction)))

            report(0.0)
            started = time.perf_counter()
            try:
                stage.run(work, report)
            finally:
                work.timings[stage.name] = round(time.perf_counter() - started, 4)
                if on_timings:
                    on_timings(dict(work.timings))
            report(1.0)
            if not work.created:  # the document is stored already: nothing after this stage has work
                break
        return work
