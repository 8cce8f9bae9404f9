"""The ingestion job runner: one background thread takes queued jobs from SQLite, oldest first.

Jobs live in the store, not in memory, so a restart finds what was queued or running and carries on (a job
that was running when the process died is queued again, up to ``MAX_ATTEMPTS``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

from paperlens.engine import Engine
from paperlens.errors import PaperlensError, QueueFullError
from paperlens.index.store import Job

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


class JobRunner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        requeued = self.store.requeue_interrupted_jobs(MAX_ATTEMPTS)
        if requeued:
            log.warning("re-queued %d ingestion job(s) interrupted by a restart", requeued)
        self._thread = threading.Thread(target=self._loop, name="paperlens-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, document_id: str, upload_path: Path, filename: str, collection: str) -> Job:
        if self.store.count_jobs(("queued",)) >= self.engine.settings.queue_limit:
            raise QueueFullError("too many documents are waiting to be ingested; retry in a little while")
        job = self.store.create_job(uuid.uuid4().hex, document_id, str(upload_path), filename, collection)
        self._wake.set()
        return job

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self.store.next_queued_job()
            if job is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        self.store.update_job(
            job.id, status="running", stage="parse", progress=0.0, attempts=job.attempts + 1
        )
        last = {"stage": "parse", "progress": 0.0}

        def progress(stage: str, fraction: float) -> None:
            # Throttle writes: a stage change or a 1 % step, not every page.
            if stage != last["stage"] or fraction - last["progress"] >= 0.01:
                last.update(stage=stage, progress=fraction)
                self.store.update_job(job.id, stage=stage, progress=fraction)

        try:
            self.engine.ingest_path(
                Path(job.upload_path), progress=progress, collection=job.collection, filename=job.filename
            )
        except PaperlensError as exc:
            log.warning("job %s failed: %s: %s", job.id, exc.code, exc.message)
            self.store.update_job(
                job.id, status="failed", stage="failed", error_code=exc.code, error_message=exc.message
            )
            self._discard_upload(job)
            return
        except Exception as exc:  # a bug of ours: fail this job, keep the runner alive
            log.exception("job %s crashed", job.id)
            self.store.update_job(
                job.id,
                status="failed",
                stage="failed",
                error_code="internal_error",
                error_message=f"ingestion failed unexpectedly: {type(exc).__name__}",
            )
            self._discard_upload(job)
            return
        self.store.update_job(job.id, status="succeeded", stage="done", progress=1.0)

    def _discard_upload(self, job: Job) -> None:
        if not self.store.has_document(job.document_id):
            Path(job.upload_path).unlink(missing_ok=True)
