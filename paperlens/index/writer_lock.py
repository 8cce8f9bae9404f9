"""One writer per library: an advisory lock file in the data directory.

The embedded store is SQLite plus FAISS files that one process keeps in memory and rewrites; two processes
adding documents to one data directory would each save their own FAISS view over the other's. The service
holds this lock while it runs; ``paperlens ingest`` takes it too and refuses, with a message saying what to do,
when someone else holds it. The kernel drops the lock when its process dies, so a crash never leaves a
stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from paperlens.errors import LibraryLockedError

LOCK_NAME = "writer.lock"


class WriterLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, holder: str) -> None:
        """Take the lock or raise ``LibraryLockedError`` naming who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LibraryLockedError(
                f"the library in this data directory is being written by {other}. Upload through the"
                " running service (POST /v1/documents), or stop it and run `paperlens ingest` again."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder} (pid {os.getpid()})".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
