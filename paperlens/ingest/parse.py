"""PDF -> layout elements, in-process. Call it through ``paperlens.ingest.isolate`` for untrusted files.

This is the parser's contract: ``parse_pdf`` returns a ``ParsedDocument`` whose elements carry page, bbox,
kind and reading order, with crops of visual elements written under ``crops_dir``.

Per page: text blocks and drawing boxes are read once (``layout.extract``), a page without a text layer is
OCR'd, the configured layout backend labels boxes, captions are linked to their figures/tables, boxes are put
in reading order (column by column), and each figure/table/formula is cropped to a PNG. Then, over the whole
document, every element learns the section it sits under and visuals collect the sentences that cite them.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from paperlens.config import IngestSettings
from paperlens.errors import CorruptPdfError, EncryptedPdfError, PdfTooLargeError
from paperlens.ingest.captions import collect_references
from paperlens.ingest.headings import can_be_section_title
from paperlens.ingest.layout.base import LayoutBox, PageContent
from paperlens.models import VISUAL_KINDS, Element, ElementKind, element_id_for
from paperlens.text.normalize import join_across, normalize_text

# 12: ligatures expanded by PyMuPDF, compatibility forms folded, words broken over line, column and page
#     breaks joined, glued words split (paperlens.text.normalize); a caption inside a table's block starts its
#     own block; recurring furniture is known before layout; tables get a third, layout-aware finder try;
#     figure labels (beside or inside a drawing, or sideways) and bullets are no headings, a lone heading word
#     is one; symbol-font bullets read as "•" and their hanging lines join them.
# 13: a display formula set in a text font, in pieces beside a lone equation number, is one formula.
# 14: pages without a text layer OCR'd at 100 dpi, one line per recognition call (rapidocr).
# 15: a table region with no grid of two columns or more is a one-column Markdown table, a row per text block.
# 16: text set at twice the running size or more beside or over a drawing is a heading, not a figure label.
PARSER_VERSION = "16"

ProgressFn = Callable[[int, int], None]

#: Text that counts as running prose when collecting sentences that cite figures and tables.
_PROSE_KINDS = frozenset({ElementKind.TEXT, ElementKind.LIST, ElementKind.FOOTNOTE})


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


_TITLE_WORD = re.compile(r"[^\W\d_]{2,}")
_TITLE_SIZE = 1.25  # a printed title is set at least this much larger than the running text


def _reads_as_title(text: str) -> bool:
    """A metadata title worth showing: some words, not a tool's placeholder. Publishers' pipelines often fill
    the field with an id ("58984869", "OP-GENE210101 1..14") or the file name."""
    lowered = text.lower()
    if lowered.startswith(("microsoft word", "untitled")) or lowered.endswith(
        (".pdf", ".doc", ".docx", ".tex")
    ):
        return False
    return len(_TITLE_WORD.findall(text)) >= 3


def typeset_title(first_page: PageContent) -> str:
    """The title as printed: the largest type in the top half of the first page that is well above the running
    text's size, or bold at least at its size (preprints set titles so), consecutive blocks at that size joined
    for a title set over two blocks; "" when there is none, as on a page cut out of the middle of a paper."""
    candidates = [
        b
        for b in first_page.blocks
        if not b.rotated
        and b.bbox[1] < first_page.height / 2
        and (
            b.size >= _TITLE_SIZE * first_page.body_size or (b.bold >= 0.6 and b.size >= first_page.body_size)
        )
        and len(_TITLE_WORD.findall(b.text)) >= 2
        and len(b.text) <= 300
    ]
    if not candidates:
        return ""
    size = max(b.size for b in candidates)
    lines = sorted((b for b in candidates if abs(b.size - size) <= 0.5), key=lambda b: b.bbox[1])
    title = [lines[0]]
    for block in lines[1:]:
        if block.bbox[1] - title[-1].bbox[3] > 1.5 * size:
            break
        title.append(block)
    return " ".join(b.text for b in title)


def document_title(doc, fallback: str, first_page: PageContent | None = None) -> str:
    """The first of these that reads as a title: the PDF's metadata title, ``fallback`` (the file's name),
    the title typeset on the first page. The printed one comes last because the largest type on a report's
    cover is as often a banner ("FOR RELEASE MAY 3, 2018") as the title."""
    title = ((doc.metadata or {}).get("title") or "").strip()
    for candidate in (title, fallback):
        if _reads_as_title(candidate):
            return candidate
    return (typeset_title(first_page) if first_page is not None else "") or title or fallback


def _words(page: Any) -> list[tuple[float, float, float, float, str]]:
    import pymupdf

    from paperlens.ingest.layout.extract import text_flags

    flags = text_flags(pymupdf.TEXTFLAGS_WORDS)
    return [(*w[:4], normalize_text(w[4])) for w in page.get_text("words", flags=flags)]


def _text_in(box: tuple, words: list) -> str:
    x0, y0, x1, y1 = box
    return " ".join(w[4] for w in words if x0 <= (w[0] + w[2]) / 2 <= x1 and y0 <= (w[1] + w[3]) / 2 <= y1)


def _page_elements(
    page: Any,
    content: PageContent,
    boxes: list[LayoutBox],
    document_id: str,
    crops_dir: Path,
    settings: IngestSettings,
) -> list[Element]:
    """Ordered layout boxes -> elements; visuals get their crop, tables their Markdown, formulas their text."""
    from paperlens.ingest.crops import write_crop
    from paperlens.ingest.layout.order import reading_order
    from paperlens.ingest.tables import count_vertical_rules, table_markdown

    order = reading_order([b.bbox for b in boxes], content.width)
    words = _words(page) if any(b.kind in VISUAL_KINDS for b in boxes) and not content.ocr else []
    elements: list[Element] = []
    for position, index in enumerate(order):
        box = boxes[index]
        element = Element(
            id=element_id_for(document_id, content.number, position),
            document_id=document_id,
            page=content.number,
            bbox=tuple(round(v, 2) for v in box.bbox),
            kind=box.kind,
            text=box.text,
            order=position,
            meta={k: v for k, v in box.meta.items() if k in ("label", "link", "model_class")},
        )
        if content.ocr:
            element.meta["ocr"] = True
        if box.kind == ElementKind.TABLE:
            if words:
                rules = count_vertical_rules(box.bbox, content.graphics)
                element.markdown = table_markdown(page, box.bbox, words, rules)
            element.text = element.text or _text_in(box.bbox, words)
        elif box.kind == ElementKind.FORMULA and words:
            element.text = _text_in(box.bbox, words) or element.text
        if box.kind in VISUAL_KINDS:
            name = f"{content.number:04d}-{position:03d}-{box.kind.value}"
            element.crop_path = write_crop(page, box.bbox, settings.dpi, crops_dir, document_id, name)
        elements.append(element)
    _attach_captions(elements)
    return elements


def _attach_captions(elements: list[Element]) -> None:
    """Captions and visuals of one page that the layout linked (same ``link`` number) learn of each other."""
    visuals = {e.meta["link"]: e for e in elements if e.is_visual and "link" in e.meta}
    for caption in elements:
        if caption.kind != ElementKind.CAPTION or "link" not in caption.meta:
            continue
        visual = visuals.get(caption.meta["link"])
        if visual is None:
            continue
        visual.caption = caption.text
        visual.meta["caption_id"] = caption.id
        caption.meta["caption_of"] = visual.id
    for element in elements:
        element.meta.pop("link", None)  # page-local numbers mean nothing outside the page


#: Kinds whose text runs on from one block to the next: a word broken at a column or page end continues there.
_RUNNING_KINDS = frozenset({ElementKind.TEXT, ElementKind.LIST})
#: Kinds a reader's eye skips between the two halves of a broken word (running heads, a figure in between).
_SKIPPED_KINDS = frozenset(
    {ElementKind.HEADER, ElementKind.FOOTER, ElementKind.FOOTNOTE, ElementKind.FIGURE, ElementKind.TABLE}
    | {ElementKind.CAPTION, ElementKind.FORMULA}
)


def join_broken_words(elements: list[Element]) -> None:
    """A word hyphenated at the end of a column or page ("...the S2ORC pretraining cor-" | "pus contains
    16.4B tokens") is made whole at the end of the first block, as a reader reads it; the next running block
    starts after it. Blocks are taken in reading order, skipping page furniture and floats between them."""
    running = [e for e in elements if e.kind not in _SKIPPED_KINDS]
    for head, tail in zip(running, running[1:], strict=False):
        if head.kind not in _RUNNING_KINDS or tail.kind not in _RUNNING_KINDS:
            continue
        joined = join_across(head.text, tail.text)
        if joined is not None:
            head.text, tail.text = joined


def normalize_elements(elements: list[Element]) -> None:
    """Every text an element carries in the one normalisation (text layers are normalised as they are read;
    this covers OCR lines and whatever a layout backend assembled)."""
    for element in elements:
        element.text = normalize_text(element.text)
        if element.caption:
            element.caption = normalize_text(element.caption)
        if element.markdown:
            element.markdown = normalize_text(element.markdown)
        element.references = [normalize_text(r) for r in element.references]


def assign_sections(elements: list[Element]) -> None:
    """Each element sits under the latest heading before it in reading order (across pages).

    A layout model's "heading" that cannot be a section title (an author list, panel letters) starts none."""
    section: str | None = None
    for element in elements:
        if element.kind == ElementKind.TITLE and element.text.strip() and can_be_section_title(element.text):
            section = element.text.strip()[:200]
        if element.kind not in (ElementKind.HEADER, ElementKind.FOOTER):
            element.section = section


def attach_references(elements: list[Element]) -> None:
    """Visuals keep the sentences that cite them ("as shown in Figure 1 ..."), found anywhere in the text."""
    wanted = {tuple(e.meta["label"]) for e in elements if e.is_visual and e.meta.get("label")}
    if not wanted:
        return
    texts = [e.text for e in elements if e.kind in _PROSE_KINDS and e.text]
    found = collect_references(texts, wanted)
    for element in elements:
        label = element.meta.get("label")
        if element.is_visual and label:
            element.references = list(found.get(tuple(label), []))


def parse_pdf(
    path: Path,
    document_id: str,
    crops_dir: Path,
    settings: IngestSettings,
    progress: ProgressFn | None = None,
    fallback_title: str = "",
    ocr_results: dict[int, list] | None = None,
) -> ParsedDocument:
    """``ocr_results``: OCR lines of image-only pages, by page number, when the OCR stage ran ahead."""
    from paperlens.ingest.layout import make_layout_backend
    from paperlens.ingest.layout.extract import body_font_size, extract_page
    from paperlens.ingest.layout.furniture import flag_furniture_blocks, mark_furniture, recurring_furniture
    from paperlens.ingest.layout.link import link_captions
    from paperlens.ingest.ocr import lines_to_blocks, needs_ocr, page_ocr_lines

    started = time.perf_counter()
    backend = make_layout_backend(settings.layout)
    doc = open_pdf(path, settings)
    try:
        # Pass 1 (cheap, ~10 ms a page): the running-text font size over the whole document is what tells
        # headings from body text on every page.
        contents: list[PageContent] = []
        for page in doc:
            side = max(page.rect.width, page.rect.height)
            if side > settings.max_page_side_pt:
                raise PdfTooLargeError(
                    f"page {page.number + 1} is {side:.0f} points wide; the limit is {settings.max_page_side_pt:.0f}"
                )
            contents.append(extract_page(page))
        body = body_font_size(contents)
        has_text_layer = any(c.blocks for c in contents)
        recurring = recurring_furniture(contents)

        elements: list[Element] = []
        ocr_pages = 0
        if progress:
            progress(0, doc.page_count)  # tells the isolating parent the page count (its time allowance)
        for content in contents:
            page = doc[content.number - 1]
            if settings.ocr and not content.blocks and needs_ocr(page):
                done = (ocr_results or {}).get(content.number)
                content.blocks = lines_to_blocks(done if done is not None else page_ocr_lines(page, settings))
                content.ocr = True
                ocr_pages += 1
            # A fully scanned document has no text layer to measure; each OCR'd page measures its own.
            content.body_size = body if has_text_layer or not content.ocr else body_font_size([content])
            flag_furniture_blocks(content, recurring)
            boxes = backend.analyze(page, content)
            mark_furniture(boxes, content, recurring)
            link_captions(boxes)
            elements.extend(_page_elements(page, content, boxes, document_id, crops_dir, settings))
            if progress:
                progress(content.number, doc.page_count)
        normalize_elements(elements)
        join_broken_words(elements)
        assign_sections(elements)
        attach_references(elements)
        counts = Counter(e.kind.value for e in elements)
        return ParsedDocument(
            title=document_title(doc, fallback_title or path.stem, contents[0]),
            pages=doc.page_count,
            elements=elements,
            stats={
                "layout": backend.name,
                "parser_version": PARSER_VERSION,
                "counts": dict(counts),
                "ocr_pages": ocr_pages,
                "repaired": bool(doc.is_repaired),  # MuPDF rebuilt a broken file (e.g. a cut-off download)
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
    finally:
        doc.close()
