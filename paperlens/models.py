"""The data model every stage speaks: Document, Element, Chunk, Hit, Citation, Answer.

Pages are 1-based. A bbox is ``(x0, y0, x1, y1)`` in PDF points with the origin at the top-left of the page
(PyMuPDF's convention). These are plain pydantic models: no I/O, no behaviour beyond small derived values.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import BaseModel, Field

BBox = tuple[float, float, float, float]


class ElementKind(StrEnum):
    TEXT = "text"
    TITLE = "title"  # section heading or document title
    FIGURE = "figure"
    TABLE = "table"
    FORMULA = "formula"
    CAPTION = "caption"
    LIST = "list"
    HEADER = "header"  # running page header
    FOOTER = "footer"  # running page footer, page numbers
    FOOTNOTE = "footnote"


#: Kinds that are cropped to an image and become a chunk of their own.
VISUAL_KINDS = frozenset({ElementKind.FIGURE, ElementKind.TABLE, ElementKind.FORMULA})
#: Kinds that never reach a chunk: they repeat on every page and only add noise to retrieval.
FURNITURE_KINDS = frozenset({ElementKind.HEADER, ElementKind.FOOTER})


def document_id_for(data: bytes) -> str:
    """A document is keyed by the SHA-256 of its bytes, so re-uploading the same file is a no-op."""
    return hashlib.sha256(data).hexdigest()


class Document(BaseModel):
    id: str
    title: str
    pages: int
    filename: str = ""
    size_bytes: int = 0
    collection: str = "default"
    status: str = "ready"
    created_at: float = 0.0


class Element(BaseModel):
    """One region of a page as a reader sees it: a paragraph, a heading, a figure, a table, a formula."""

    id: str
    document_id: str
    page: int
    bbox: BBox
    kind: ElementKind
    text: str = ""
    order: int = 0  # reading order within the page
    section: str | None = None  # the heading this element sits under
    caption: str | None = None  # for figures/tables: the caption text linked to it
    markdown: str | None = None  # for tables: the recovered structure as Markdown
    description: str | None = None  # for visuals: structured text from a describer
    references: list[str] = Field(default_factory=list)  # sentences that cite this element ("see Fig. 3")
    crop_path: str | None = None  # PNG, relative to the data directory
    meta: dict = Field(default_factory=dict)

    @property
    def is_visual(self) -> bool:
        return self.kind in VISUAL_KINDS


def element_id_for(document_id: str, page: int, order: int) -> str:
    return f"{document_id[:16]}-{page:04d}-{order:03d}"


class Chunk(BaseModel):
    """The unit of retrieval: text from one or more elements of one page, or one visual element."""

    id: int | None = None  # assigned by the store; also the vector id in FAISS
    document_id: str
    page: int
    bbox: BBox
    kind: ElementKind = ElementKind.TEXT
    text: str
    element_ids: list[str] = Field(default_factory=list)
    section: str | None = None


class Hit(BaseModel):
    chunk_id: int
    document_id: str
    page: int
    bbox: BBox
    kind: ElementKind
    text: str
    score: float
    element_id: str | None = None
    section: str | None = None
    title: str = ""
    image_url: str | None = None
    #: where the hit came from and its rank there, e.g. {"dense": 1, "keyword": 4}
    sources: dict[str, int] = Field(default_factory=dict)


class Citation(BaseModel):
    n: int
    chunk_id: int
    document_id: str
    title: str
    page: int
    bbox: BBox
    kind: ElementKind
    quote: str
    image_url: str | None = None
    #: the quote's language (ISO 639-1; the papers' own, usually "en", whatever the question's)
    lang: str = "und"


class Answer(BaseModel):
    answer: str
    citations: list[Citation]
    evidence: list[Hit]
    backend: str
    #: problems found while checking the answer, e.g. citations to evidence that does not exist
    warnings: list[str] = Field(default_factory=list)
    #: the answer text's language and the question's (ISO 639-1, "und" when unknown): an extractive answer
    #: quotes the papers, so a Persian question gets an English answer, and a client can say so
    lang: str = "und"
    question_lang: str = "und"
    #: the English translation the evidence was searched with (retrieve.translate_queries), else None
    searched_as: str | None = None
