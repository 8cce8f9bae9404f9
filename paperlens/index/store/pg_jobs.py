"""The Postgres store's job queue, shared by every replica.

A worker claims the oldest claimable job with ``SELECT ... FOR UPDATE SKIP LOCKED`` (so two replicas never take
the same one) and holds it under a lease: ``lease_until`` on the database's clock, renewed by the worker's
heartbeat. A job whose lease ran out (its replica was killed, or lost the database) is claimable again and
retried by whichever replica asks next, up to ``max_attempts`` claims; past that it fails.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from paperlens.errors import NotFoundError
from paperlens.index.store.base import Job
from paperlens.index.store.pg_db import PostgresDatabase
from paperlens.index.store.sqlite_jobs import JOB_FIELDS

_JOB_COLUMNS = (
    "id, document_id, status, stage, progress, error_code, error_message, upload_path, filename, collection,"
    " attempts, created_at, updated_at, timings, searchable_at, finished_at"
)
_NOW = "extract(epoch from clock_timestamp())"


def _job(row: Sequence[Any]) -> Job:
    return Job(*row)


class PostgresJobs(PostgresDatabase):
    def create_job(
        self, job_id: str, document_id: str, upload_path: str, filename: str, collection: str
    ) -> Job:
        now = time.time()
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO jobs(id, document_id, status, stage, progress, upload_path, filename, collection,"
                " created_at, updated_at) VALUES (%s, %s, 'queued', 'queued', 0, %s, %s, %s, %s, %s)",
                (job_id, document_id, upload_path, filename, collection, now, now),
            )
        return self.get_job(job_id)

    def _one(self, sql: str, args: Sequence[Any]) -> Job | None:
        with self._connection() as conn:
            row = conn.execute(sql, args).fetchone()
        return _job(row) if row else None

    def get_job(self, job_id: str) -> Job:
        job = self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = %s", (job_id,))
        if job is None:
            raise NotFoundError(f"no job with id {job_id}")
        return job

    def latest_job_for(self, document_id: str) -> Job | None:
        return self._one(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE document_id = %s ORDER BY created_at DESC LIMIT 1",
            (document_id,),
        )

    def active_job_for(self, document_id: str) -> Job | None:
        return self._one(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE document_id = %s AND status IN ('queued', 'running')"
            " ORDER BY created_at LIMIT 1",
            (document_id,),
        )

    def update_job(self, job_id: str, **fields: object) -> None:
        unknown = set(fields) - JOB_FIELDS
        if unknown:
            raise ValueError(f"not job fields: {sorted(unknown)}")
        fields["updated_at"] = time.time()
        if fields.get("status") in ("searchable", "succeeded", "failed"):
            fields["lease_until"] = None
        cols = ", ".join(f"{k} = %s" for k in fields)
        with self._connection() as conn:
            conn.execute(f"UPDATE jobs SET {cols} WHERE id = %s", [*fields.values(), job_id])

    def claim_job(self, worker: str, lease_s: float, max_attempts: int) -> Job | None:
        with self._connection() as conn:
            # A job whose worker died once too often fails instead of crash-looping every replica.
            conn.execute(
                "UPDATE jobs SET status = 'failed', stage = 'failed', error_code = 'too_many_attempts',"
                " error_message = 'ingestion was interrupted too many times', lease_until = NULL,"
                f" updated_at = {_NOW} WHERE status = 'running' AND lease_until < {_NOW} AND attempts >= %s",
                (max_attempts,),
            )
            row = conn.execute(
                "WITH next AS (SELECT id FROM jobs"
                f" WHERE status = 'queued' OR (status = 'running' AND lease_until < {_NOW})"
                " ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
                " UPDATE jobs j SET status = 'running', stage = 'parse', progress = 0, attempts = j.attempts + 1,"
                f" worker = %s, lease_until = {_NOW} + %s, updated_at = {_NOW}"
                f" FROM next WHERE j.id = next.id RETURNING {', '.join('j.' + c.strip() for c in _JOB_COLUMNS.split(','))}",
                (worker, lease_s),
            ).fetchone()
        return _job(row) if row else None

    def claim_enrichment(self, worker: str, lease_s: float) -> Job | None:
        """The oldest job whose deferred stages wait (or whose enriching replica's lease ran out). No attempt
        limit: the document is stored and searchable already, and these stages only add to it."""
        with self._connection() as conn:
            row = conn.execute(
                "WITH next AS (SELECT id FROM jobs"
                f" WHERE status = 'searchable' OR (status = 'enriching' AND lease_until < {_NOW})"
                " ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
                " UPDATE jobs j SET status = 'enriching',"
                f" worker = %s, lease_until = {_NOW} + %s, updated_at = {_NOW}"
                f" FROM next WHERE j.id = next.id RETURNING {', '.join('j.' + c.strip() for c in _JOB_COLUMNS.split(','))}",
                (worker, lease_s),
            ).fetchone()
        return _job(row) if row else None

    def renew_lease(self, job_id: str, worker: str, lease_s: float) -> bool:
        """Extend this worker's lease; False when the job is no longer this worker's (taken over or finished)."""
        with self._connection() as conn:
            cur = conn.execute(
                f"UPDATE jobs SET lease_until = {_NOW} + %s WHERE id = %s AND worker = %s"
                " AND status IN ('running', 'enriching')",
                (lease_s, job_id, worker),
            )
        return cur.rowcount == 1

    def list_jobs(self, statuses: Sequence[str]) -> list[Job]:
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = ANY(%s) ORDER BY created_at",
                (list(statuses),),
            ).fetchall()
        return [_job(r) for r in rows]

    def count_jobs(self, statuses: Sequence[str]) -> int:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE status = ANY(%s)", (list(statuses),)
            ).fetchone()
        return int(row[0]) if row else 0

    def requeue_interrupted_jobs(self, max_attempts: int) -> int:
        """Nothing to do at start: other replicas may be running jobs right now; an abandoned job comes back
        through its lease (``claim_job``)."""
        return 0
