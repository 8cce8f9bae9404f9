"""The ingestion job runner: one background thread per process claims queued jobs from the store, oldest first.

Jobs live in the store, not in memory, so a restart finds what was queued or running and carries on:
- a job that was running when the process died is queued again, up to ``MAX_ATTEMPTS`` (a PDF that kills the
  process every time it is parsed must not crash-loop the service forever); past that it fails;
- a job whose document was committed just before the crash (only the "succeeded" write was lost) is marked
  succeeded, since the store's single transaction is what makes a document exist;
- what a killed process left half-written (upload temp files, PDFs of failed jobs, crops of documents that
  never committed) is swept, so nothing stored grows without an owner.

A job is ``searchable`` as soon as its document is written: search finds its text from then on. Its deferred
stages (the visuals' descriptions, the multilingual vectors) run later, as ``enriching``, when no upload is
queued or running in this process: a batch of uploads becomes searchable at the speed of the text path, and the
rest follows. A
restart puts an interrupted ``enriching`` job back to ``searchable``; the stages only add what is missing.

On a shared store (Postgres) several replicas run this loop against one queue: each claim is exclusive and is a
lease that a heartbeat thread renews while the job runs; a replica that dies stops renewing, and another one
takes the job over when the lease runs out (counted as one more attempt). The upload travels as a blob, so
the replica that takes over needs nothing from the one that died.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paperlens.engine import Engine
from paperlens.errors import PaperlensError, QueueFullError
from paperlens.index.store import Job
from paperlens.index.store.base import upload_key

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
#: Seconds a client is told to wait when the queue is full (the Retry-After header).
RETRY_AFTER_S = 5
_TEMP_PATTERNS = (".upload-*.part", "*.pdf.tmp", "*.pdf.*.tmp")


def job_wire(job: Job) -> dict[str, Any]:
    """A job as the API shows it (``GET /v1/jobs/{id}``)."""
    error = {"code": job.error_code, "message": job.error_message} if job.error_code else None
    return {
        "id": job.id,
        "document_id": job.document_id,
        "status": job.status,
        "stage": job.stage,
        "progress": round(job.progress, 4),
        "attempts": job.attempts,  # > 1: it was retried after an interrupted run
        "error": error,
        "filename": job.filename,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "timings": json.loads(job.timings) if job.timings else {},
        # When search started to find the document, and when its deferred stages were done too.
        "searchable_at": job.searchable_at,
        "finished_at": job.finished_at,
    }


class JobRunner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.settings = engine.settings
        # Who holds a lease on the shared queue: host, process and this runner (a restart is a new worker).
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_s = self.settings.store.job_lease_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Upload routes run on the event loop; the lock keeps "count, then create" one step for any caller.
        self._submit_lock = threading.Lock()
        # Uploads this process is making searchable. Deferred stages wait while there are any: on the same
        # cores they would only slow the upload down, and a searchable document is what the user waits for.
        self._uploads_running = 0
        self._uploads_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        if any(t.is_alive() for t in self._threads):
            raise RuntimeError("the job runner is already running")
        self._stop.clear()
        self.recover()
        self._threads = [
            threading.Thread(target=self._loop, name=f"paperlens-jobs-{i}", daemon=True)
            for i in range(self.settings.ingest.documents_in_flight)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def recover(self) -> dict[str, int]:
        """Bring jobs and files back to a consistent state after an unclean stop. Safe to call any time
        before the runner thread starts (it assumes no job is being worked on)."""
        finished = 0
        for job in self.store.list_jobs(("running",)):
            if self.store.has_document(job.document_id):
                self._searchable(job)
                finished += 1
        requeued = self.store.requeue_interrupted_jobs(MAX_ATTEMPTS)
        swept = self._sweep()
        if finished or requeued or swept:
            log.warning(
                "recovered from an unclean stop: %d job(s) re-queued, %d found finished, %d leftover file(s)"
                " removed",
                requeued,
                finished,
                swept,
            )
        return {"requeued": requeued, "finished": finished, "swept": swept}

    def _sweep(self) -> int:
        """Remove files no document or waiting job owns: temp files of interrupted uploads and vector saves,
        PDFs of jobs that failed or never got created, crops of documents whose transaction never committed.
        The service is the one writer of its data directory, so nothing here can be another process's work."""
        uploads, crops = self.settings.uploads_dir, self.settings.crops_dir
        waiting = {job.document_id for job in self.store.list_jobs(("queued", "running"))}
        removed = 0
        if uploads.is_dir():
            for pattern in _TEMP_PATTERNS:
                for path in uploads.glob(pattern):
                    path.unlink(missing_ok=True)
                    removed += 1
            for path in uploads.glob("*.pdf"):
                if path.stem not in waiting and not self.store.has_document(path.stem):
                    path.unlink(missing_ok=True)
                    removed += 1
        vectors = self.settings.vectors_dir
        if (
            vectors.is_dir()
        ):  # a save killed between writing its temp file and renaming it (see VectorIndex.save)
            for path in vectors.glob("*.faiss.*.tmp"):
                path.unlink(missing_ok=True)
                removed += 1
        if crops.is_dir():
            for path in crops.iterdir():
                if path.is_dir() and path.name not in waiting and not self.store.has_document(path.name):
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
        return removed

    # -- submitting ------------------------------------------------------------------------------------
    def check_capacity(self) -> None:
        if self.store.count_jobs(("queued",)) >= self.settings.queue_limit:
            raise QueueFullError(
                f"{self.settings.queue_limit} documents are already waiting to be ingested; retry in a little"
                " while"
            )

    def submit(self, document_id: str, received: Path, filename: str, collection: str) -> Job:
        """Queue ``received`` (a checked upload) for ingestion; it is moved under the document's own name."""
        with self._submit_lock:
            self.check_capacity()
            final = self.settings.uploads_dir / f"{document_id}.pdf"
            os.replace(received, final)
            try:
                # On a shared store the PDF goes into it too: whichever replica claims the job reads it there.
                self.store.put_blob(upload_key(document_id), document_id, final)
                job = self.store.create_job(uuid.uuid4().hex, document_id, str(final), filename, collection)
            except BaseException:
                final.unlink(missing_ok=True)
                raise
        self._wake.set()
        return job

    # -- running ---------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.store.claim_job(self.worker, self.lease_s, MAX_ATTEMPTS)
                if job is not None:
                    with self._uploads_lock:
                        self._uploads_running += 1
                    try:
                        self._run(job, self._run_claimed)
                    finally:
                        with self._uploads_lock:
                            self._uploads_running -= 1
                        self._wake.set()  # a runner waiting to enrich may go on
                    continue
                # No upload waits or runs here: finish the deferred stages of a searchable document.
                job = (
                    None if self._uploads_running else self.store.claim_enrichment(self.worker, self.lease_s)
                )
                if job is not None:
                    self._run(job, self._enrich_claimed)
                    continue
                self.engine.flush_vectors()  # nothing waits: write what the last jobs added
                self._wake.wait(1.0)
                self._wake.clear()
            except Exception:  # a store hiccup must not end ingestion for the life of the process
                log.exception("the job runner hit an error; continuing")
                time.sleep(1.0)

    def _heartbeat(self, job: Job, done: threading.Event) -> None:
        """Renew the job's lease every third of it until ``done``; a lost lease is logged (another replica
        took the job over: both may finish it, and the store keeps one document)."""
        while not done.wait(self.lease_s / 3):
            try:
                if not self.store.renew_lease(job.id, self.worker, self.lease_s):
                    log.warning("job %s: lease lost to another worker", job.id)
                    return
            except Exception:  # the store is briefly unreachable: try again at the next beat
                log.warning("job %s: could not renew the lease", job.id, exc_info=True)

    def _run(self, job: Job, work: Callable[[Job], None]) -> None:
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, done), name="paperlens-lease", daemon=True)
        beat.start()
        try:
            work(job)
        finally:
            done.set()
            beat.join()

    def _progress(self, job: Job, first_stage: str) -> Callable[[str, float], None]:
        last: dict[str, Any] = {"stage": first_stage, "progress": 0.0}

        def progress(stage: str, fraction: float) -> None:
            # Throttle writes: a stage change or a 1 % step, not every page.
            if stage != last["stage"] or fraction - float(last["progress"]) >= 0.01:
                last.update(stage=stage, progress=fraction)
                self.store.update_job(job.id, stage=stage, progress=fraction)

        return progress

    def _run_claimed(self, job: Job) -> None:
        progress = self._progress(job, "parse")
        try:
            # The PDF from this replica's disk, or fetched from the shared store (another replica took it in).
            upload = self.store.blob_path(upload_key(job.document_id)) or Path(job.upload_path)
            if not upload.is_file() and not self.store.has_document(job.document_id):
                raise PaperlensError("the uploaded file is gone; upload it again", code="upload_missing")
            self.engine.ingest_path(
                upload,
                progress=progress,
                collection=job.collection,
                filename=job.filename,
                on_timings=lambda timings: self.store.update_job(job.id, timings=json.dumps(timings)),
                deferred=False,
            )
        except PaperlensError as exc:
            log.warning("job %s failed: %s: %s", job.id, exc.code, exc.message)
            self._fail(job, exc.code, exc.message)
            return
        except Exception as exc:  # a bug of ours: fail this job, keep the runner alive
            log.exception("job %s crashed", job.id)
            self._fail(job, "internal_error", f"ingestion failed unexpectedly: {type(exc).__name__}")
            return
        self._searchable(job)

    def _searchable(self, job: Job) -> None:
        """The document is stored: searchable now, and done unless deferred stages are to follow."""
        now = time.time()
        if self.engine.pipeline.defers_work:
            start = self.engine.pipeline.spans()[self.engine.pipeline.deferred[0].name][0]
            self.store.update_job(
                job.id, status="searchable", stage="searchable", progress=start, searchable_at=now
            )
            self._wake.set()  # an idle runner may take the deferred stages now
        else:
            self._succeeded(job, searchable_at=now)

    def _succeeded(self, job: Job, searchable_at: float | None = None) -> None:
        now = time.time()
        self.store.update_job(
            job.id,
            status="succeeded",
            stage="done",
            progress=1.0,
            searchable_at=searchable_at or job.searchable_at or now,
            finished_at=now,
        )

    def _enrich_claimed(self, job: Job) -> None:
        """The deferred stages of a searchable document. The document stays searchable whatever happens here:
        a failure (a served describer that is down, say) ends the job ``succeeded`` with its ``error`` saying
        what is missing, rather than retrying it for ever."""
        progress = self._progress(job, "")
        timings = json.loads(job.timings) if job.timings else {}
        try:
            self.engine.enrich(
                job.document_id,
                progress=progress,
                on_timings=lambda done: self.store.update_job(
                    job.id, timings=json.dumps({**timings, **done})
                ),
            )
        except Exception as exc:
            log.exception("job %s: the deferred stages failed; the document stays searchable", job.id)
            reason = f"{exc.code}: {exc.message}" if isinstance(exc, PaperlensError) else type(exc).__name__
            self.store.update_job(
                job.id,
                error_code="deferred_stage_failed",
                error_message=f"the document is searchable, but a deferred stage failed ({reason}); its"
                " visuals may lack descriptions, or questions not in English may not find it",
            )
        self._succeeded(job)

    def _fail(self, job: Job, code: str, message: str) -> None:
        # Parser messages can name files; a client must not learn where the server keeps its data.
        message = message.replace(job.upload_path, "the upload").replace(
            str(self.settings.data_dir), "<data>"
        )
        self.store.update_job(job.id, status="failed", stage="failed", error_code=code, error_message=message)
        if not self.store.has_document(job.document_id):
            Path(job.upload_path).unlink(missing_ok=True)
            self.store.delete_blob(upload_key(job.document_id))
