"""Two live ``paperlens serve`` processes, each with its own data directory, over one real PostgreSQL: what one
ingests the other searches, answers from and serves crops of; a replica killed with SIGKILL mid-ingest has its
job finished by the other after the lease; a delete on one is seen by the other."""

from __future__ import annotations

import time

import psycopg
import pytest
from pdf_factory import PLOT_CAPTION, make_paper_pdf, make_text_pdf
from replica_process import Replica, replica_env, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _worker_pid(store_url: str, job_id: str) -> int | None:
    """The process id in the lease holder's name (``host:pid:runner``), straight from the jobs table."""
    with psycopg.connect(store_url) as conn:
        row = conn.execute("SELECT worker FROM jobs WHERE id = %s", (job_id,)).fetchone()
    return int(row[0].split(":")[1]) if row and row[0] else None


def _upload(client, path, name):
    with open(path, "rb") as fh:
        r = client.post("/v1/documents", files={"file": (name, fh, "application/pdf")})
    assert r.status_code == 202, r.text
    return r.json()


@pytest.fixture
def replicas(postgres_url, tmp_path):
    env = replica_env(postgres_url, lease_s=3.0)
    a = Replica("a", tmp_path / "a" / "data", env)
    b = Replica("b", tmp_path / "b" / "data", env)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_two_replicas_serve_one_library(replicas, postgres_url, tmp_path):
    a, b = replicas
    paper = make_paper_pdf(tmp_path / "paper.pdf")
    by_pid = {a.process.pid: a, b.process.pid: b}

    # 1. Upload on A; the other replica sees the job, searches the document and answers from it.
    with a.client() as client:
        uploaded = _upload(client, paper.path, "paper.pdf")
    doc = uploaded["document_id"]
    with b.client() as client:
        assert wait_for_job(client, uploaded["job_id"])["status"] == "succeeded"
    ingester = by_pid[_worker_pid(postgres_url, uploaded["job_id"])]
    other = b if ingester is a else a
    assert not (other.data_dir / "crops" / doc).exists()  # nothing of it on the other replica's disk
    with other.client() as client:
        hits = client.post("/v1/search", json={"query": PLOT_CAPTION, "k": 5}).json()["hits"]
        assert hits and hits[0]["document_id"] == doc
        answer = client.post("/v1/ask", json={"question": PLOT_CAPTION}).json()
        assert answer["citations"] and answer["citations"][0]["document_id"] == doc
        # 2. A crop through the replica that did not ingest it (read from the store, no shared disk).
        figures = client.get(f"/v1/documents/{doc}/elements").json()["elements"]
        visual = next(e for e in figures if e["image_url"])
        crop = client.get(visual["image_url"])
        assert crop.status_code == 200 and crop.headers["content-type"] == "image/png"
        assert crop.content.startswith(b"\x89PNG")
        page = client.get(f"/v1/documents/{doc}/pages/2/image")
        assert page.status_code == 200 and page.content.startswith(b"\x89PNG")
        # A question in Persian ("how does the training loss of the model change over ten epochs?") takes the
        # multilingual list, whose vectors the ingesting replica made: the other one searches them too.
        persian = client.post(
            "/v1/search", json={"query": "خطای آموزش مدل در طول ده دوره چگونه تغییر می‌کند؟", "k": 5}
        ).json()["hits"]
        assert persian and persian[0]["document_id"] == doc and "multilingual" in persian[0]["sources"]
        health = client.get("/v1/health").json()
    assert health["store"]["backend"] == "postgres" and health["store"]["reachable"] is True
    assert health["multilingual_vectors"] == health["chunks"] > 0
    # The very bytes the ingesting replica cropped, though the other one never had the file.
    assert crop.content == (ingester.data_dir / _crop_path(postgres_url, visual["id"])).read_bytes()

    # 3. kill -9 the replica that is ingesting a long PDF; the other finishes the job after the lease.
    long_pdf = make_text_pdf(tmp_path / "long.pdf", pages=60)
    with a.client() as client:
        second = _upload(client, long_pdf, "long.pdf")
    holder = None
    with a.client() as client:
        for _ in range(600):
            job = client.get(f"/v1/jobs/{second['job_id']}").json()
            if job["status"] == "running":
                holder = by_pid.get(_worker_pid(postgres_url, second["job_id"]))
                break
            assert job["status"] == "queued", job
            time.sleep(0.05)
    assert holder is not None, "the job never started"
    holder.kill()
    survivor = b if holder is a else a
    with survivor.client() as client:
        job = wait_for_job(client, second["job_id"])
        assert job["status"] == "succeeded", job
        assert job["attempts"] == 2  # claimed by the killed replica, then by the survivor
        listed = [d["id"] for d in client.get("/v1/documents").json()["documents"]]
    assert sorted(listed) == sorted([doc, second["document_id"]])
    assert by_pid[_worker_pid(postgres_url, second["job_id"])] is survivor
    holder.start()  # the killed replica comes back (same data directory)

    # 4. Delete on B; A no longer finds it (rows, search, crops).
    with b.client() as client:
        assert client.delete(f"/v1/documents/{doc}").status_code == 204
    with a.client() as client:
        assert client.get(f"/v1/documents/{doc}").status_code == 404
        hits = client.post("/v1/search", json={"query": PLOT_CAPTION, "k": 10}).json()["hits"]
        assert all(h["document_id"] != doc for h in hits)
        assert client.get(visual["image_url"]).status_code == 404
        assert [d["id"] for d in client.get("/v1/documents").json()["documents"]] == [second["document_id"]]


def _crop_path(store_url: str, element_id: str) -> str:
    with psycopg.connect(store_url) as conn:
        row = conn.execute("SELECT data->>'crop_path' FROM elements WHERE id = %s", (element_id,)).fetchone()
    assert row is not None
    return row[0]
