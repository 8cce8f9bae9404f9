"""A quick, isolated look at an uploaded PDF before it is queued: can it be opened, and is it sane?

The upload request answers a corrupt, encrypted, empty or hostile PDF with a 4xx at once instead of a job
that fails (or runs for an hour) later. Checked here, all cheap:
- it opens, is not password-protected, has at least one page and at most ``max_pages``;
- no page is larger than ``max_page_side_pt`` (a bomb-sized page would make every render enormous);
- no Flate-compressed stream inflates past ``max_stream_mb`` (a decompression bomb: a few hundred KB that
  become gigabytes). Streams are inflated in small steps and counted, never held whole, so the check itself
  uses little memory; filter chains of several Flate layers are followed layer by layer.
Opening happens in a spawned process with a memory limit and a deadline, for the same reason parsing does
(see ``paperlens.ingest.isolate``): PyMuPDF on a hostile file can hang or crash.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel

from paperlens import errors
from paperlens.config import IngestSettings

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 30.0
_STEP = 1 << 16  # bytes inflated per step while counting a stream
_FILTER_NAME = re.compile(r"/(\w+)")


class PdfFacts(BaseModel):
    pages: int
    title: str
    encrypted: bool


def leading_flate_layers(filter_value: str) -> int:
    """How many FlateDecode filters start a stream's filter chain (``/FlateDecode``, ``[/Fl /Fl /DCT]``...).
    Only those can be inflated here; whatever follows another filter is bounded by the parser's limits."""
    layers = 0
    for name in _FILTER_NAME.findall(filter_value or ""):
        if name not in ("FlateDecode", "Fl"):
            break
        layers += 1
    return layers


def _inflate(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Inflate a zlib stream given in pieces, yielding at most ``_STEP`` bytes at a time."""
    inflater = zlib.decompressobj()
    try:
        for piece in pieces:
            data = piece
            while data and not inflater.eof:
                out = inflater.decompress(data, _STEP)
                if out:
                    yield out
                data = inflater.unconsumed_tail
            if inflater.eof:
                return
    except zlib.error:  # a damaged stream: MuPDF keeps what inflates, so count the same
        return


def inflated_size(raw: bytes, layers: int, cap: int) -> int:
    """Bytes ``raw`` becomes through ``layers`` Flate filters, counted up to just past ``cap``."""
    pieces: Iterable[bytes] = (raw,)
    for _ in range(layers):
        pieces = _inflate(pieces)
    total = 0
    for out in pieces:
        total += len(out)
        if total > cap:
            break
    return total


def _int_key(doc, xref: int, key: str) -> int:
    kind, value = doc.xref_get_key(xref, key)
    try:
        return int(float(value)) if kind == "int" or kind == "float" else 0
    except ValueError:
        return 0


def declared_image_bytes(doc, xref: int) -> int:
    """What an image XObject says it decodes to, counted as RGB (width x height x 3 bytes)."""
    if doc.xref_get_key(xref, "Subtype")[1] != "/Image":
        return 0
    return max(0, _int_key(doc, xref, "Width")) * max(0, _int_key(doc, xref, "Height")) * 3


def check_streams(doc, cap_bytes: int) -> None:
    """Refuse the document if any Flate stream inflates, or any image claims to decode, past ``cap_bytes``."""
    bomb = f"more than {cap_bytes // (1024 * 1024)} MB (a decompression bomb?)"
    for xref in range(1, doc.xref_length()):
        try:
            if not doc.xref_is_stream(xref):
                continue
            if declared_image_bytes(doc, xref) > cap_bytes:
                raise errors.PdfTooLargeError(
                    f"image object {xref} decodes to {bomb}", code="decompression_bomb"
                )
            kind, value = doc.xref_get_key(xref, "Filter")
        except errors.PaperlensError:
            raise
        except Exception:  # an unreadable object: the parser copes or fails on it
            continue
        layers = leading_flate_layers(value) if kind in ("name", "array") else 0
        if not layers:
            continue
        try:
            raw = doc.xref_stream_raw(xref)
        except Exception:
            continue
        if raw and inflated_size(raw, layers, cap_bytes) > cap_bytes:
            raise errors.PdfTooLargeError(f"object {xref} inflates to {bomb}", code="decompression_bomb")


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
            check_streams(doc, settings.max_stream_mb * 1024 * 1024)
            facts = PdfFacts(pages=doc.page_count, title=document_title(doc, ""), encrypted=doc.is_encrypted)
        finally:
            doc.close()
        conn.send(("ok", facts.model_dump_json()))
    except errors.PaperlensError as exc:
        conn.send(("error", type(exc).__name__, exc.message, exc.code))
    except MemoryError:
        conn.send(("error", "PdfTooLargeError", "opening the PDF needed more memory than allowed", None))
    except Exception as exc:
        conn.send(
            ("error", "CorruptPdfError", f"the PDF could not be opened: {type(exc).__name__}: {exc}", None)
        )
    finally:
        conn.close()


def _context():
    """A fork server that has imported PyMuPDF once: each probe is a fork of it (milliseconds), not a fresh
    interpreter importing PyMuPDF again (seconds on a busy machine). The server is a clean single-threaded
    process started for this purpose, so forking it is safe; where there is none, plain spawn."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["paperlens.ingest.probe_worker"])
    return ctx


def probe_pdf(path: Path, settings: IngestSettings, timeout_s: float = PROBE_TIMEOUT_S) -> PdfFacts:
    """Open ``path`` in a child process and check it; a typed 4xx ``PaperlensError`` if it is refused."""
    ctx = _context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_probe_child, args=(child, str(path), settings.model_dump_json()), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise errors.CorruptPdfError(
                f"the PDF could not be opened within {timeout_s:g} s", code="probe_timeout"
            )
        try:
            message = parent.recv()
        except EOFError:
            raise errors.CorruptPdfError("opening the PDF crashed the reader", code="probe_crashed") from None
        if message[0] == "ok":
            return PdfFacts.model_validate_json(message[1])
        _, name, text, code = message
        # PyMuPDF names the file in its messages: a client must not learn where the server keeps uploads.
        raise errors.error_class_named(name, errors.CorruptPdfError)(
            text.replace(str(path), "the upload"), code=code
        )
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()


def warm_up() -> None:
    """Start the probe's fork server now (it imports PyMuPDF: seconds), so the first upload does not wait."""
    try:
        if _context().get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()
    except Exception:  # only an optimisation: the first probe starts it otherwise
        log.warning("could not start the probe's fork server early", exc_info=True)
