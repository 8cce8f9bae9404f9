"""Documents: upload (-> job), list, fetch, delete, elements, crops and page images; jobs."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from paperlens.engine import Engine, document_hasher
from paperlens.errors import NotFoundError
from paperlens.index.store.base import upload_key
from paperlens.ingest.probe import probe_pdf
from paperlens.models import Document, Element, ElementKind
from paperlens.service.app_state import engine_of
from paperlens.service.auth import Tenant, check_document_access, tenant_for
from paperlens.service.jobs import job_wire
from paperlens.service.uploads import OPENAPI_BODY, receive_pdf
from paperlens.service.urls import element_image_url

router = APIRouter(prefix="/v1", tags=["documents"])

# PyMuPDF is not thread-safe; page renders in the server process take turns.
_render_lock = threading.Lock()
# Each probe is a short-lived process; a burst of uploads opens a few at a time, not one per request.
_probe_slots = threading.BoundedSemaphore(max(2, min(8, os.cpu_count() or 2)))


def _document_wire(engine: Engine, doc: Document) -> dict:
    job = engine.store.latest_job_for(doc.id)
    return {
        "id": doc.id,
        "title": doc.title,
        "pages": doc.pages,
        "filename": doc.filename,
        "status": doc.status,
        "counts": engine.store.element_counts(doc.id),
        "created_at": doc.created_at,
        "job_id": job.id if job else None,
    }


def element_wire(element: Element) -> dict:
    return {
        "id": element.id,
        "document_id": element.document_id,
        "kind": element.kind.value,
        "page": element.page,
        "bbox": list(element.bbox),
        "order": element.order,
        "section": element.section,
        "text": element.text,
        "caption": element.caption,
        "markdown": element.markdown,
        "description": element.description,
        "references": element.references,
        "image_url": element_image_url(element.id) if element.crop_path else None,
    }


def _known_upload(engine: Engine, tenant: Tenant, document_id: str) -> JSONResponse | None:
    """The answer for bytes this collection already has, or has queued: the same ids, no second job."""
    if engine.store.has_document(document_id):
        check_document_access(tenant, engine.store.get_document(document_id).collection)
        job = engine.store.latest_job_for(document_id)
        return JSONResponse({"job_id": job.id if job else None, "document_id": document_id}, status_code=200)
    active = engine.store.active_job_for(document_id)
    if active is not None:
        return JSONResponse({"job_id": active.id, "document_id": document_id}, status_code=202)
    return None


def _probe(path: Path, settings) -> None:
    with _probe_slots:
        probe_pdf(path, settings)


@router.post(
    "/documents",
    status_code=202,
    summary="Upload a PDF; ingestion runs as a background job",
    openapi_extra={"requestBody": OPENAPI_BODY},
)
async def upload_document(request: Request, tenant: Tenant = Depends(tenant_for)):
    engine = engine_of(request)
    settings = engine.settings
    runner = request.app.state.runner
    runner.check_capacity()  # before reading the body: a full queue should not cost anyone an upload
    upload = await receive_pdf(
        request,
        settings.uploads_dir,
        settings.max_upload_mb * 1024 * 1024,
        document_hasher(tenant.collection),
    )
    try:
        known = _known_upload(engine, tenant, upload.document_id)
        if known is not None:
            return known
        await asyncio.to_thread(_probe, upload.path, settings.ingest)
        # Checked again after the await: the same bytes may have been accepted by a concurrent upload.
        known = _known_upload(engine, tenant, upload.document_id)
        if known is not None:
            return known
        job = runner.submit(upload.document_id, upload.path, upload.filename, tenant.collection)
    finally:
        upload.path.unlink(missing_ok=True)
    return {"job_id": job.id, "document_id": upload.document_id}


#: Jobs not yet done: waiting, becoming searchable, or searchable with deferred stages still to run.
ACTIVE_JOB_STATUSES = ("queued", "running", "searchable", "enriching")


@router.get(
    "/jobs",
    summary="Ingestion jobs still queued, running or enriching",
    description="So a client that lost its job ids (a reloaded page, a restarted script) can follow them again. "
    "Only the caller's own jobs; oldest first.",
)
def list_active_jobs(request: Request, tenant: Tenant = Depends(tenant_for)):
    jobs = engine_of(request).store.list_jobs(ACTIVE_JOB_STATUSES)
    visible = [j for j in jobs if tenant.visible is None or j.collection in tenant.visible]
    return {"jobs": [job_wire(j) for j in visible]}


@router.get("/jobs/{job_id}", summary="Status and progress of an ingestion job")
def get_job(job_id: str, request: Request, tenant: Tenant = Depends(tenant_for)):
    job = engine_of(request).store.get_job(job_id)
    check_document_access(tenant, job.collection)
    return job_wire(job)


@router.get("/documents", summary="List documents")
def list_documents(request: Request, tenant: Tenant = Depends(tenant_for)):
    engine = engine_of(request)
    docs = engine.store.list_documents(tenant.visible)
    return {"documents": [_document_wire(engine, d) for d in docs]}


def _visible_document(engine: Engine, tenant: Tenant, document_id: str) -> Document:
    doc = engine.store.get_document(document_id)
    check_document_access(tenant, doc.collection)
    return doc


@router.get("/documents/{document_id}", summary="One document")
def get_document(document_id: str, request: Request, tenant: Tenant = Depends(tenant_for)):
    engine = engine_of(request)
    return _document_wire(engine, _visible_document(engine, tenant, document_id))


@router.delete("/documents/{document_id}", status_code=204, summary="Delete a document from every index")
def delete_document(document_id: str, request: Request, tenant: Tenant = Depends(tenant_for)):
    engine = engine_of(request)
    _visible_document(engine, tenant, document_id)
    engine.delete_document(document_id)
    return Response(status_code=204)


@router.get("/documents/{document_id}/elements", summary="Layout elements, filterable by kind and page")
def list_elements(
    document_id: str,
    request: Request,
    kind: ElementKind | None = Query(None),
    page: int | None = Query(None, ge=1),
    tenant: Tenant = Depends(tenant_for),
):
    engine = engine_of(request)
    _visible_document(engine, tenant, document_id)
    elements = engine.store.list_elements(document_id, kind.value if kind else None, page)
    return {"elements": [element_wire(e) for e in elements]}


@router.get(
    "/elements/{element_id}/image",
    summary="The PNG crop of a figure, table or formula",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}}},
)
def element_image(element_id: str, request: Request, tenant: Tenant = Depends(tenant_for)):
    engine = engine_of(request)
    element = engine.store.get_element(element_id)
    _visible_document(engine, tenant, element.document_id)
    if not element.crop_path:
        raise NotFoundError(f"element {element_id} has no image")
    try:
        # From this replica's disk, or from the shared store when another replica ingested the document.
        png = engine.store.read_blob(element.crop_path)
    except NotFoundError:
        raise NotFoundError(f"the image of element {element_id} is missing") from None
    return Response(png, media_type="image/png")


@router.get(
    "/documents/{document_id}/pages/{page}/image",
    summary="A page rendered as PNG (for showing cited regions)",
    responses={200: {"content": {"image/png": {}}}},
)
def page_image(
    document_id: str,
    page: int,
    request: Request,
    dpi: int = Query(100, ge=36, le=300),
    tenant: Tenant = Depends(tenant_for),
):
    engine = engine_of(request)
    doc = _visible_document(engine, tenant, document_id)
    if not 1 <= page <= doc.pages:
        raise NotFoundError(f"document {document_id} has pages 1..{doc.pages}")
    pdf = engine.store.blob_path(upload_key(document_id))
    if pdf is None:
        raise NotFoundError("the original PDF of this document is not stored")
    import pymupdf

    with _render_lock, pymupdf.open(pdf) as pdf_doc:
        pdf_page = pdf_doc[page - 1]
        png = pdf_page.get_pixmap(dpi=dpi).tobytes("png")
        width_pt, height_pt = pdf_page.rect.width, pdf_page.rect.height
    # The page size in points lets a client place bboxes (points) on the render without knowing the dpi.
    headers = {
        "Cache-Control": "private, max-age=3600",
        "X-Page-Width": f"{width_pt:.2f}",
        "X-Page-Height": f"{height_pt:.2f}",
    }
    return Response(png, media_type="image/png", headers=headers)
