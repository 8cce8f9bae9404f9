"""Running headers, footers and page numbers found across the whole document, not one page at a time.

A page-local margin rule misses a running title set a little lower than usual, or an ACL page number 60 pt
above the bottom edge. Seen across pages they are obvious: the same short text (digits aside) in the same
top or bottom band on many pages. Pure: plain page contents in, the set of recurring keys out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from paperlens.ingest.layout.base import LayoutBox, PageContent
from paperlens.models import ElementKind

_BAND = 0.12  # top/bottom share of the page searched for furniture
_MAX_CHARS = 150
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^(page\s*)?(\d{1,5}|[ivxlc]{1,6})(\s*(/|of)\s*\d{1,5})?$", re.I)


def _band(bbox: tuple, height: float) -> str | None:
    if bbox[3] <= _BAND * height:
        return "top"
    if bbox[1] >= (1 - _BAND) * height:
        return "bottom"
    return None


def furniture_key(text: str, bbox: tuple, height: float) -> tuple[str, str] | None:
    band = _band(bbox, height)
    if band is None or len(text) > _MAX_CHARS:
        return None
    return band, _DIGITS.sub("#", " ".join(text.lower().split()))


def recurring_furniture(contents: Sequence[PageContent]) -> set[tuple[str, str]]:
    """Keys (band, text with digits masked) that recur on at least 3 pages and a quarter of them."""
    pages: Counter[tuple[str, str]] = Counter()
    for content in contents:
        keys = {furniture_key(b.text, b.bbox, content.height) for b in content.blocks}
        pages.update(k for k in keys if k is not None)
    need = max(3, round(0.25 * len(contents)))
    return {key for key, n in pages.items() if n >= need}


def mark_furniture(boxes: list[LayoutBox], content: PageContent, recurring: set[tuple[str, str]]) -> None:
    """Relabel text boxes that are recurring furniture or a bare page number in the top/bottom band."""
    for box in boxes:
        if box.kind not in (ElementKind.TEXT, ElementKind.TITLE, ElementKind.FOOTNOTE, ElementKind.LIST):
            continue
        key = furniture_key(box.text, box.bbox, content.height)
        if key is None:
            continue
        if key in recurring or _PAGE_NUMBER.match(box.text.strip()):
            box.kind = ElementKind.HEADER if key[0] == "top" else ElementKind.FOOTER
