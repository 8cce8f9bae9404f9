"""Search and ask: the retrieval path shared with the CLI and the benchmark."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.formparsers import MultiPartParser

from paperlens.engine import Engine
from paperlens.errors import BadInputError, ImageTooLargeError, PaperlensError
from paperlens.generate import sse_format, stream_answer
from paperlens.models import ElementKind
from paperlens.service.app_state import engine_of
from paperlens.service.auth import Tenant, tenant_for
from paperlens.service.schemas import AskRequest, SearchRequest
from paperlens.service.uploads import capped_body

router = APIRouter(prefix="/v1", tags=["query"])


def _hit_wire(hit) -> dict:
    return hit.model_dump(mode="json")


class ImageSearchForm(BaseModel):
    """The non-file fields of a multipart search: the JSON body's fields, repeated fields for lists."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field("", max_length=4000, description="optional text, searched and fused with the image")
    k: int = Field(8, ge=1, le=100)
    document_ids: list[str] | None = Field(None, max_length=1000)
    kinds: list[ElementKind] | None = None
    pages: tuple[int, int] | None = Field(None, description="inclusive 1-based page range: two fields")


def _inline_schema(model: type[BaseModel]) -> dict:
    """A model's JSON schema with its ``$defs`` inlined, to sit inside the OpenAPI document by itself."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


def _search_openapi() -> dict:
    form = _inline_schema(ImageSearchForm)
    form["properties"]["image"] = {"type": "string", "format": "binary", "description": "PNG, JPEG, ..."}
    form["required"] = ["image"]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _inline_schema(SearchRequest)},
                "multipart/form-data": {"schema": form},
            },
        }
    }


def _validated(model: type[BaseModel], data) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        ) from None


async def _json_search(request: Request) -> SearchRequest:
    try:
        data = await request.json()
    except ValueError:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "the body is not valid JSON", "type": "json_invalid"}]
        ) from None
    return _validated(SearchRequest, data)  # type: ignore[return-value]


async def _image_search(request: Request) -> tuple[ImageSearchForm, bytes]:
    limit = request.app.state.settings.max_upload_mb * 1024 * 1024

    def too_large() -> ImageTooLargeError:
        return ImageTooLargeError(f"the image is larger than {limit // (1024 * 1024)} MB")

    body = capped_body(request, limit, too_large)
    try:
        form = await MultiPartParser(request.headers, body).parse()
    except ImageTooLargeError:
        raise
    except Exception as exc:  # a malformed multipart body
        raise BadInputError(f"the multipart body could not be read: {exc}") from None
    try:
        upload = form.get("image")
        if not isinstance(upload, StarletteUploadFile):
            raise BadInputError(
                "a multipart search needs an image file in the field 'image'", code="no_image"
            )
        image = await upload.read(limit + 1)
        if len(image) > limit:
            raise too_large()
        if not image:
            raise BadInputError("the image is empty", code="empty_file")
        fields: dict = {}
        for name in form:
            if name == "image":
                continue
            values = [v for v in form.getlist(name) if isinstance(v, str)]
            fields[name] = (
                values if name in ("document_ids", "kinds", "pages") else (values[-1] if values else "")
            )
    finally:
        await form.close()
    return _validated(ImageSearchForm, fields), image  # type: ignore[return-value]


@router.post(
    "/search",
    summary="Hybrid search over text, tables, figures and formulas; by text (JSON) or by image (multipart)",
    description="JSON body: a text query. multipart/form-data: an `image` file (figures and crops that look "
    "like it, through CLIP; needs image_embed enabled, else 503 `image_search_disabled`), with the JSON "
    "body's other fields as form fields (`query` optional, lists as repeated fields, `pages` twice).",
    openapi_extra=_search_openapi(),
)
async def search(request: Request, tenant: Tenant = Depends(tenant_for)):
    engine = engine_of(request)
    image: bytes | None = None
    body: SearchRequest | ImageSearchForm
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        body, image = await _image_search(request)
    else:
        body = await _json_search(request)
    # A question not in English may be translated first (retrieve.translate_queries): the reply says what was
    # searched, so a reader can see a translation that went wrong.
    hits, searched_as = await asyncio.to_thread(
        engine.search_translated,
        body.query,
        k=body.k,
        document_ids=body.document_ids,
        kinds=body.kinds,
        pages=body.pages,
        collections=tenant.visible,
        image=image,
    )
    return {"hits": [_hit_wire(h) for h in hits], "searched_as": searched_as}


def _sse(event: str, data: dict) -> str:
    return sse_format({"event": event, "data": data})


def _stream_events(engine: Engine, body: AskRequest, tenant: Tenant) -> Iterator[str]:
    """``evidence`` first, then stream_answer's guarded ``token`` events and one ``final`` (or ``error``)."""
    try:
        evidence, searched_as = engine.search_translated(
            body.question, k=body.k, document_ids=body.document_ids, collections=tenant.visible
        )
    except PaperlensError as exc:
        yield _sse("error", {"code": exc.code, "message": exc.message})
        return
    except Exception:
        yield _sse("error", {"code": "internal_error", "message": "answering failed; it has been logged"})
        return
    yield _sse("evidence", {"evidence": [_hit_wire(h) for h in evidence], "searched_as": searched_as})
    for event in stream_answer(body.question, evidence, engine.generator):
        if event["event"] == "final":
            event["data"]["searched_as"] = searched_as  # as the plain ask's Answer carries it
        yield sse_format(event)


@router.post(
    "/ask",
    summary="Answer a question from the papers, with citations (SSE when stream=true)",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
)
async def ask(body: AskRequest, request: Request, tenant: Tenant = Depends(tenant_for)):
    engine = engine_of(request)
    if body.stream:
        return StreamingResponse(
            _stream_events(engine, body, tenant),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = await asyncio.to_thread(
        engine.ask,
        question=body.question,
        k=body.k,
        document_ids=body.document_ids,
        collections=tenant.visible,
    )
    return answer.model_dump(mode="json")
