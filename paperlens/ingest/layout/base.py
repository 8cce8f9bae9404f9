"""Plain data a layout backend reads and writes, and the one interface every backend implements.

``PageContent`` is what PyMuPDF tells us about a page (text blocks with font statistics, boxes of vector
paths and images), copied into plain dataclasses so the layout rules are pure functions that unit tests can
feed by hand. A backend turns a page into ``LayoutBox`` es: kind + bbox + text, not yet ordered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from paperlens.models import BBox, ElementKind


@dataclass
class TextBlock:
    bbox: BBox
    text: str
    lines: int = 1
    size: float = 10.0  # dominant font size (by characters)
    bold: float = 0.0  # share of characters in a bold font
    math: float = 0.0  # share of characters in a math font or math Unicode range
    rotated: bool = False  # any line not written left-to-right (arXiv side stamps, rotated tables)
    line_boxes: list[BBox] = field(default_factory=list)
    #: "top" / "bottom" / "body" when the block recurs across the document as page furniture (a running head,
    #: a licence line), known before layout so no figure or table region grows over it
    furniture: str | None = None

    @property
    def width(self) -> float:
        return self.bbox[2] - self.bbox[0]

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]


@dataclass
class Graphic:
    bbox: BBox
    image: bool = False  # an embedded raster image (else a vector path)


@dataclass
class PageContent:
    number: int  # 1-based
    width: float
    height: float
    blocks: list[TextBlock]
    graphics: list[Graphic]
    body_size: float = 10.0  # the document's running-text font size
    ocr: bool = False  # text came from OCR, not from a text layer


@dataclass
class LayoutBox:
    kind: ElementKind
    bbox: BBox
    text: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class LayoutBackend(Protocol):
    """Turns one page into unordered layout boxes. ``page`` is a PyMuPDF page (for backends that look at
    pixels); ``content`` is the same page as plain data."""

    name: str

    def analyze(self, page: Any, content: PageContent) -> list[LayoutBox]: ...
