"""A small SQLite cache of descriptions, so re-ingesting or re-indexing never describes a crop twice.

Key: the crop's SHA-256, the backend, the model, the prompt version, and a hash of every other input the
describer sees (kind, caption, citing sentences, table Markdown, formula text). A VLM call costs seconds and
an API call money; a changed caption or prompt must still produce a fresh description.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from paperlens.ingest.describe.base import DescribeRequest, Description

CACHE_FILE = "descriptions.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS descriptions (
    crop_sha256 TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (crop_sha256, backend, model, prompt_version, input_sha256)
)
"""


@dataclass(frozen=True)
class CacheKey:
    crop_sha256: str
    backend: str
    model: str
    prompt_version: str
    input_sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_sha256(request: DescribeRequest) -> str:
    """Hash of what the describer sees besides the pixels."""
    element = request.element
    payload = [str(element.kind), request.context, element.caption, element.markdown, element.text]
    payload.append(element.references)
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def _use_wal(db: sqlite3.Connection, attempts: int = 250) -> None:
    """Switch the file to WAL once. Worker processes open one cache side by side, and the switch takes a lock
    that ignores the busy timeout: of 4 processes opening a new file at once, about 1 in 13 failed with
    "database is locked" (CI saw it). So the switch is retried for up to about 5 s, and skipped once done."""
    for _ in range(attempts):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.02)
    raise sqlite3.OperationalError("the description cache stayed locked while switching it to WAL")


class DescriptionCache:
    """Thread-safe; each ``put`` commits at once so an interrupted stage resumes where it stopped."""

    def __init__(self, cache_dir: Path) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / CACHE_FILE
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        _use_wal(self._db)
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get(self, key: CacheKey) -> Description | None:
        with self._lock:
            row = self._db.execute(
                "SELECT description FROM descriptions WHERE crop_sha256=? AND backend=? AND model=? "
                "AND prompt_version=? AND input_sha256=?",
                (key.crop_sha256, key.backend, key.model, key.prompt_version, key.input_sha256),
            ).fetchone()
        return Description.model_validate_json(row[0]) if row else None

    def put(self, key: CacheKey, description: Description) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO descriptions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key.crop_sha256,
                    key.backend,
                    key.model,
                    key.prompt_version,
                    key.input_sha256,
                    description.model_dump_json(),
                    time.time(),
                ),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM descriptions").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> DescriptionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
