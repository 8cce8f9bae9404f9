"""One writer per library: a second holder is refused with who holds it, and a released (or dead) holder
frees the library."""

from __future__ import annotations

import subprocess
import sys

import pytest

from paperlens.errors import LibraryLockedError
from paperlens.index.writer_lock import WriterLock


def test_a_second_writer_is_refused_until_the_first_releases(tmp_path):
    first, second = WriterLock(tmp_path), WriterLock(tmp_path)
    first.acquire("a paperlens service")
    with pytest.raises(LibraryLockedError) as info:
        second.acquire("paperlens ingest")
    assert info.value.code == "library_locked" and "a paperlens service (pid" in info.value.message
    assert not second.held
    first.release()
    second.acquire("paperlens ingest")
    assert second.held
    second.release()


def test_a_holder_that_dies_leaves_no_stale_lock(tmp_path):
    script = (
        "import os, sys; from paperlens.index.writer_lock import WriterLock; "
        f"WriterLock({str(tmp_path)!r}).acquire('a crashed ingest'); os._exit(9)"
    )
    assert subprocess.run([sys.executable, "-c", script], check=False).returncode == 9
    lock = WriterLock(tmp_path)
    lock.acquire("paperlens ingest")  # the kernel dropped the dead process's lock
    lock.release()
