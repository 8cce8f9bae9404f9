"""The ingestion pipeline: stages in order, each timed, its share of the bar mapped onto the whole job, a
switched-off stage kept in the list at 0 s, and the real chunk stage run on real elements."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperlens.config import ChunkSettings
from paperlens.ingest.pipeline import Pipeline, Work
from paperlens.ingest.stages import ChunkStage, WriteStage
from paperlens.models import Element, ElementKind


class Recording:
    """A stage that records that it ran and reports half-way progress."""

    def __init__(self, name: str, share: float, enabled: bool = True, fail: bool = False) -> None:
        self.name, self.share, self.enabled, self.fail = name, share, enabled, fail
        self.ran = 0

    def run(self, work: Work, progress) -> None:
        self.ran += 1
        progress(0.5)
        if self.fail:
            raise RuntimeError(f"{self.name} failed")


def _work() -> Work:
    return Work(Path("x.pdf"), "d" * 64, "x.pdf", 10, "default")


def test_stages_run_in_order_and_each_is_timed_with_progress_over_the_whole_bar():
    a, b, c = Recording("a", 0.5), Recording("b", 0.25, enabled=False), Recording("c", 0.5)
    seen: list[tuple[str, float]] = []
    snapshots: list[dict] = []
    work = Pipeline([a, b, c]).run(_work(), lambda s, f: seen.append((s, f)), snapshots.append)
    assert (a.ran, b.ran, c.ran) == (1, 0, 1)
    assert list(work.timings) == ["a", "b", "c"] and work.timings["b"] == 0.0
    # The disabled stage's share goes to the others: a fills 0..0.5, c 0.5..1.
    assert seen == [("a", 0.0), ("a", 0.25), ("a", 0.5), ("c", 0.5), ("c", 0.75), ("c", 1.0)]
    assert [list(s) for s in snapshots] == [["a"], ["a", "b", "c"]]


def test_a_failing_stage_raises_with_its_time_recorded_and_later_stages_do_not_run():
    a, b, c = Recording("a", 1), Recording("b", 1, fail=True), Recording("c", 1)
    work = _work()
    with pytest.raises(RuntimeError, match="b failed"):
        Pipeline([a, b, c]).run(work)
    assert c.ran == 0 and set(work.timings) == {"a", "b"}


def test_a_document_stored_meanwhile_ends_the_pipeline_at_the_write_stage():
    after = Recording("after", 1)
    work = Pipeline([WriteStage(lambda _work: False), after]).run(_work())
    assert work.created is False and after.ran == 0


def test_stage_names_must_be_unique():
    with pytest.raises(ValueError, match="repeat"):
        Pipeline([Recording("a", 1), Recording("a", 1)])


def test_the_chunk_stage_chunks_the_elements_it_is_given():
    work = _work()
    work.elements = [
        Element(
            id=f"e{i}",
            document_id=work.document_id,
            page=1,
            bbox=(0, 10 * i, 100, 10 * i + 9),
            kind=ElementKind.TEXT,
            text=f"Sentence number {i} about retrieval. " * 20,
            order=i,
        )
        for i in range(5)
    ]
    Pipeline([ChunkStage(ChunkSettings(size=400, overlap=50))]).run(work)
    assert len(work.chunks) > 1
    assert all(len(c.text) <= 600 for c in work.chunks)
    assert {e for c in work.chunks for e in c.element_ids} == {e.id for e in work.elements}


def test_deferred_stages_run_after_the_write_and_share_the_end_of_the_bar():
    a, late = Recording("a", 3), Recording("late", 1)
    pipeline = Pipeline([a, WriteStage(lambda _work: True)], deferred=[late])
    assert pipeline.defers_work and pipeline.names == ["a", "write", "late"]
    assert pipeline.spans()["late"][0] == pytest.approx(1 - 1 / (3 + 0.03 + 1))
    seen: list[tuple[str, float]] = []
    # Stopped at searchable: the deferred stage has not run and its part of the bar is still to come.
    work = pipeline.run(_work(), lambda s, f: seen.append((s, f)), deferred=False)
    assert late.ran == 0 and "late" not in work.timings and seen[-1][0] == "write" and seen[-1][1] < 1
    pipeline.run_deferred(work, lambda s, f: seen.append((s, f)))
    assert late.ran == 1 and list(work.timings) == ["a", "write", "late"] and seen[-1] == ("late", 1.0)
    # Straight through (the CLI's single file, the bench): both parts in one call.
    assert list(pipeline.run(_work()).timings) == ["a", "write", "late"] and late.ran == 2


def test_deferred_stages_do_not_run_when_the_document_was_stored_meanwhile_or_are_switched_off():
    late = Recording("late", 1)
    Pipeline([WriteStage(lambda _work: False)], deferred=[late]).run(_work())
    assert late.ran == 0
    off = Pipeline([WriteStage(lambda _work: True)], deferred=[Recording("late", 1, enabled=False)])
    assert not off.defers_work and off.spans()["write"] == (0.0, 1.0)
