"""Receive an uploaded PDF by streaming the request body to disk, enforcing the size limit as bytes arrive.

Starlette's ``UploadFile`` would buffer the whole multipart body (in memory, then in the system's temp
folder) before the route runs, so a 10 GB upload would fill a disk before anyone checked its size. Here the
body is parsed chunk by chunk: the ``file`` part goes straight into a temp file under the data directory,
hashed and counted as it is written, and the upload stops with 413 the moment it passes the limit. The temp
file has a generated name (the client's filename is only kept as metadata) and is removed on every error.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from paperlens.engine import check_pdf_bytes
from paperlens.errors import InvalidUploadError, PdfTooLargeError

#: Multipart framing and small form fields allowed on top of the file's own size limit.
ENVELOPE_BYTES = 64 * 1024
TEMP_PREFIX = ".upload-"
TEMP_SUFFIX = ".part"
_HEAD_BYTES = 1024
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")

#: The request body as OpenAPI sees it (the route reads the stream itself, so FastAPI cannot infer it).
OPENAPI_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "the PDF"}},
            }
        }
    },
}


@dataclass(frozen=True)
class ReceivedUpload:
    path: Path  # the temp file; the caller moves or deletes it
    document_id: str
    size: int
    filename: str


def clean_filename(raw: str | None) -> str:
    """The client's filename reduced to a harmless label: last path component, printable, at most 255."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNPRINTABLE.sub("", name).strip()
    if name in ("", ".", ".."):
        name = "upload.pdf"
    return name[:255]


class _FilePart:
    """Callbacks for ``MultipartParser``: the part named ``file`` goes to ``out``; other parts are dropped."""

    def __init__(self, out: BinaryIO, hasher, limit: int) -> None:
        self.out = out
        self.hasher = hasher
        self.limit = limit
        self.size = 0
        self.head = b""
        self.filename: str | None = None
        self.seen = False
        self._in_file = False
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._field = self._value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != b"file":
            return
        if self.seen:
            raise InvalidUploadError("send one PDF per upload (the form has two 'file' fields)")
        self.seen = self._in_file = True
        raw = options.get(b"filename")
        self.filename = raw.decode("utf-8", "replace") if raw is not None else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            return
        piece = data[start:end]
        self.size += len(piece)
        if self.size > self.limit:
            raise PdfTooLargeError(f"the file is larger than the {self.limit // (1024 * 1024)} MB limit")
        if len(self.head) < _HEAD_BYTES:
            self.head += piece[: _HEAD_BYTES - len(self.head)]
        self.hasher.update(piece)
        self.out.write(piece)

    def _part_end(self) -> None:
        self._in_file = False


async def capped_body(
    request: Request, limit: int, too_large: Callable[[], Exception]
) -> AsyncGenerator[bytes, None]:
    """The request body, refused with ``too_large()`` once it is known to pass ``limit`` plus the multipart
    envelope: from a declared Content-Length before a byte is read, else (a lying or absent Content-Length)
    while it streams in. The rest of an oversized body is never read."""
    ceiling = limit + ENVELOPE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ceiling:
        raise too_large()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > ceiling:
            raise too_large()
        yield chunk


async def receive_pdf(request: Request, dest_dir: Path, limit: int, hasher) -> ReceivedUpload:
    """Stream the ``file`` field of a multipart request into ``dest_dir``; typed 4xx errors otherwise.

    ``hasher`` is a fresh SHA-256 (possibly pre-seeded, see ``engine.document_hasher``); its hex digest over
    the file's bytes becomes the document id.
    """
    mime, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise InvalidUploadError("send the PDF as multipart/form-data in a field named 'file'")
    body = capped_body(
        request,
        limit,
        lambda: PdfTooLargeError(f"the upload is larger than the {limit // (1024 * 1024)} MB limit"),
    )
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / f"{TEMP_PREFIX}{uuid.uuid4().hex}{TEMP_SUFFIX}"
    try:
        with open(tmp, "wb") as out:
            part = _FilePart(out, hasher, limit)
            parser = MultipartParser(boundary, part.callbacks())  # type: ignore[arg-type]  # a plain dict of them
            async for chunk in body:
                parser.write(chunk)
            parser.finalize()
        if not part.seen:
            raise InvalidUploadError("the form has no field named 'file'")
        check_pdf_bytes(part.head)
    except MultipartParseError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidUploadError(f"the multipart body is malformed: {exc}") from None
    except ClientDisconnect:
        tmp.unlink(missing_ok=True)
        raise InvalidUploadError("the client went away before the upload finished") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ReceivedUpload(tmp, hasher.hexdigest(), part.size, clean_filename(part.filename))
