"""Search and ask: the retrieval path shared with the CLI and the benchmark."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from paperlens.engine import Engine
from paperlens.errors import PaperlensError
from paperlens.generate.citations import build_answer
from paperlens.service.auth import Tenant, tenant_for
from paperlens.service.schemas import AskRequest, SearchRequest

router = APIRouter(prefix="/v1", tags=["query"])


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _hit_wire(hit) -> dict:
    return hit.model_dump(mode="json")


@router.post("/search", summary="Hybrid search over text, tables, figures and formulas")
async def search(body: SearchRequest, request: Request, tenant: Tenant = Depends(tenant_for)):
    engine = _engine(request)
    hits = await asyncio.to_thread(
        engine.search,
        body.query,
        body.k,
        body.document_ids,
        body.kinds,
        body.pages,
        tenant.visible,
    )
    return {"hits": [_hit_wire(h) for h in hits]}


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _stream_events(engine: Engine, body: AskRequest, tenant: Tenant) -> Iterator[str]:
    try:
        evidence = engine.search(
            body.question, k=body.k, document_ids=body.document_ids, collections=tenant.visible
        )
        yield _sse("evidence", {"evidence": [_hit_wire(h) for h in evidence]})
        parts: list[str] = []
        for token in engine.generator.stream(body.question, evidence):
            parts.append(token)
            yield _sse("token", {"text": token})
        answer = build_answer("".join(parts), evidence, backend=engine.generator.name)
        yield _sse("final", answer.model_dump(mode="json"))
    except PaperlensError as exc:
        yield _sse("error", {"code": exc.code, "message": exc.message})
    except Exception:
        yield _sse("error", {"code": "internal_error", "message": "answering failed; it has been logged"})


@router.post(
    "/ask",
    summary="Answer a question from the papers, with citations (SSE when stream=true)",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
)
async def ask(body: AskRequest, request: Request, tenant: Tenant = Depends(tenant_for)):
    engine = _engine(request)
    if body.stream:
        return StreamingResponse(
            _stream_events(engine, body, tenant),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = await asyncio.to_thread(engine.ask, body.question, body.k, body.document_ids, tenant.visible)
    return answer.model_dump(mode="json")
