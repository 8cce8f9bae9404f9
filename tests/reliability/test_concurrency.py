"""Many clients at once against a live server: 20 concurrent uploads and 50 concurrent searches while documents
are being ingested. Every request succeeds or gets a clear 429 with Retry-After; afterwards the index is
consistent (FAISS ids == the store's chunk ids, FTS rows == chunks) and every accepted document is searchable.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from live_server import live_server, upload
from reliability_kit import live_vector_ids, marked_pdf, service_settings, store_counts

pytestmark = pytest.mark.slow  # dozens of real ingestions, each in its own parser process

UPLOADS, SEARCHES = 20, 50
QUEUE_LIMIT = 6
SEED_MARKER = "seedocelot"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = service_settings(tmp_path_factory.mktemp("concurrency-data"), queue_limit=QUEUE_LIMIT)
    with live_server(settings) as srv:
        with srv.client() as client:
            pdf = marked_pdf(tmp_path_factory.mktemp("seed") / "seed.pdf", SEED_MARKER)
            r = upload(client, pdf.read_bytes(), "seed.pdf")
            assert srv.wait_for_job(client, r.json()["job_id"])["status"] == "succeeded"
        yield srv


def _jobs_running(server) -> int:
    jobs = store_counts(server.settings.data_dir)["jobs"].values()
    return sum(j["status"] in ("queued", "running") for j in jobs)


def test_concurrent_uploads_and_searches_all_succeed_or_get_429(server, tmp_path):
    pdfs = [marked_pdf(tmp_path / f"c{i}.pdf", f"burstword{i:02d}").read_bytes() for i in range(UPLOADS)]
    start = threading.Barrier(UPLOADS + SEARCHES)
    searched_while_ingesting = []

    def do_upload(i: int):
        with server.client() as client:
            start.wait()
            return i, upload(client, pdfs[i], f"c{i}.pdf")

    def do_search(i: int):
        rng = random.Random(i)
        with server.client() as client:
            start.wait()
            time.sleep(rng.uniform(0.0, 3.0))  # spread over the time the uploads are being ingested
            busy = _jobs_running(server) > 0
            r = client.post("/v1/search", json={"query": f"{SEED_MARKER} burstword{i % UPLOADS:02d}", "k": 5})
            searched_while_ingesting.append(busy)
            return r

    with ThreadPoolExecutor(UPLOADS + SEARCHES) as pool:
        upload_futures = [pool.submit(do_upload, i) for i in range(UPLOADS)]
        search_futures = [pool.submit(do_search, i) for i in range(SEARCHES)]
        uploads = [f.result() for f in upload_futures]
        searches = [f.result() for f in search_futures]

    accepted = {i: r.json() for i, r in uploads if r.status_code == 202}
    refused = [r for _, r in uploads if r.status_code != 202]
    for r in refused:
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "queue_full"
        assert int(r.headers["retry-after"]) > 0
    assert accepted, "no upload was accepted"
    for r in searches:
        assert r.status_code == 200, r.text
        assert any(SEED_MARKER in h["text"] for h in r.json()["hits"]), r.json()
    assert any(searched_while_ingesting), "no search ran while documents were being ingested"

    with server.client() as client:
        jobs = {i: server.wait_for_job(client, body["job_id"], timeout=300) for i, body in accepted.items()}
        assert all(j["status"] == "succeeded" for j in jobs.values()), jobs
        for i, body in accepted.items():
            hits = client.post("/v1/search", json={"query": f"burstword{i:02d}", "k": 1}).json()["hits"]
            assert hits[0]["document_id"] == body["document_id"], (i, hits)
        health = client.get("/v1/health").json()

    counts = store_counts(server.settings.data_dir)
    assert health["vectors"] == health["chunks"] == len(counts["chunk_ids"])
    assert counts["fts_rows"] == len(counts["chunk_ids"]) and counts["integrity"] == "ok"
    assert live_vector_ids(server) == counts["chunk_ids"]
    assert len(counts["documents"]) == 1 + len(accepted)
    print(
        f"\nconcurrency: {UPLOADS} uploads -> {len(accepted)} accepted, {len(refused)} answered 429 (queue limit "
        f"{QUEUE_LIMIT}); {SEARCHES} searches all 200, {sum(searched_while_ingesting)} while ingesting; "
        f"{health['chunks']} chunks == {health['vectors']} vectors"
    )


def test_the_same_pdf_uploaded_ten_times_at_once_is_one_document(server, tmp_path):
    data = marked_pdf(tmp_path / "same.pdf", "twinword").read_bytes()
    start = threading.Barrier(10)

    def do_upload(_):
        with server.client() as client:
            start.wait()
            return upload(client, data, "same.pdf")

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(do_upload, range(10)))
    ok = [r for r in responses if r.status_code in (200, 202)]
    assert all(r.status_code in (200, 202, 429) for r in responses), [r.text for r in responses]
    assert ok and len({r.json()["document_id"] for r in ok}) == 1
    assert len({r.json()["job_id"] for r in ok}) == 1, "the same bytes started two jobs"
    with server.client() as client:
        assert server.wait_for_job(client, ok[0].json()["job_id"])["status"] == "succeeded"
        hits = client.post("/v1/search", json={"query": "twinword", "k": 5}).json()["hits"]
    assert len({h["document_id"] for h in hits if "twinword" in h["text"]}) == 1


def test_a_full_queue_answers_429_with_retry_after_and_recovers(tmp_path):
    limit = 2
    with live_server(service_settings(tmp_path / "data", queue_limit=limit)) as srv, srv.client() as client:
        runner = srv.app.state.runner
        runner.stop()  # hold the worker so the queue fills deterministically
        try:
            codes = []
            for i in range(limit + 2):
                r = upload(
                    client, marked_pdf(tmp_path / f"q{i}.pdf", f"queueword{i}").read_bytes(), f"q{i}.pdf"
                )
                codes.append(r.status_code)
                if r.status_code == 429:
                    assert r.headers["retry-after"].isdigit() and r.json()["error"]["code"] == "queue_full"
            assert codes == [202] * limit + [429, 429], codes
            assert [p.name for p in srv.settings.uploads_dir.iterdir() if p.name.startswith(".upload-")] == []
        finally:
            runner.start()
        deadline = time.monotonic() + 300
        while _jobs_running(srv):
            assert time.monotonic() < deadline
            time.sleep(0.3)
        # With the queue drained, uploads are accepted again.
        r = upload(client, marked_pdf(tmp_path / "after.pdf", "afterword").read_bytes(), "after.pdf")
        assert r.status_code == 202
        assert srv.wait_for_job(client, r.json()["job_id"])["status"] == "succeeded"
