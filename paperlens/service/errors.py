"""Typed errors -> JSON ``{"error": {"code", "message"}}`` with the right status. Never a traceback.

The core's errors say what went wrong (``code``) and never how HTTP spells it: the statuses live here, by error
class (the nearest class in the error's ancestry wins), so a new core error is a 500 until it is mapped."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperlens.errors import (
    BackendUnavailableError,
    BadInputError,
    CorruptPdfError,
    EncryptedPdfError,
    ImageTooLargeError,
    InvalidUploadError,
    ModelServerBadReplyError,
    ModelServerTimeoutError,
    ModelServerUnavailableError,
    NotAPdfError,
    NotFoundError,
    PaperlensError,
    ParseFailedError,
    PdfTooLargeError,
    QueueFullError,
    RetryableError,
    StoreUnavailableError,
    UpstreamError,
)
from paperlens.service.auth import ForbiddenError, UnauthorizedError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


#: HTTP status per error class; anything not listed (config, index mismatch, generation failures) is a 500.
STATUS_BY_ERROR: dict[type[PaperlensError], int] = {
    BadInputError: 400,
    NotAPdfError: 415,
    CorruptPdfError: 422,
    EncryptedPdfError: 422,
    ParseFailedError: 422,
    InvalidUploadError: 422,
    PdfTooLargeError: 413,
    ImageTooLargeError: 413,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    QueueFullError: 429,
    RetryableError: 503,
    StoreUnavailableError: 503,
    BackendUnavailableError: 503,
    UpstreamError: 502,
    ModelServerUnavailableError: 503,
    ModelServerTimeoutError: 504,
    ModelServerBadReplyError: 502,
}


def status_for(exc: PaperlensError) -> int:
    for cls in type(exc).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return status
    return 500


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PaperlensError)
    async def _paperlens(_: Request, exc: PaperlensError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        headers = {"Retry-After": "5"} if status in (429, 503) else {}
        headers.update(getattr(exc, "headers", None) or {})  # e.g. WWW-Authenticate on a 401
        return error_response(status, exc.code, exc.message, headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return error_response(422, "invalid_request", problems or "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal_error", "an internal error occurred; it has been logged")
