"""PyMuPDF ≥ 2.0's own layout model (``pymupdf.layout``, an ONNX graph network) as a layout backend.

The model labels PyMuPDF's text and image boxes with eleven classes; we map them onto ``ElementKind`` and
take each box's text from the page's own blocks, so both backends hand the parser the same shape of data.
It costs ~0.5-1 s a page on these CPUs (see benchmarks/layout_compare.py), which is why it is not the default.
"""

from __future__ import annotations

from typing import Any

from paperlens.ingest.captions import caption_label
from paperlens.ingest.layout.base import LayoutBox, PageContent
from paperlens.models import BBox, ElementKind

_KINDS = {
    "page-header": ElementKind.HEADER,
    "page-footer": ElementKind.FOOTER,
    "title": ElementKind.TITLE,
    "section-header": ElementKind.TITLE,
    "text": ElementKind.TEXT,
    "list-item": ElementKind.LIST,
    "footnote": ElementKind.FOOTNOTE,
    "caption": ElementKind.CAPTION,
    "picture": ElementKind.FIGURE,
    "table": ElementKind.TABLE,
    "formula": ElementKind.FORMULA,
}


def _center_inside(inner: BBox, outer: BBox, slack: float = 1.0) -> bool:
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] - slack <= cx <= outer[2] + slack and outer[1] - slack <= cy <= outer[3] + slack


def boxes_from_model(raw: list[Any], content: PageContent) -> list[LayoutBox]:
    """Model output ``[x0, y0, x1, y1, class]`` rows -> layout boxes with the text of the blocks inside."""
    out: list[LayoutBox] = []
    for row in raw:
        x0, y0, x1, y1, label = row[:5]
        kind = _KINDS.get(str(label), ElementKind.TEXT)
        box: BBox = (float(x0), float(y0), float(x1), float(y1))
        text = " ".join(b.text for b in content.blocks if _center_inside(b.bbox, box))
        meta: dict[str, Any] = {"model_class": str(label)}
        if kind == ElementKind.CAPTION:
            label_key = caption_label(text)
            if label_key:
                meta["label"] = list(label_key)
        if kind in (ElementKind.FIGURE, ElementKind.TABLE):
            box = _grow_to_graphics(box, content)
        out.append(LayoutBox(kind, box, text, meta))
    return out


def _grow_to_graphics(box: BBox, content: PageContent) -> BBox:
    """The model boxes a table by its words and a plot by what it saw; the rules and strokes that touch the
    box belong to it too, so the crop shows the whole grid or drawing."""
    area = (box[2] - box[0]) * (box[3] - box[1])
    x0, y0, x1, y1 = box
    for g in content.graphics:
        gx0, gy0, gx1, gy1 = g.bbox
        touches = gx0 <= x1 and box[0] <= gx1 and gy0 <= y1 and box[1] <= gy1
        if touches and (gx1 - gx0) * (gy1 - gy0) <= 3 * area:
            x0, y0, x1, y1 = min(x0, gx0), min(y0, gy0), max(x1, gx1), max(y1, gy1)
    return (x0, y0, x1, y1)


class PyMuPDFLayout:
    name = "pymupdf"

    def __init__(self) -> None:
        import pymupdf.layout  # noqa: F401  (importing it installs the model behind page.get_layout)

    def analyze(self, page: Any, content: PageContent) -> list[LayoutBox]:
        if content.ocr:  # the model reads the text layer; an OCR'd page has none, so keep OCR lines as text
            return [LayoutBox(ElementKind.TEXT, b.bbox, b.text) for b in content.blocks]
        page.get_layout()
        return boxes_from_model(list(page.layout_information or []), content)
