"""Optional API keys. Each key is a tenant that sees only its own collection of documents.

Off when ``PAPERLENS_API_KEYS`` is empty (local use): everyone is the "default" tenant and sees everything.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request

from paperlens.errors import PaperlensError

DEFAULT_COLLECTION = "default"


class UnauthorizedError(PaperlensError):
    code = "unauthorized"
    http_status = 401


class ForbiddenError(PaperlensError):
    code = "forbidden"
    http_status = 403


@dataclass(frozen=True)
class Tenant:
    collection: str
    #: None = no restriction (auth off); otherwise the collections this caller may read
    visible: tuple[str, ...] | None


def collection_for_key(key: str) -> str:
    return "t-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def tenant_for(request: Request) -> Tenant:
    keys: list[str] = request.app.state.settings.api_keys
    if not keys:
        return Tenant(DEFAULT_COLLECTION, None)
    key = presented_key(request)
    if key is None:
        raise UnauthorizedError(
            "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
        )
    if not any(hmac.compare_digest(key, k) for k in keys):
        raise UnauthorizedError("the API key is not valid")
    collection = collection_for_key(key)
    return Tenant(collection, (collection,))


def check_document_access(tenant: Tenant, document_collection: str) -> None:
    if tenant.visible is not None and document_collection not in tenant.visible:
        raise ForbiddenError("this document belongs to another tenant")
