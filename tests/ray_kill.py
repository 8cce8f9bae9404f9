"""Parsers that kill the Ray worker running them, for the Ray executor's retry tests.

They run in the isolated parser process a Ray task starts, whose parent is the Ray worker: killing the parent
with SIGKILL is a worker dying mid-document (the OOM killer, a lost node) as Ray sees it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from paperlens.ingest.parse import parse_pdf


def kill_worker_once(
    path, document_id, crops_dir, settings, progress=None, fallback_title="", *, marker: str
):
    """The first attempt kills its Ray worker (and records its pid in ``marker``); a retry parses for real."""
    flag = Path(marker)
    if not flag.exists():
        flag.write_text(str(os.getppid()))
        os.kill(os.getppid(), signal.SIGKILL)
        os._exit(1)
    return parse_pdf(path, document_id, crops_dir, settings, progress, fallback_title)


def kill_worker_always(path, document_id, crops_dir, settings, progress=None, fallback_title=""):
    os.kill(os.getppid(), signal.SIGKILL)
    os._exit(1)
