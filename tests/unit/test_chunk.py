"""The pure chunker: page- and section-bounded text chunks, furniture left out, one chunk per visual."""

from __future__ import annotations

from paperlens.config import ChunkSettings
from paperlens.ingest.chunk import chunk_elements
from paperlens.models import Element, ElementKind

DOC = "d" * 64


def el(page: int, order: int, kind: ElementKind, text: str, section: str | None = None, **extra) -> Element:
    return Element(
        id=f"e{page}-{order}",
        document_id=DOC,
        page=page,
        bbox=(10.0 * order, 20.0 * order, 10.0 * order + 100, 20.0 * order + 15),
        kind=kind,
        text=text,
        order=order,
        section=section,
        **extra,
    )


def test_chunks_stop_at_pages_and_sections_and_carry_the_section_title():
    elements = [
        el(1, 0, ElementKind.HEADER, "Running header"),
        el(1, 1, ElementKind.TITLE, "1 Intro", "1 Intro"),
        el(1, 2, ElementKind.TEXT, "Alpha paragraph.", "1 Intro"),
        el(1, 3, ElementKind.TITLE, "2 Method", "2 Method"),
        el(1, 4, ElementKind.TEXT, "Beta paragraph.", "2 Method"),
        el(1, 5, ElementKind.FOOTER, "1"),
        el(2, 0, ElementKind.TEXT, "Gamma paragraph.", "2 Method"),
        el(2, 1, ElementKind.LIST, "- a list item", "2 Method"),
    ]
    chunks = chunk_elements(elements, ChunkSettings())
    assert [c.text for c in chunks] == [
        "[1 Intro] Alpha paragraph.",
        "[2 Method] Beta paragraph.",
        "[2 Method] Gamma paragraph. - a list item",
    ]
    assert [c.page for c in chunks] == [1, 1, 2]
    assert [c.section for c in chunks] == ["1 Intro", "2 Method", "2 Method"]
    assert chunks[0].element_ids == ["e1-1", "e1-2"]
    assert not any("Running header" in c.text or c.text.endswith(" 1") for c in chunks)


def test_each_visual_is_its_own_chunk_with_caption_text_form_and_citing_sentences():
    table = el(
        3,
        2,
        ElementKind.TABLE,
        "Method Acc",
        "3 Results",
        caption="Table 2: Accuracy.",
        markdown="| Method | Acc |\n|---|---|\n| Ours | 90 |",
        references=["Table 2 shows that ours wins."],
        meta={"caption_id": "e3-1"},
    )
    elements = [
        el(3, 0, ElementKind.TEXT, "Before the table.", "3 Results"),
        el(3, 1, ElementKind.CAPTION, "Table 2: Accuracy.", "3 Results", meta={"caption_of": table.id}),
        table,
        el(3, 3, ElementKind.CAPTION, "Figure 9: a caption whose figure was not found.", "3 Results"),
        el(3, 4, ElementKind.FORMULA, "E = mc^2 (1)", "3 Results"),
    ]
    chunks = chunk_elements(elements, ChunkSettings())
    by_kind = {c.kind: c for c in chunks}
    table_chunk = by_kind[ElementKind.TABLE]
    assert table_chunk.text.splitlines() == [
        "[3 Results]",
        "Table 2: Accuracy.",
        "| Method | Acc |",
        "|---|---|",
        "| Ours | 90 |",
        "Table 2 shows that ours wins.",
    ]
    assert table_chunk.element_ids == [table.id] and table_chunk.bbox == table.bbox
    assert by_kind[ElementKind.FORMULA].text == "[3 Results]\nE = mc^2 (1)"
    text_chunks = [c.text for c in chunks if c.kind == ElementKind.TEXT]
    # The linked caption lives in the table's chunk only; the orphan caption stays searchable as text.
    assert text_chunks == ["[3 Results] Before the table. Figure 9: a caption whose figure was not found."]


def test_long_sections_are_split_near_the_size_with_overlap():
    words = " ".join(f"w{i:03d}" for i in range(300))  # 1,499 characters
    elements = [el(1, 0, ElementKind.TEXT, words, "S")]
    chunks = chunk_elements(elements, ChunkSettings(size=400, overlap=60))
    bodies = [c.text.removeprefix("[S] ") for c in chunks]
    assert len(chunks) >= 4 and all(len(b) <= 400 for b in bodies)
    assert bodies[0].startswith("w000") and bodies[-1].endswith("w299")
    for a, b in zip(bodies, bodies[1:], strict=False):
        assert b.split()[0] in a.split()  # consecutive pieces share words
    assert set(" ".join(bodies).split()) == set(words.split())  # nothing lost


def test_a_heading_with_nothing_under_it_still_becomes_a_chunk():
    elements = [
        el(1, 0, ElementKind.TITLE, "4 Conclusion", "4 Conclusion"),
        el(1, 1, ElementKind.FIGURE, "", "4 Conclusion", caption="Figure 3: The end."),
    ]
    chunks = chunk_elements(elements, ChunkSettings())
    assert [c.text for c in chunks] == ["[4 Conclusion] 4 Conclusion", "[4 Conclusion]\nFigure 3: The end."]


def test_chunks_come_out_in_reading_order():
    elements = [
        el(1, 0, ElementKind.TEXT, "Before.", "S"),
        el(1, 1, ElementKind.FIGURE, "", "S", caption="Figure 1: Middle."),
        el(1, 2, ElementKind.TEXT, "After.", "S"),
        el(2, 0, ElementKind.TABLE, "cells", "S", caption="Table 1: Next page."),
    ]
    chunks = chunk_elements(elements, ChunkSettings())
    assert [c.kind for c in chunks] == [ElementKind.TEXT, ElementKind.FIGURE, ElementKind.TABLE]
    assert chunks[0].text == "[S] Before. After."  # text flows around the figure in one chunk
