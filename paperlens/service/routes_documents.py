"""Documents: upload (-> job), list, fetch, delete, elements, crops and page images; jobs."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from paperlens.engine import Engine, check_pdf_bytes
from paperlens.errors import NotFoundError, PdfTooLargeError
from paperlens.ingest.probe import probe_pdf
from paperlens.models import Document, Element, ElementKind
from paperlens.service.auth import Tenant, check_document_access, tenant_for

router = APIRouter(prefix="/v1", tags=["documents"])

_COPY_CHUNK = 1 << 20
# PyMuPDF is not thread-safe; page renders in the server process take turns.
_render_lock = threading.Lock()


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


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
        "image_url": f"/v1/elements/{element.id}/image" if element.crop_path else None,
    }


async def _save_upload(file: UploadFile, dest_dir: Path, limit: int) -> tuple[Path, str, int]:
    """Copy the upload to a temp file under a generated name, hashing and counting as it goes."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / f".upload-{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(tmp, "wb") as out:
            while chunk := await file.read(_COPY_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PdfTooLargeError(f"the file is larger than the {limit // (1024 * 1024)} MB limit")
                if len(head) < 1024:
                    head += chunk[: 1024 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        check_pdf_bytes(head)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest(), size


@router.post("/documents", status_code=202, summary="Upload a PDF; ingestion runs as a background job")
async def upload_document(
    request: Request,
    file: UploadFile = File(..., description="the PDF"),
    tenant: Tenant = Depends(tenant_for),
):
    engine = engine_of(request)
    settings = engine.settings
    limit = settings.max_upload_mb * 1024 * 1024
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise PdfTooLargeError(f"the upload is larger than the {settings.max_upload_mb} MB limit")
    tmp, document_id, size = await _save_upload(file, settings.uploads_dir, limit)
    try:
        if engine.store.has_document(document_id):
            check_document_access(tenant, engine.store.get_document(document_id).collection)
            job = engine.store.latest_job_for(document_id)
            return JSONResponse(
                {"job_id": job.id if job else None, "document_id": document_id}, status_code=200
            )
        active = engine.store.active_job_for(document_id)
        if active is not None:
            return JSONResponse({"job_id": active.id, "document_id": document_id}, status_code=202)
        await asyncio.to_thread(probe_pdf, tmp, settings.ingest)
        final = settings.uploads_dir / f"{document_id}.pdf"
        os.replace(tmp, final)
        filename = Path(file.filename or "upload.pdf").name[:255]
        job = request.app.state.runner.submit(document_id, final, filename, tenant.collection)
    finally:
        tmp.unlink(missing_ok=True)
    return {"job_id": job.id, "document_id": document_id}


@router.get("/jobs/{job_id}", summary="Status and progress of an ingestion job")
def get_job(job_id: str, request: Request, tenant: Tenant = Depends(tenant_for)):
    job = engine_of(request).store.get_job(job_id)
    check_document_access(tenant, job.collection)
    return job.to_wire()


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
    path = (engine.settings.data_dir / element.crop_path).resolve()
    if not path.is_relative_to(engine.settings.data_dir.resolve()) or not path.is_file():
        raise NotFoundError(f"the image of element {element_id} is missing")
    return FileResponse(path, media_type="image/png")


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
    pdf = engine.settings.uploads_dir / f"{document_id}.pdf"
    if not pdf.is_file():
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
