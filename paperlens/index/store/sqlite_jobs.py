"""The embedded store's job queue, in the same SQLite file. One process owns a data directory, so a claim
needs no lease: a job left ``running`` by a dead process is re-queued when the service starts again."""

from __future__ import annotations

import time
from collections.abc import Sequence

from paperlens.errors import NotFoundError
from paperlens.index.store.base import Job
from paperlens.index.store.sqlite_db import SQLiteDatabase

#: Columns a caller may set with ``update_job`` (names are put into SQL, so they are checked).
JOB_FIELDS = frozenset(
    {
        "status",
        "stage",
        "progress",
        "error_code",
        "error_message",
        "attempts",
        "upload_path",
        "timings",
        "searchable_at",
        "finished_at",
    }
)


class SQLiteJobs(SQLiteDatabase):
    def create_job(
        self, job_id: str, document_id: str, upload_path: str, filename: str, collection: str
    ) -> Job:
        now = time.time()
        with self._lock:
            self._conn.execute(
                "INSERT INTO jobs(id, document_id, status, stage, progress, upload_path, filename, collection,"
                " created_at, updated_at) VALUES (?, ?, 'queued', 'queued', 0, ?, ?, ?, ?, ?)",
                (job_id, document_id, upload_path, filename, collection, now, now),
            )
        return self.get_job(job_id)

    def get_job(self, job_id: str) -> Job:
        with self._lock:
            row = self._conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no job with id {job_id}")
        return Job(**dict(row))

    def latest_job_for(self, document_id: str) -> Job | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM jobs WHERE document_id = ? ORDER BY created_at DESC LIMIT 1", (document_id,)
            ).fetchone()
        return Job(**dict(row)) if row else None

    def active_job_for(self, document_id: str) -> Job | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM jobs WHERE document_id = ? AND status IN ('queued', 'running')"
                " ORDER BY created_at LIMIT 1",
                (document_id,),
            ).fetchone()
        return Job(**dict(row)) if row else None

    def update_job(self, job_id: str, **fields: object) -> None:
        unknown = set(fields) - JOB_FIELDS
        if unknown:
            raise ValueError(f"not job fields: {sorted(unknown)}")
        fields["updated_at"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._conn.execute(f"UPDATE jobs SET {cols} WHERE id = ?", [*fields.values(), job_id])

    def claim_job(self, worker: str, lease_s: float, max_attempts: int) -> Job | None:
        """The oldest queued job, now ``running`` (one process, one runner: no lease to keep)."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT * FROM jobs WHERE status = 'queued' ORDER BY created_at LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status = 'running', stage = 'parse', progress = 0, attempts = attempts + 1,"
                " updated_at = ? WHERE id = ?",
                (time.time(), row["id"]),
            )
        return self.get_job(row["id"])

    def claim_enrichment(self, worker: str, lease_s: float) -> Job | None:
        """The oldest searchable job, now ``enriching`` (a restart puts an interrupted one back)."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT * FROM jobs WHERE status = 'searchable' ORDER BY created_at LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status = 'enriching', updated_at = ? WHERE id = ?", (time.time(), row["id"])
            )
        return self.get_job(row["id"])

    def renew_lease(self, job_id: str, worker: str, lease_s: float) -> bool:
        return True

    def list_jobs(self, statuses: Sequence[str]) -> list[Job]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM jobs WHERE status IN ({','.join('?' * len(statuses))}) ORDER BY created_at",
                list(statuses),
            ).fetchall()
        return [Job(**dict(r)) for r in rows]

    def count_jobs(self, statuses: Sequence[str]) -> int:
        with self._lock:
            row = self._conn.execute(
                f"SELECT COUNT(*) FROM jobs WHERE status IN ({','.join('?' * len(statuses))})", list(statuses)
            ).fetchone()
        return int(row[0])

    def requeue_interrupted_jobs(self, max_attempts: int) -> int:
        """After a restart, jobs that were running when the process died are retried (or failed); deferred
        stages that were running go back to wait for a worker (their document is stored and searchable, so
        they need no attempt limit: they only add to it)."""
        with self._lock:
            self._conn.execute(
                "UPDATE jobs SET status = 'searchable', updated_at = ? WHERE status = 'enriching'",
                (time.time(),),
            )
            self._conn.execute(
                "UPDATE jobs SET status = 'failed', stage = 'failed', error_code = 'too_many_attempts',"
                " error_message = 'ingestion was interrupted too many times', updated_at = ?"
                " WHERE status = 'running' AND attempts >= ?",
                (time.time(), max_attempts),
            )
            cur = self._conn.execute(
                "UPDATE jobs SET status = 'queued', stage = 'queued', progress = 0, updated_at = ?"
                " WHERE status = 'running'",
                (time.time(),),
            )
        return cur.rowcount
