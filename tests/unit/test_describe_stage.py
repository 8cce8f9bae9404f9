"""The describe stage and its cache: real files, real SQLite. The describer here is a small deterministic
backend that records what it was asked, so the tests can see which crops reached it."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from PIL import Image

from paperlens.config import DescribeSettings
from paperlens.errors import BackendUnavailableError
from paperlens.ingest.describe import (
    Describer,
    DescribeRequest,
    Description,
    build_describer,
    describe_elements,
)
from paperlens.ingest.describe.cache import DescriptionCache
from paperlens.ingest.describe.offline import OfflineDescriber
from paperlens.models import Element, ElementKind


class RecordingDescriber:
    name = "recording"
    model = "echo-1"
    prompt_version = "p1"
    batch_size = 2

    def __init__(self, fail_after: int | None = None) -> None:
        self.seen: list[str] = []
        self.fail_after = fail_after

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        if self.fail_after is not None and len(self.seen) >= self.fail_after:
            raise RuntimeError("backend went away")
        self.seen += [r.element.id for r in requests]
        return [
            Description(kind=str(r.element.kind), text=f"described {r.image_path.name} | {r.context}")
            for r in requests
        ]


def _png(path: Path, colour: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), colour).save(path)


@pytest.fixture
def layout(tmp_path):
    data = tmp_path / "data"
    colours = ["red", "green", "blue", "yellow", "purple"]
    for i, colour in enumerate(colours):
        _png(data / "crops" / f"c{i}.png", colour)
    _png(data / "crops" / "dup.png", "red")  # same pixels as c0 -> same hash
    elements = [
        Element(id="t0", document_id="d", page=1, bbox=(0, 0, 1, 1), kind=ElementKind.TEXT, text="body"),
        *[
            Element(
                id=f"v{i}",
                document_id="d",
                page=1 + i,
                bbox=(0, 0, 1, 1),
                kind=[ElementKind.FIGURE, ElementKind.TABLE, ElementKind.FORMULA][i % 3],
                caption=f"Caption {i}",
                references=[f"As Figure {i} shows."],
                crop_path=f"crops/c{i}.png",
            )
            for i in range(5)
        ],
        Element(id="nocrop", document_id="d", page=9, bbox=(0, 0, 1, 1), kind=ElementKind.FIGURE),
        Element(
            id="missing",
            document_id="d",
            page=9,
            bbox=(0, 0, 1, 1),
            kind=ElementKind.TABLE,
            crop_path="crops/gone.png",
        ),
    ]
    return data, elements


def test_visual_elements_with_crops_are_described_with_progress(layout, tmp_path):
    data, elements = layout
    describer = RecordingDescriber()
    assert isinstance(describer, Describer)
    progress: list[tuple[int, int]] = []
    out = describe_elements(
        elements, data, describer, tmp_path / "cache", progress=lambda d, t: progress.append((d, t))
    )
    assert out is elements
    by_id = {e.id: e for e in out}
    assert sorted(describer.seen) == ["v0", "v1", "v2", "v3", "v4"]
    assert by_id["v1"].description == "described c1.png | Caption 1\nAs Figure 1 shows."
    assert by_id["v1"].meta["describe"] == {
        "backend": "recording",
        "model": "echo-1",
        "prompt_version": "p1",
        "structured": True,
        "kind": "table",
    }
    assert by_id["t0"].description is None and by_id["nocrop"].description is None
    assert by_id["missing"].description is None  # logged and skipped, not a crash
    assert progress[0] == (0, 6) and progress[-1] == (6, 6)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_second_run_is_served_from_the_cache(layout, tmp_path):
    data, elements = layout
    describe_elements(elements, data, RecordingDescriber(), tmp_path / "cache")
    first = {e.id: e.description for e in elements}
    fresh = [e.model_copy(update={"description": None, "meta": {}}, deep=True) for e in elements]
    again = RecordingDescriber()
    describe_elements(fresh, data, again, tmp_path / "cache")
    assert again.seen == []
    assert {e.id: e.description for e in fresh} == first
    with DescriptionCache(tmp_path / "cache") as cache:
        assert len(cache) == 5


def test_cache_key_includes_model_prompt_version_and_context(layout, tmp_path):
    data, elements = layout
    describe_elements(elements, data, RecordingDescriber(), tmp_path / "cache")

    newer_prompt = RecordingDescriber()
    newer_prompt.prompt_version = "p2"
    describe_elements(elements, data, newer_prompt, tmp_path / "cache")
    assert len(newer_prompt.seen) == 5

    other_model = RecordingDescriber()
    other_model.model = "echo-2"
    describe_elements(elements, data, other_model, tmp_path / "cache")
    assert len(other_model.seen) == 5

    elements[2].caption = "A better caption found by a newer parser"
    same = RecordingDescriber()
    describe_elements(elements, data, same, tmp_path / "cache")
    assert same.seen == ["v1"]
    assert "A better caption" in elements[2].description


def test_identical_crops_with_identical_context_are_described_once(tmp_path):
    data = tmp_path / "data"
    _png(data / "crops" / "a.png", "red")
    _png(data / "crops" / "b.png", "red")
    logos = [
        Element(
            id=f"l{i}", document_id="d", page=i + 1, bbox=(0, 0, 1, 1), kind=ElementKind.FIGURE, crop_path=p
        )
        for i, p in enumerate(["crops/a.png", "crops/b.png"])
    ]
    describer = RecordingDescriber()
    describe_elements(logos, data, describer, tmp_path / "cache")
    assert describer.seen == ["l0"]
    assert logos[0].description == logos[1].description


def test_an_interrupted_stage_resumes_where_it_stopped(layout, tmp_path):
    data, elements = layout
    flaky = RecordingDescriber(fail_after=2)  # batch of 2 succeeds, the next batch raises
    with pytest.raises(RuntimeError):
        describe_elements(elements, data, flaky, tmp_path / "cache")
    assert len(flaky.seen) == 2
    resumed = RecordingDescriber()
    describe_elements(elements, data, resumed, tmp_path / "cache")
    assert sorted(resumed.seen + flaky.seen) == ["v0", "v1", "v2", "v3", "v4"]
    assert all(e.description for e in elements if e.id.startswith("v"))


def test_build_describer_by_name_and_honest_failures():
    assert build_describer(DescribeSettings(backend="none")) is None
    offline = build_describer(DescribeSettings())
    assert isinstance(offline, OfflineDescriber) and isinstance(offline, Describer)
    assert offline.name == "offline"
    with pytest.raises(BackendUnavailableError, match="API key"):
        build_describer(DescribeSettings(backend="gemini", api_key=None))


def _open_cache_and_put(cache_dir: str, barrier, results) -> None:
    from paperlens.ingest.describe.base import Description
    from paperlens.ingest.describe.cache import CacheKey

    barrier.wait()
    try:
        with DescriptionCache(Path(cache_dir)) as cache:
            cache.put(CacheKey("c", "b", "m", "p", str(os.getpid())), Description(kind="figure", summary="x"))
        results.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(repr(exc))


@pytest.mark.slow
def test_worker_processes_opening_a_new_cache_at_once_all_succeed(tmp_path):
    """Parser workers describe side by side and open one cache file together; switching a new file to WAL
    used to fail in some of them with "database is locked" (this test failed on that code)."""
    context = multiprocessing.get_context("spawn")
    outcomes = []
    for round_ in range(12):
        barrier, results = context.Barrier(6), context.Queue()
        procs = [
            context.Process(target=_open_cache_and_put, args=(str(tmp_path / f"c{round_}"), barrier, results))
            for _ in range(6)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        outcomes += [results.get(timeout=10) for _ in procs]
        with DescriptionCache(tmp_path / f"c{round_}") as cache:
            assert len(cache) == 6
    assert outcomes == ["ok"] * 72
