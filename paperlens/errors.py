"""Typed errors. The core raises these; only ``paperlens.service`` maps them to HTTP.

Each error carries a stable machine-readable ``code`` that clients can rely on, and a human message.
"""

from __future__ import annotations


class PaperlensError(Exception):
    """Base class. ``code`` is stable across releases; the message is for people."""

    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadInputError(PaperlensError):
    """The caller sent something we cannot use. Retrying the same request will fail again."""

    code = "bad_input"


class NotAPdfError(BadInputError):
    code = "not_a_pdf"


class EmptyUploadError(BadInputError):
    code = "empty_file"


class CorruptPdfError(BadInputError):
    code = "corrupt_pdf"


class EncryptedPdfError(BadInputError):
    code = "encrypted_pdf"


class PdfTooLargeError(BadInputError):
    code = "pdf_too_large"


class ImageTooLargeError(BadInputError):
    """An image-search body over the upload limit; cut off while it streams in, never read whole."""

    code = "image_too_large"


class NotFoundError(PaperlensError):
    code = "not_found"


class RetryableError(PaperlensError):
    """Temporary: a backend was busy or rate-limited. Retrying later may work."""

    code = "retry_later"


class StoreUnavailableError(RetryableError):
    """The shared store (PostgreSQL) cannot be reached or timed out. Nothing was written; retry later."""

    code = "store_unavailable"


class QueueFullError(RetryableError):
    code = "queue_full"


class ParseFailedError(PaperlensError):
    """Parsing one PDF crashed, hung or ran out of memory in its worker process."""

    code = "parse_failed"


class IndexMismatchError(PaperlensError):
    """The index on disk was built by a different embedder or settings than the ones configured."""

    code = "index_mismatch"


class BackendUnavailableError(PaperlensError):
    """A configured backend (model weights, API key) is missing. Reported, never silently replaced."""

    code = "backend_unavailable"


class ConfigError(PaperlensError):
    code = "config_error"


class UnknownBackendError(ConfigError):
    """A backend name that no registry knows (``paperlens.backends``); the message lists the known names."""

    code = "unknown_backend"


class GenerationFailedError(PaperlensError):
    """A loaded answer model failed while writing (e.g. out of memory). The request may work when retried."""

    code = "generation_failed"


class UpstreamError(PaperlensError):
    """A remote model API (Gemini) answered with an error that retrying will not fix (bad request, bad key)."""

    code = "upstream_error"


class ModelServerUnavailableError(RetryableError):
    """A model server (OpenAI-compatible, TEI) is down, refused the connection, or still answered 429/5xx after
    the bounded retries. Never replaced by another backend: the request fails with this code."""

    code = "model_server_unavailable"


class ModelServerTimeoutError(RetryableError):
    """A model server did not answer within its timeout (after the bounded retries)."""

    code = "model_server_timeout"


class ModelServerBadReplyError(UpstreamError):
    """A model server answered with something that is not the documented reply (malformed JSON, missing fields,
    a vector of the wrong size), or refused the request itself (a 4xx such as a bad key or an unknown model)."""

    code = "model_server_bad_reply"


class InvalidUploadError(BadInputError):
    """The upload request itself is malformed: not multipart/form-data, no 'file' field, a broken body."""

    code = "invalid_request"


def error_class_named(name: str, default: type[PaperlensError]) -> type[PaperlensError]:
    """The error class a worker process reported by name (errors cross the process boundary as names), or
    ``default`` for a name that is not one of ours."""
    cls = globals().get(name)
    if isinstance(cls, type) and issubclass(cls, PaperlensError):
        return cls
    return default


class LibraryLockedError(PaperlensError):
    """Another process (a running service, another ``paperlens ingest``) is the writer of this data directory."""

    code = "library_locked"
    http_status = 409


class IngestTaskFailedError(PaperlensError):
    """A distributed ingestion task kept failing (its worker died) after its bounded retries."""

    code = "ingest_task_failed"
    http_status = 500
