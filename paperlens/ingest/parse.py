"""PDF -> layout elements, in-process. Call it through ``paperlens.ingest.isolate`` for untrusted files.

This is the parser's contract: ``parse_pdf`` returns a ``ParsedDocument`` whose elements carry page, bbox,
kind and reading order, with crops of visual elements written under ``crops_dir``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from paperlens.config import IngestSettings
from paperlens.errors import CorruptPdfError, EncryptedPdfError, PdfTooLargeError
from paperlens.models import Element, ElementKind, element_id_for

PARSER_VERSION = "1"

ProgressFn = Callable[[int, int], None]


class ParsedDocument(BaseModel):
    title: str
    pages: int
    elements: list[Element]
    stats: dict = Field(default_factory=dict)


def open_pdf(path: Path, settings: IngestSettings):
    """Open and validate a PDF, raising typed errors for the cases a user can fix."""
    import pymupdf

    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # PyMuPDF raises several types for broken files
        raise CorruptPdfError(f"the file could not be read as a PDF: {exc}") from exc
    if doc.needs_pass and not doc.authenticate(""):
        doc.close()
        raise EncryptedPdfError("the PDF is encrypted and needs a password to open")
    if doc.page_count == 0:
        doc.close()
        raise CorruptPdfError("the PDF has no pages")
    if doc.page_count > settings.max_pages:
        n = doc.page_count
        doc.close()
        raise PdfTooLargeError(f"the PDF has {n} pages; the limit is {settings.max_pages}")
    return doc


def document_title(doc, fallback: str) -> str:
    title = (doc.metadata or {}).get("title") or ""
    title = title.strip()
    if len(title) >= 4 and not title.lower().startswith(("microsoft word", "untitled")):
        return title
    return fallback


def parse_pdf(
    path: Path,
    document_id: str,
    crops_dir: Path,
    settings: IngestSettings,
    progress: ProgressFn | None = None,
    fallback_title: str = "",
) -> ParsedDocument:
    """First version: PyMuPDF text blocks per page, in PyMuPDF's reading order."""
    doc = open_pdf(path, settings)
    try:
        elements: list[Element] = []
        for pno in range(doc.page_count):
            page = doc[pno]
            order = 0
            for block in page.get_text("blocks", sort=True):
                x0, y0, x1, y1, text, _block_no, block_type = block[:7]
                text = " ".join(text.split())
                if block_type != 0 or not text:
                    continue
                elements.append(
                    Element(
                        id=element_id_for(document_id, pno + 1, order),
                        document_id=document_id,
                        page=pno + 1,
                        bbox=(x0, y0, x1, y1),
                        kind=ElementKind.TEXT,
                        text=text,
                        order=order,
                    )
                )
                order += 1
            if progress:
                progress(pno + 1, doc.page_count)
        return ParsedDocument(
            title=document_title(doc, fallback_title or path.stem),
            pages=doc.page_count,
            elements=elements,
        )
    finally:
        doc.close()
