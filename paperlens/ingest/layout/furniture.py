"""Running headers, footers and page numbers found across the whole document, not one page at a time.

A page-local margin rule misses a running title set a little lower than usual, or an ACL page number 60 pt
above the bottom edge. Seen across pages they are obvious: the same short text (digits aside) in the same
top or bottom band on many pages. The same text set again in the page body on several pages is furniture too:
a running credit, such as the "PEW RESEARCH CENTER" under every chart of a Pew report, which is set bold and
otherwise names the section of everything after it. So is a preprint server's licence line (about 200
characters: "... was not certified by peer review) is the author/funder, who has granted bioRxiv a
license ...") printed atop every page, and moved to the foot of the few landscape pages. Pure: plain page
contents in, the set of recurring keys out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from paperlens.ingest.layout.base import LayoutBox, PageContent
from paperlens.models import ElementKind

_BAND = 0.12  # top/bottom share of the page searched for furniture
_MAX_CHARS = 300  # a running licence line is about 200 characters; a paragraph that recurs is rare
_LONG_CHARS = 100
_DIGITS = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")
_PAGE_NUMBER = re.compile(r"^(page\s*)?(\d{1,5}|[ivxlc]{1,6})(\s*(/|of)\s*\d{1,5})?$", re.I)


def _band(bbox: tuple, height: float) -> str | None:
    if bbox[3] <= _BAND * height:
        return "top"
    if bbox[1] >= (1 - _BAND) * height:
        return "bottom"
    return None


def furniture_key(text: str, bbox: tuple, height: float) -> tuple[str, str] | None:
    """(band, text with digits masked); the band is "top", "bottom" or "body"."""
    if len(text) > _MAX_CHARS:
        return None
    return _band(bbox, height) or "body", _DIGITS.sub("#", " ".join(text.lower().split()))


def recurring_furniture(contents: Sequence[PageContent]) -> set[tuple[str, str]]:
    """Keys that recur in the top or bottom band on at least 3 pages and a quarter of them, and the keys of
    the same texts where they recur on 2 pages or more elsewhere, or once if long (a running credit in the
    body, a running line moved to the other band on a landscape page). A text needs a letter to count
    elsewhere: a masked page number ("#") in the body is a chart's numbers."""
    pages: Counter[tuple[str, str]] = Counter()
    for content in contents:
        keys = {furniture_key(b.text, b.bbox, content.height) for b in content.blocks}
        pages.update(k for k in keys if k is not None)
    need = max(3, round(0.25 * len(contents)))
    running = {key for key, n in pages.items() if key[0] != "body" and n >= need}
    texts = {text for _, text in running if _LETTER.search(text)}
    # Once is enough for a long one: 100 characters met verbatim elsewhere are that line, not a heading.
    return running | {
        key for key, n in pages.items() if key[1] in texts and (n >= 2 or len(key[1]) >= _LONG_CHARS)
    }


def flag_furniture_blocks(content: PageContent, recurring: set[tuple[str, str]]) -> None:
    """Flag the page's text blocks that are recurring furniture, before layout analysis: a running head set
    just above a table (a CHI page's, 16 pt above it) was absorbed into the table's region, which then
    spanned both columns and its Markdown failed; a licence line was absorbed into figures the same way."""
    for block in content.blocks:
        key = furniture_key(block.text, block.bbox, content.height)
        if key is not None and key in recurring:
            block.furniture = key[0]


def mark_furniture(boxes: list[LayoutBox], content: PageContent, recurring: set[tuple[str, str]]) -> None:
    """Relabel text boxes that are recurring furniture or a bare page number in the top/bottom band."""
    for box in boxes:
        if box.kind not in (ElementKind.TEXT, ElementKind.TITLE, ElementKind.FOOTNOTE, ElementKind.LIST):
            continue
        key = furniture_key(box.text, box.bbox, content.height)
        if key is None:
            continue
        if key in recurring or (key[0] != "body" and _PAGE_NUMBER.match(box.text.strip())):
            box.kind = ElementKind.HEADER if key[0] == "top" else ElementKind.FOOTER
