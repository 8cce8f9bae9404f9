"""Searchable first: an upload's text is found as soon as its document is written, its deferred stages (the
multilingual vectors) follow when no upload waits, the job says which state it is in, and a restart finishes
what a crash interrupted. Real HTTP against the real app; the only thing held back is the deferred work itself,
so the state in between can be looked at."""

from __future__ import annotations

import threading
import time

import pytest
from live_server import live_server
from pdf_factory import make_paper_pdf
from persian_pdfs import make_topics_pdf

from paperlens.config import load_settings
from paperlens.engine import Engine


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    return make_paper_pdf(tmp_path_factory.mktemp("pdfs") / "paper.pdf")


@pytest.fixture(scope="module")
def topics(tmp_path_factory):
    return make_topics_pdf(tmp_path_factory.mktemp("pdfs") / "topics.pdf")


def _upload(client, path) -> dict:
    with open(path, "rb") as fh:
        r = client.post("/v1/documents", files={"file": (path.name, fh, "application/pdf")})
    assert r.status_code == 202, r.text
    return r.json()


def _visuals(client, document_id: str) -> list[dict]:
    elements = client.get(f"/v1/documents/{document_id}/elements").json()["elements"]
    return [e for e in elements if e["kind"] in ("figure", "table", "formula") and e["image_url"]]


def _wait_for_status(client, job_id: str, statuses: tuple[str, ...], timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        assert job["status"] != "failed", job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} never reached {statuses}")


def test_text_is_searchable_before_the_deferred_stages_and_uploads_go_first(tmp_path, paper, topics):
    settings = load_settings(data_dir=tmp_path / "data")
    with live_server(settings) as server:
        engine = server.app.state.engine
        gate, enriching = threading.Event(), []
        real_enrich = engine.enrich

        def held_enrich(document_id, **kwargs):
            enriching.append(document_id)
            assert gate.wait(120), "the test never released the deferred stages"
            return real_enrich(document_id, **kwargs)

        engine.enrich = held_enrich
        with server.client() as client:
            first = _upload(client, paper.path)
            job = _wait_for_status(client, first["job_id"], ("enriching",))
            # Searchable: found by search, its time recorded, not finished, the bar short of its end.
            assert job["searchable_at"] is not None and job["finished_at"] is None
            assert 0 < job["progress"] < 1 and "embed-multilingual" not in job["timings"]
            assert job["timings"]["write"] > 0
            hits = client.post(
                "/v1/search",
                json={"query": paper.table.caption, "k": 3, "document_ids": [first["document_id"]]},
            ).json()["hits"]
            assert hits and hits[0]["document_id"] == first["document_id"]
            assert client.get("/v1/health").json()["multilingual_vectors"] == 0
            # Visuals are searchable by their caption, not yet described.
            visuals = _visuals(client, first["document_id"])
            assert visuals and all(v["description"] is None for v in visuals)
            active = {j["id"]: j["status"] for j in client.get("/v1/jobs").json()["jobs"]}
            assert active == {first["job_id"]: "enriching"}

            # A second upload does not wait behind the first's deferred stages.
            second = _upload(client, topics)
            job2 = _wait_for_status(client, second["job_id"], ("searchable", "enriching"))
            assert job2["searchable_at"] >= job["searchable_at"]
            assert client.get(f"/v1/jobs/{first['job_id']}").json()["status"] == "enriching"

            gate.set()
            done = [server.wait_for_job(client, b["job_id"]) for b in (first, second)]
            health = client.get("/v1/health").json()
            described = [v for v in _visuals(client, first["document_id"]) if v["description"]]
            # The description is in the table's chunk now: words only it holds find the table.
            table = next(v for v in described if v["kind"] == "table")
            only_described = [
                w
                for w in table["description"].split()
                if w.isalpha() and len(w) > 3 and w.lower() not in (table["caption"] or "").lower()
            ]
            hits = client.post(
                "/v1/search",
                json={"query": " ".join(only_described[:6]), "k": 3, "kinds": ["table"]},
            ).json()["hits"]
        assert described and only_described and hits[0]["element_id"] == table["id"]
        for finished in done:
            assert finished["status"] == "succeeded" and finished["progress"] == 1.0
            assert finished["finished_at"] >= finished["searchable_at"]
            assert finished["timings"]["embed-multilingual"] > 0 and finished["timings"]["parse"] > 0
            assert finished["timings"]["describe"] >= 0
        assert sorted(enriching) == sorted([first["document_id"], second["document_id"]])
        assert health["multilingual_vectors"] == health["chunks"] > 0


def test_deferred_stages_wait_while_an_upload_of_this_process_is_running(tmp_path, paper, topics):
    """On the same cores, enriching one document would slow down the upload another runner is making
    searchable: the deferred stages start only once no upload is queued or running here."""
    settings = load_settings(data_dir=tmp_path / "data")
    with live_server(settings) as server:
        engine = server.app.state.engine
        gate, enriched = threading.Event(), []
        real_ingest, real_enrich = engine.ingest_path, engine.enrich

        def held_ingest(path, **kwargs):
            if kwargs.get("filename") == paper.path.name:
                assert gate.wait(120), "the test never released the upload"
            return real_ingest(path, **kwargs)

        def recorded_enrich(document_id, **kwargs):
            enriched.append(document_id)
            return real_enrich(document_id, **kwargs)

        engine.ingest_path, engine.enrich = held_ingest, recorded_enrich
        with server.client() as client:
            slow = _upload(client, paper.path)
            quick = _upload(client, topics)
            _wait_for_status(client, quick["job_id"], ("searchable", "enriching"))
            time.sleep(2.5)  # the idle runner looks for work every second
            assert client.get(f"/v1/jobs/{quick['job_id']}").json()["status"] == "searchable"
            assert client.get(f"/v1/jobs/{slow['job_id']}").json()["status"] == "running"
            assert enriched == []

            gate.set()
            done = [server.wait_for_job(client, b["job_id"]) for b in (slow, quick)]
        assert [job["status"] for job in done] == ["succeeded", "succeeded"]
        assert sorted(enriched) == sorted([slow["document_id"], quick["document_id"]])


def test_a_restart_finishes_the_deferred_stages_a_crash_interrupted(tmp_path, paper):
    data = tmp_path / "data"
    engine = Engine(load_settings(data_dir=data))
    try:
        # What a process killed while enriching leaves: the document stored, its job "enriching", and no
        # multilingual vectors for its chunks.
        result = engine.ingest_path(paper.path, deferred=False)
        assert engine.multilingual is not None and engine.multilingual.ntotal == 0
        engine.store.create_job("j1", result.document_id, str(paper.path), paper.path.name, "default")
        engine.store.claim_job("w", 60, 3)
        engine.store.update_job("j1", status="searchable", stage="searchable", searchable_at=123.0)
        assert engine.store.claim_enrichment("w", 60).status == "enriching"
    finally:
        engine.close()
    # Opening again does not embed the waiting document's chunks before it can serve: its deferred stage will.
    reopened = Engine(load_settings(data_dir=data))
    try:
        assert reopened.multilingual is not None and reopened.multilingual.ntotal == 0
    finally:
        reopened.close()

    with live_server(load_settings(data_dir=data)) as server, server.client() as client:
        job = server.wait_for_job(client, "j1")
        health = client.get("/v1/health").json()
    assert job["status"] == "succeeded" and job["searchable_at"] == 123.0
    assert job["finished_at"] > 123.0 and job["attempts"] == 1
    assert health["multilingual_vectors"] == health["chunks"] > 0
