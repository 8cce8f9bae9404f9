"""A quick, isolated look at an uploaded PDF before it is queued: can it be opened at all?

The upload request answers a corrupt, encrypted or empty PDF with a 4xx at once instead of a job that fails
later. Opening happens in a spawned process with a memory limit and a deadline, for the same reason parsing
does (see ``paperlens.ingest.isolate``): PyMuPDF on a hostile file can hang or crash.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from pathlib import Path

from pydantic import BaseModel

from paperlens import errors
from paperlens.config import IngestSettings

PROBE_TIMEOUT_S = 30.0


class PdfFacts(BaseModel):
    pages: int
    title: str
    encrypted: bool


def _probe_child(conn, path: str, settings_json: str) -> None:
    import resource

    from paperlens.ingest.parse import document_title, open_pdf

    settings = IngestSettings.model_validate_json(settings_json)
    limit = settings.parse_memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):  # a platform without the limit still probes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        doc = open_pdf(Path(path), settings)
        try:
            for page in doc:  # page sizes are cheap to read and catch absurd (bomb-sized) pages early
                side = max(page.rect.width, page.rect.height)
                if side > settings.max_page_side_pt:
                    raise errors.PdfTooLargeError(
                        f"page {page.number + 1} is {side:.0f} points wide; the limit is"
                        f" {settings.max_page_side_pt:.0f}"
                    )
            facts = PdfFacts(pages=doc.page_count, title=document_title(doc, ""), encrypted=doc.is_encrypted)
        finally:
            doc.close()
        conn.send(("ok", facts.model_dump_json()))
    except errors.PaperlensError as exc:
        conn.send(("error", type(exc).__name__, exc.message))
    except Exception as exc:
        conn.send(("error", "CorruptPdfError", f"the PDF could not be opened: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def probe_pdf(path: Path, settings: IngestSettings, timeout_s: float = PROBE_TIMEOUT_S) -> PdfFacts:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_probe_child, args=(child, str(path), settings.model_dump_json()), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise errors.CorruptPdfError(f"the PDF could not be opened within {timeout_s:g} s")
        try:
            message = parent.recv()
        except EOFError:
            raise errors.CorruptPdfError("opening the PDF crashed the reader") from None
        if message[0] == "ok":
            return PdfFacts.model_validate_json(message[1])
        cls = getattr(errors, message[1], errors.CorruptPdfError)
        raise cls(message[2])
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
