"""Parse an untrusted PDF in a separate process with a time limit and a memory limit.

PyMuPDF is not thread-safe and a hostile PDF can hang it, crash it or eat all memory. The parser runs in a
fresh ``spawn``ed process with ``RLIMIT_AS`` set; the parent waits with a deadline and kills it if needed.
Whatever the PDF does, the caller gets either a ``ParsedDocument`` or a typed ``PaperlensError``.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from paperlens import errors
from paperlens.config import IngestSettings
from paperlens.ingest.parse import ParsedDocument, ProgressFn, parse_pdf

#: ``parse_pdf``'s signature. Tests pass a module-level function that hangs or eats memory, so the limits are
#: exercised for real; it must be importable by name in the child (the spawn start method pickles it).
ParseFn = Callable[..., ParsedDocument]


def _child(
    conn,
    path: str,
    document_id: str,
    crops_dir: str,
    settings_json: str,
    title: str,
    parse_fn: ParseFn = parse_pdf,
) -> None:
    import resource

    settings = IngestSettings.model_validate_json(settings_json)
    if settings.layout != "pymupdf" and "pymupdf" not in sys.modules:
        # ``import pymupdf`` (2.0) also loads its ONNX layout model when pymupdf-layout is installed: ~2 s and
        # a few hundred MB per child that the other backends never use. A None entry makes that optional
        # import fail fast, which PyMuPDF handles.
        sys.modules["pymupdf.layout"] = None  # type: ignore[assignment]
        # ... and PyMuPDF would then print a tip to install pymupdf-layout for every PDF: it is installed.
        os.environ["PYMUPDF_SUGGEST_LAYOUT_ANALYZER"] = "0"
    limit = settings.parse_memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):  # a platform without the limit parses unlimited
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        parsed = parse_fn(
            Path(path),
            document_id,
            Path(crops_dir),
            settings,
            progress=lambda done, total: conn.send(("progress", done, total)),
            fallback_title=title,
        )
        conn.send(("ok", parsed.model_dump_json()))
    except errors.PaperlensError as exc:
        conn.send(("error", type(exc).__name__, exc.message, exc.code))
    except MemoryError:
        message = f"the PDF needed more memory than the parser is allowed ({settings.parse_memory_mb} MB)"
        conn.send(("error", "ParseFailedError", message, "parse_out_of_memory"))
    except Exception as exc:  # anything else is a parser failure on this file, not a crash of ours
        message = f"the PDF could not be parsed: {type(exc).__name__}: {exc}"
        conn.send(("error", "ParseFailedError", message, "parse_failed"))
    finally:
        conn.close()


def parse_pdf_isolated(
    path: Path,
    document_id: str,
    crops_dir: Path,
    settings: IngestSettings,
    progress: ProgressFn | None = None,
    fallback_title: str = "",
    parse_fn: ParseFn = parse_pdf,
) -> ParsedDocument:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child,
        args=(
            child,
            str(path),
            document_id,
            str(crops_dir),
            settings.model_dump_json(),
            fallback_title,
            parse_fn,
        ),
        daemon=True,
    )
    proc.start()
    child.close()
    started = time.monotonic()
    deadline = started + settings.parse_timeout_s
    limit_s = settings.parse_timeout_s
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.ParseFailedError(
                    f"parsing took longer than {limit_s:g} s and was stopped",
                    code="parse_timeout",
                )
            if not parent.poll(min(remaining, 0.5)):
                if not proc.is_alive() and not parent.poll(0):
                    raise errors.ParseFailedError(
                        f"the parser process died (exit code {proc.exitcode}) on this PDF",
                        code="parser_crashed",
                    )
                continue
            try:
                message = parent.recv()
            except EOFError:
                proc.join(5)
                raise errors.ParseFailedError(
                    f"the parser process died (exit code {proc.exitcode}) on this PDF", code="parser_crashed"
                ) from None
            if message[0] == "progress":
                # Once the page count is known, long documents get their per-page allowance: a 100-page
                # scanned deck needs minutes of OCR, a hang on page 1 of it is still stopped.
                limit_s = settings.parse_timeout_s + settings.parse_timeout_per_page_s * message[2]
                deadline = started + limit_s
                if progress:
                    progress(message[1], message[2])
            elif message[0] == "ok":
                return ParsedDocument.model_validate_json(message[1])
            else:
                code = message[3] if len(message) > 3 else None
                raise errors.error_class_named(message[1], errors.ParseFailedError)(message[2], code=code)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
