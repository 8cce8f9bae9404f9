"""Ingestion on a real local Ray instance (one per test session, see conftest): the same elements, chunks and
vectors as the local executor; a Ray worker killed mid-document is retried with nothing lost or duplicated;
a task that keeps dying becomes the job's typed error; the service with executor = ray keeps its job API."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest
from pdf_factory import make_paper_pdf, make_scanned_pdf

from paperlens.config import load_settings
from paperlens.engine import Engine
from paperlens.errors import IngestTaskFailedError

pytestmark = pytest.mark.slow


def _settings(data_dir, executor: str):
    # Tables and figures are cropped and described, the scan OCR'd: every stage that runs on Ray has work.
    return load_settings(data_dir=data_dir, ingest={"executor": executor, "dpi": 100, "ocr_dpi": 100})


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory, bench_papers_or_none):
    folder = tmp_path_factory.mktemp("ray-pdfs")
    paths = [
        make_paper_pdf(folder / "paper.pdf").path,
        make_scanned_pdf(
            folder / "scan.pdf", lines=["The quick brown fox", "jumps over the lazy dog"], pages=3
        ),
    ]
    if bench_papers_or_none is not None:
        paths.append(bench_papers_or_none / "1903.10676.pdf")
    return paths


@pytest.fixture(scope="module")
def bench_papers_or_none():
    """A real paper from ../shared/bench/papers when it is there (the generated ones always are)."""
    papers = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "papers"
    return papers if (papers / "1903.10676.pdf").is_file() else None


def _library(engine: Engine) -> dict:
    """Everything ingestion stored, in a comparable form: elements, chunks and their vectors per document."""
    store = engine.store
    ids = store.chunk_ids()
    chunks = store.get_chunks(list(ids))
    vectors = dict(zip(*next(store.iter_vectors(batch=1_000_000)), strict=True)) if len(ids) else {}
    library = {}
    for doc in store.list_documents():
        elements = [
            (e.id, e.kind.value, e.page, e.bbox, e.text, e.caption, e.description, e.crop_path, e.markdown)
            for e in store.list_elements(doc.id)
        ]
        mine = [c for c in (chunks[i] for i in ids) if c.document_id == doc.id]
        library[doc.id] = {
            "title": doc.title,
            "pages": doc.pages,
            "elements": elements,
            "chunks": [(c.page, c.kind.value, c.text, c.element_ids) for c in mine],
            "vectors": np.stack([vectors[c.id] for c in mine]),
        }
    return library


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for doc in a:
        left, right = a[doc], b[doc]
        assert (left["title"], left["pages"]) == (right["title"], right["pages"])
        assert left["elements"] == right["elements"]
        assert left["chunks"] == right["chunks"]
        assert np.allclose(left["vectors"], right["vectors"], atol=1e-5)


@pytest.fixture(scope="module")
def local_library(tmp_path_factory, pdfs):
    engine = Engine(_settings(tmp_path_factory.mktemp("local"), "local"))
    try:
        for path in pdfs:
            assert engine.ingest_path(path).created
        return _library(engine)
    finally:
        engine.close()


def test_ray_ingests_the_same_elements_chunks_and_vectors_as_local(
    ray_instance, tmp_path, pdfs, local_library
):
    settings = _settings(tmp_path / "data", "ray")
    engine = Engine(settings)
    try:
        assert engine.executor.name == "ray"
        results = [engine.ingest_path(path) for path in pdfs]
        assert all(r.created for r in results)
        assert results[1].timings["ocr"] > 0  # the scan was OCR'd by Ray tasks
        _same(_library(engine), local_library)
        # Crops came back from the workers into this data directory, where they are served from.
        for doc in local_library.values():
            for element in doc["elements"]:
                if element[7]:
                    assert (settings.data_dir / element[7]).is_file()
        # Re-submitting is a no-op: the id is the content hash.
        assert not engine.ingest_path(pdfs[0]).created
        assert (
            engine.store.chunk_count()
            == engine.vectors.ntotal
            == sum(len(d["chunks"]) for d in local_library.values())
        )
    finally:
        engine.close()
    assert ray_instance.is_initialized()  # an executor that found Ray running leaves it running


def _engine_with_parser(settings, parse_fn) -> Engine:
    from paperlens.ingest.executors.ray import RayExecutor

    engine = Engine(settings)
    engine.executor = RayExecutor(settings, engine.embedder, engine.describer, parse_fn=parse_fn)
    engine.pipeline = engine._build_pipeline()
    return engine


def test_a_ray_worker_killed_mid_document_is_retried_without_loss_or_duplication(
    ray_instance, tmp_path, pdfs, local_library
):
    from ray_kill import kill_worker_once

    marker = tmp_path / "killed"
    settings = _settings(tmp_path / "data", "ray")
    engine = _engine_with_parser(settings, functools.partial(kill_worker_once, marker=str(marker)))
    try:
        result = engine.ingest_path(pdfs[0])
        killed = int(marker.read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(killed, 0)  # that Ray worker really died, mid-document
        assert result.created
        library = _library(engine)
        assert list(library) == [result.document_id] and engine.store.chunk_count() == engine.vectors.ntotal
        _same(library, {result.document_id: local_library[result.document_id]})
    finally:
        engine.close()


def test_a_task_that_keeps_dying_fails_with_a_typed_error_and_stores_nothing(ray_instance, tmp_path, pdfs):
    from ray_kill import kill_worker_always

    settings = load_settings(data_dir=tmp_path / "data", ingest={"executor": "ray", "ray_max_retries": 1})
    engine = _engine_with_parser(settings, kill_worker_always)
    try:
        with pytest.raises(IngestTaskFailedError) as info:
            engine.ingest_path(pdfs[0])
        assert info.value.code == "ingest_task_failed"
        assert engine.store.list_documents() == [] and engine.store.chunk_count() == 0
        assert not (settings.crops_dir).exists() or not any(settings.crops_dir.iterdir())
    finally:
        engine.close()


def test_the_service_with_executor_ray_keeps_its_job_api(ray_instance, tmp_path, pdfs):
    from live_server import live_server

    with live_server(_settings(tmp_path / "data", "ray")) as server, server.client() as client:
        with open(pdfs[0], "rb") as fh:
            r = client.post("/v1/documents", files={"file": ("paper.pdf", fh, "application/pdf")})
        assert r.status_code == 202, r.text
        job = server.wait_for_job(client, r.json()["job_id"])
        assert job["status"] == "succeeded" and job["progress"] == 1.0, job
        assert job["timings"]["parse"] > 0 and job["timings"]["embed"] > 0
        assert client.get("/v1/health").json()["backends"]["ingest"]["name"] == "ray"
        hits = client.post("/v1/search", json={"query": "ruled table with a header row", "k": 3}).json()[
            "hits"
        ]
        assert hits and hits[0]["document_id"] == r.json()["document_id"]


def test_bulk_ingest_on_ray_lists_failures_and_resumes(ray_instance, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from paperlens.cli import app

    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "library"
    folder.mkdir()
    make_paper_pdf(folder / "a.pdf")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"garbage " * 100)

    first = CliRunner().invoke(app, ["ingest", "--executor", "ray", str(folder), "--json"])
    assert first.exit_code == 1, first.output
    rows = {r["file"].rsplit("/", 1)[-1]: r for r in json.loads(first.stdout)}
    assert rows["a.pdf"]["created"] is True and rows["a.pdf"]["timings"]["parse"] > 0
    assert rows["broken.pdf"]["error"]["code"] == "corrupt_pdf"

    again = CliRunner().invoke(app, ["ingest", "--executor", "ray", str(folder)])
    assert again.exit_code == 1
    assert "pages/s" in again.stderr
    assert "a.pdf: already ingested" in again.stderr  # stored documents are skipped: a stopped run resumes
    said = " ".join(again.stdout.split())
    assert "failed:" in said and "broken.pdf" in said and "corrupt_pdf" in said  # failures listed at the end
    assert "paperlens-ray-" not in said  # no path on a worker leaks into the message
