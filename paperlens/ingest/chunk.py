"""Elements -> chunks. Pure: plain data in, plain data out, no files and no models.

Rules (why): a chunk never crosses a page (so a citation's page is exact) nor a section (so a chunk is about
one thing and carries its section title); running headers/footers never enter a chunk (they repeat on every
page and drown retrieval); each figure/table/formula becomes a chunk of its own built from its caption and
its text form, so "what does Table 2 show?" can find it; a caption linked to its visual is not repeated in
the running text around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paperlens.config import ChunkSettings
from paperlens.models import FURNITURE_KINDS, BBox, Chunk, Element, ElementKind

_HEADING_KINDS = frozenset({ElementKind.TITLE})


#: Part of the benchmark's cache key: bump when chunk text changes for the same elements.
CHUNKER_VERSION = "2"


def union_bbox(boxes: Iterable[BBox]) -> BBox:
    boxes = list(boxes)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def visual_chunk_text(element: Element) -> str:
    """The searchable text of a figure/table/formula: caption, then its best text forms, each said once.

    A description (the offline describer's, say) often already holds the caption, the table Markdown and the
    citing sentences; repeating them would only weight those words twice and make answers quote them twice.
    """
    description = (element.description or "").strip()
    parts: list[str] = []
    if element.section:
        parts.append(f"[{element.section}]")

    def add(text: str | None) -> None:
        text = (text or "").strip()
        if text and text not in description and all(text not in p for p in parts):
            parts.append(text)

    add(element.caption)
    if description:
        parts.append(description)
    add(element.markdown)
    if not element.markdown and element.text not in (element.caption or ""):
        add(element.text)
    for ref in element.references[:3]:
        add(ref)
    return "\n".join(parts)


def visual_chunk(element: Element) -> Chunk | None:
    """A figure's, table's or formula's own chunk (None when it has no text at all yet)."""
    text = visual_chunk_text(element)
    if not text:
        return None
    return Chunk(
        document_id=element.document_id,
        page=element.page,
        bbox=element.bbox,
        kind=element.kind,
        text=text,
        element_ids=[element.id],
        section=element.section,
    )


def _split_long(text: str, size: int, overlap: int) -> list[str]:
    """Split text longer than ``size`` on word boundaries with ``overlap`` characters shared."""
    if len(text) <= size:
        return [text]
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        pieces.append(text[start:end].strip())
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        space = text.find(" ", next_start)
        start = space + 1 if 0 < space < end else next_start
    return [p for p in pieces if p]


def chunk_elements(elements: Sequence[Element], settings: ChunkSettings) -> list[Chunk]:
    """Group elements (already in reading order) into chunks of about ``settings.size`` characters."""
    chunks: list[Chunk] = []
    group: list[Element] = []

    def flush() -> None:
        if not group:
            return
        section = group[0].section
        # A heading's text is already the chunk's "[section]" prefix; repeating it adds nothing. A heading with
        # nothing under it on this page still becomes a chunk, so no text of the document is lost.
        text = (
            " ".join(
                e.text
                for e in group
                if e.text and not (e.kind in _HEADING_KINDS and e.text.strip() == section)
            ).strip()
            or " ".join(e.text for e in group if e.text).strip()
        )
        heading = f"[{section}] " if section else ""
        for piece in _split_long(text, settings.size, settings.overlap):
            chunks.append(
                Chunk(
                    document_id=group[0].document_id,
                    page=group[0].page,
                    bbox=union_bbox(e.bbox for e in group),
                    kind=ElementKind.TEXT,
                    text=heading + piece,
                    element_ids=[e.id for e in group],
                    section=section,
                )
            )
        group.clear()

    ordered = sorted(elements, key=lambda e: (e.page, e.order))
    for element in ordered:
        if element.kind in FURNITURE_KINDS:
            continue
        if element.is_visual:
            visual = visual_chunk(element)
            if visual is not None:
                chunks.append(visual)
            continue
        if not element.text.strip():
            continue
        if element.kind == ElementKind.CAPTION and element.meta.get("caption_of"):
            continue  # a linked caption already leads its figure's/table's own chunk
        starts_new = bool(group) and (
            element.page != group[0].page
            or element.section != group[0].section
            or element.kind in _HEADING_KINDS
        )
        if starts_new:
            flush()
        current = sum(len(e.text) + 1 for e in group)
        if group and current + len(element.text) > settings.size:
            # Keep the last element as overlap context so a sentence split across chunks is findable.
            tail = group[-1] if settings.overlap and len(group[-1].text) <= settings.overlap else None
            flush()
            if tail is not None:
                group.append(tail)
        group.append(element)
    flush()
    # Visual chunks are emitted as soon as they are met, text chunks when their group closes; put them back in
    # reading order (by their first element) so neighbouring chunk ids are neighbours on the page.
    position = {e.id: (e.page, e.order) for e in ordered}
    chunks.sort(key=lambda c: position.get(c.element_ids[0], (c.page, 0)) if c.element_ids else (c.page, 0))
    return chunks
