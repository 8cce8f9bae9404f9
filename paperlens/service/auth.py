"""Optional API keys. Each key is a tenant that sees only its own collection of documents.

Off when ``PAPERLENS_API_KEYS`` is empty (local use): everyone is the "default" tenant and sees everything.
A key is sent as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``. An entry ``name:KEY`` (name of letters,
digits, ``-`` or ``_``) puts the key in the collection ``name``, so several keys can share one collection
(and a key can be rotated without losing its documents); a bare ``KEY`` gets a collection of its own, named
after a hash of the key, never the key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from fastapi import Request

from paperlens.engine import DEFAULT_COLLECTION
from paperlens.errors import PaperlensError

__all__ = [
    "DEFAULT_COLLECTION",
    "ForbiddenError",
    "Tenant",
    "UnauthorizedError",
    "check_document_access",
    "parse_key_entry",
    "tenant_for",
]

_NAMED = re.compile(r"^([A-Za-z0-9_-]{1,64}):(.+)$")


class UnauthorizedError(PaperlensError):
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="paperlens"'}


class ForbiddenError(PaperlensError):
    code = "forbidden"


@dataclass(frozen=True)
class Tenant:
    collection: str
    #: None = no restriction (auth off); otherwise the collections this caller may read
    visible: tuple[str, ...] | None


def collection_for_key(key: str) -> str:
    return "t-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def parse_key_entry(entry: str) -> tuple[str, str]:
    """One configured entry -> (key, collection)."""
    named = _NAMED.match(entry)
    if named:
        return named.group(2), "c-" + named.group(1)
    return entry, collection_for_key(entry)


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("x-api-key", "").strip() or None


def _matches(presented: bytes, configured: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header may hold any byte.
    return hmac.compare_digest(presented, configured.encode("utf-8"))


def tenant_for(request: Request) -> Tenant:
    entries: list[str] = request.app.state.settings.api_keys
    if not entries:
        return Tenant(DEFAULT_COLLECTION, None)
    key = presented_key(request)
    if key is None:
        raise UnauthorizedError(
            "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
        )
    presented = key.encode("utf-8", "surrogateescape")
    collection = None
    for entry in entries:  # every entry is compared, so the time taken does not tell which one matched
        configured, entry_collection = parse_key_entry(entry)
        if _matches(presented, configured) and collection is None:
            collection = entry_collection
    if collection is None:
        raise UnauthorizedError("the API key is not valid")
    return Tenant(collection, (collection,))


def check_document_access(tenant: Tenant, document_collection: str) -> None:
    if tenant.visible is not None and document_collection not in tenant.visible:
        raise ForbiddenError("this document belongs to another tenant")
