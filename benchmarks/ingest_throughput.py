"""Ingestion throughput: pages/s from upload to searchable over REST, seconds per stage and peak memory.

    .venv/bin/python benchmarks/ingest_throughput.py [--papers DIR] [--mmlb DIR] [--slice-pages 30]
        [--old-ref main] [--paths floor,old,local,ray1,ray2] [--out report.json]

Two sets: ``--papers`` (born-digital papers, default ../shared/bench/papers) and an image-only slice of
``--mmlb`` (default ../shared/bench/mmlb_dev/pdfs): its PDFs with no text layer, cut to ``--slice-pages``
pages in all (written to a temporary folder, never into the repository). Paths measured in one run:

- ``floor``: PyMuPDF ``page.get_text()`` over every page, in-process: no service can beat it;
- ``old``: the service as it was at ``--old-ref`` (``git archive`` of that ref, imported from a temporary
  folder): the serial path, a fresh parser interpreter per job, OCR page by page;
- ``local``: this checkout, warm local workers (``ingest.executor = local``);
- ``ray1`` / ``ray2``: this checkout, ``ingest.executor = ray`` on a local Ray instance with 1 / 2 CPUs for
  tasks (plus one for the embedding actor).

Each service path runs in its own child process with its own empty data directory: the real app under
uvicorn on 127.0.0.1, warmed with one small generated PDF (start-up is not ingestion), then every PDF of the
set is uploaded at once. Two clocks: "searchable" stops when the last document is found by search (its job
``searchable``, or succeeded on a ref that had no such state), "finished" when the last job has succeeded, its
deferred stages (the multilingual vectors) done too. Seconds per stage are summed
over the jobs' ``timings``; peak RSS is the largest sum over the child's whole process tree (parser workers,
Ray's processes) sampled every 0.25 s. The projection for 10,000 papers is arithmetic on the measured
per-page costs, stated as such.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVICE_PATHS = {
    "old": {},
    "local": {"ingest": {"executor": "local"}},
    "ray1": {"ingest": {"executor": "ray", "ray_num_cpus": 1}},
    "ray2": {"ingest": {"executor": "ray", "ray_num_cpus": 2}},
}
#: A lab library: 10,000 papers of 15 pages (the ~150,000 pages the issue starts from).
LIBRARY_PAPERS, PAGES_PER_PAPER = 10_000, 15


# -- the child: one service, one set ---------------------------------------------------------------------


class TreeRss:
    """Peak resident memory of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for proc in [self.root, *self.root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a process that ended meanwhile
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.25)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _warm_pdf(folder: Path) -> Path:
    import pymupdf

    path = folder / "warm-up.pdf"
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Warm-up document. " * 5)
    page.insert_text((72, 100), "It starts the parser and loads the models before the clock starts.")
    doc.save(path)
    doc.close()
    return path


def child(pdfs: list[Path], data_dir: Path, overrides: dict) -> dict:
    import httpx
    import uvicorn

    from paperlens.config import load_settings
    from paperlens.service.app import create_app

    settings = load_settings(data_dir=data_dir, **overrides)
    ray_cpus = overrides.get("ingest", {}).get("ray_num_cpus")
    if ray_cpus:
        import ray

        # Ray wants its driver started (and stopped) from the main thread; the service runs in another one.
        ray.init(
            num_cpus=ray_cpus + settings.ingest.ray_embed_actors,
            object_store_memory=256 * 2**20,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"

    def upload(client: httpx.Client, path: Path) -> str:
        with open(path, "rb") as fh:
            r = client.post("/v1/documents", files={"file": (path.name, fh, "application/pdf")})
        r.raise_for_status()
        return r.json()["job_id"]

    searchable: dict[str, float] = {}  # job id -> when it was first seen searchable (perf_counter)

    def wait(client: httpx.Client, ids: list[str]) -> dict[str, dict]:
        done: dict[str, dict] = {}
        while len(done) < len(ids):
            for job_id in ids:
                if job_id not in done:
                    job = client.get(f"/v1/jobs/{job_id}").json()
                    if job["status"] in ("searchable", "enriching", "succeeded"):
                        searchable.setdefault(job_id, time.perf_counter())
                    if job["status"] in ("succeeded", "failed"):
                        done[job_id] = job
            time.sleep(0.2)
        return done

    with httpx.Client(base_url=base, timeout=600) as client, TreeRss(os.getpid()) as rss:
        warm = tempfile.mkdtemp(prefix="paperlens-warm-")
        warm_job = upload(client, _warm_pdf(Path(warm)))
        warm_doc = wait(client, [warm_job])[warm_job]["document_id"]
        started = time.perf_counter()
        ids = [upload(client, path) for path in pdfs]
        jobs = wait(client, ids)
        elapsed = time.perf_counter() - started
        to_searchable = max((searchable.get(i, started + elapsed) for i in ids), default=started) - started
        documents = client.get("/v1/documents").json()["documents"]
        health = client.get("/v1/health").json()
    server.should_exit = True
    thread.join(30)
    if ray_cpus:
        ray.shutdown()
    failed = [j for j in jobs.values() if j["status"] != "succeeded"]
    pages = sum(d["pages"] for d in documents if d["id"] != warm_doc)
    stages: dict[str, float] = {}
    # Where the clock went: each document's seconds from the upload burst to searchable and to finished, in
    # the order they became searchable (the last one sets the figure; what it waited for is in its timings).
    timeline = sorted(
        (
            {
                "filename": job["filename"],
                "searchable_s": round(searchable.get(job_id, started + elapsed) - started, 2),
                "timings": job.get("timings") or {},
            }
            for job_id, job in jobs.items()
        ),
        key=lambda row: row["searchable_s"],
    )
    for job in jobs.values():
        for stage, seconds in (job.get("timings") or {}).items():
            stages[stage] = round(stages.get(stage, 0.0) + seconds, 2)
    return {
        "pages": pages,
        "documents": len(jobs) - len(failed),
        "failed": [(j["filename"], j["error"]) for j in failed],
        "seconds": round(to_searchable, 2),
        "pages_per_s": round(pages / to_searchable, 3),  # upload to searchable, the measure
        "finished_seconds": round(elapsed, 2),
        "finished_pages_per_s": round(pages / elapsed, 3),
        "stage_seconds": stages,
        "peak_rss_mb": round(rss.peak / 2**20),
        "chunks": health.get("chunks"),
        "timeline": timeline,
    }


# -- the parent: sets, paths, tables ---------------------------------------------------------------------


def floor(pdfs: list[Path]) -> dict:
    import pymupdf

    started, pages = time.perf_counter(), 0
    for path in pdfs:
        with pymupdf.open(path) as doc:
            for page in doc:
                page.get_text()
                pages += 1
    elapsed = time.perf_counter() - started
    return {"pages": pages, "seconds": round(elapsed, 2), "pages_per_s": round(pages / elapsed, 1)}


def image_only_slice(folder: Path, pages: int, out: Path) -> list[Path]:
    """PDFs of ``folder`` with no text layer, cut so the slice holds ``pages`` pages in all."""
    import pymupdf

    chosen, left = [], pages
    for path in sorted(folder.glob("*.pdf")):
        if left <= 0:
            break
        with pymupdf.open(path) as doc:
            if any(page.get_text().strip() for page in doc):
                continue
            take = min(left, doc.page_count)
            part = pymupdf.open()
            part.insert_pdf(doc, from_page=0, to_page=take - 1)
            target = out / path.name
            part.save(target)
            part.close()
        chosen.append(target)
        left -= take
    return chosen


def old_tree(ref: str, into: Path) -> Path:
    """``paperlens`` as it was at ``ref``, unpacked where a child can import it."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "paperlens"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def same_library(old_dir: Path, new_dir: Path) -> dict:
    """Do two data directories hold the same chunks (text, per document, in order) and vectors? This is
    what retrieval sees: equal chunks and vectors give equal search results."""
    import sqlite3

    import numpy as np

    def rows(folder: Path) -> dict[str, list[tuple[str, bytes]]]:
        (db,) = folder.glob("*.sqlite3")
        con = sqlite3.connect(db)
        found: dict[str, list[tuple[str, bytes]]] = {}
        sql = (
            "SELECT c.document_id, c.text, c.vector FROM chunks c JOIN documents d ON d.id = c.document_id"
            " WHERE d.filename != 'warm-up.pdf' ORDER BY c.id"
        )
        for doc, text, vector in con.execute(sql):
            found.setdefault(doc, []).append((text, vector))
        con.close()
        return found

    old, new = rows(old_dir), rows(new_dir)
    texts_equal = vectors_close = 0
    max_diff = 0.0
    for doc in set(old) & set(new):
        if [t for t, _ in old[doc]] == [t for t, _ in new[doc]]:
            texts_equal += 1
            a = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in old[doc]])
            b = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in new[doc]])
            diff = float(np.abs(a - b).max())
            max_diff = max(max_diff, diff)
            vectors_close += diff <= 1e-5
    return {
        "documents": len(old),
        "same_documents": old.keys() == new.keys(),
        "documents_with_equal_chunk_texts": texts_equal,
        "documents_with_vectors_within_1e-5": vectors_close,
        "max_vector_difference": max_diff,
        "chunks_old": sum(map(len, old.values())),
        "chunks_new": sum(map(len, new.values())),
    }


def run_child(name: str, pdfs: list[Path], python_path: Path, work: Path, keep: Path | None = None) -> dict:
    data_dir = keep or work / f"data-{name}-{time.time_ns()}"
    env = {**os.environ, "PYTHONPATH": str(python_path)}
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        json.dumps(
            {"pdfs": [str(p) for p in pdfs], "data_dir": str(data_dir), "overrides": SERVICE_PATHS[name]}
        ),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=work)
    if keep is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def projection(result: dict, workers: int) -> float:
    """Hours for LIBRARY_PAPERS papers at the measured pages/s, spread over ``workers`` machines like this one
    (a projection: it assumes the single writer keeps up, which its measured share says it does)."""
    pages = LIBRARY_PAPERS * PAGES_PER_PAPER
    return round(pages / (result["pages_per_s"] * workers) / 3600, 1)


def table(title: str, results: dict[str, dict]) -> str:
    stages = ["ocr", "parse", "describe", "chunk", "embed", "image-embed", "write", "embed-multilingual"]
    lines = [
        f"### {title}",
        "",
        "| path | pages | s to searchable | pages/s searchable | vs old | s to finished | pages/s finished"
        " | peak RSS MB | " + " | ".join(stages) + " |",
        "|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(stages),
    ]
    old = results.get("old", {}).get("pages_per_s")
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | error: {r['error'][-200:]!r} |")
            continue
        ratio = f"{r['pages_per_s'] / old:.2f}x" if old and name != "floor" else ""
        cells = [str(r.get("stage_seconds", {}).get(s, "")) for s in stages]
        finished = f"| {r.get('finished_seconds', r['seconds'])} | {r.get('finished_pages_per_s', r['pages_per_s'])} "
        lines.append(
            f"| {name} | {r['pages']} | {r['seconds']} | {r['pages_per_s']} | {ratio} {finished}"
            f"| {r.get('peak_rss_mb', '')} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    bench = REPO.parent / "shared" / "bench"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=Path, default=bench / "papers")
    parser.add_argument("--mmlb", type=Path, default=bench / "mmlb_dev" / "pdfs")
    parser.add_argument("--slice-pages", type=int, default=30)
    parser.add_argument("--old-ref", default="main")
    parser.add_argument(
        "--old-tree", type=Path, help="a folder holding the old paperlens package (not --old-ref)"
    )
    parser.add_argument("--paths", default="floor,old,local,ray1,ray2")
    parser.add_argument("--sets", default="papers,slides")
    parser.add_argument("--out", type=Path, default=Path("ingest_throughput.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(child([Path(p) for p in spec["pdfs"]], Path(spec["data_dir"]), spec["overrides"])))
        return

    paths = args.paths.split(",")
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "sets": {}}
    with tempfile.TemporaryDirectory(prefix="paperlens-ingest-bench-") as tmp:
        work = Path(tmp)
        sets = {}
        if "papers" in args.sets:
            sets["papers"] = sorted(args.papers.glob("*.pdf"))
        if "slides" in args.sets:
            (work / "slides").mkdir()
            sets["slides"] = image_only_slice(args.mmlb, args.slice_pages, work / "slides")
        old = args.old_tree
        if old is None and "old" in paths:
            old = old_tree(args.old_ref, Path(tempfile.mkdtemp(prefix="old-", dir=work)))
        for set_name, pdfs in sets.items():
            results: dict[str, dict] = {}
            for name in paths:
                print(f"{set_name}: {name} ...", file=sys.stderr, flush=True)
                if name == "floor":
                    results[name] = floor(pdfs)
                else:
                    keep = work / f"kept-{set_name}-{name}" if name in ("old", "local") else None
                    results[name] = run_child(name, pdfs, old if name == "old" else REPO, work, keep)
                print(f"  {results[name]}", file=sys.stderr, flush=True)
            report["sets"][set_name] = results
            kept = [work / f"kept-{set_name}-{n}" for n in ("old", "local")]
            if all(k.is_dir() for k in kept):
                report.setdefault("same_as_old", {})[set_name] = same_library(*kept)
    best = report["sets"].get("papers", {}).get("local")
    if best and "pages_per_s" in best:
        report["projection"] = {
            "assumes": f"{LIBRARY_PAPERS} papers x {PAGES_PER_PAPER} pages, born-digital, at the measured "
            "local pages/s per machine like this one (2 cores), the single writer keeping up",
            "hours_by_workers": {n: projection(best, n) for n in (1, 2, 4, 8, 16)},
        }
    args.out.write_text(json.dumps(report, indent=2))
    for set_name, results in report["sets"].items():
        print(table(set_name, results) + "\n")
    for set_name, same in report.get("same_as_old", {}).items():
        print(f"Chunks and vectors, local vs old, {set_name}:", json.dumps(same))
    if "projection" in report:
        print("Projection (not a measurement):", json.dumps(report["projection"]))


if __name__ == "__main__":
    main()
