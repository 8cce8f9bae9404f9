"""Layout-aware parsing on generated papers with known regions, and on one real paper from the bench set."""

from __future__ import annotations

import pytest
from pdf_factory import (
    A4,
    HEADER_TEXT,
    IMAGE_CAPTION,
    PLOT_CAPTION,
    TABLE_CAPTION,
    make_paper_pdf,
    make_scanned_pdf,
    make_two_column_pdf,
)

from paperlens.config import ChunkSettings, IngestSettings
from paperlens.errors import UnknownBackendError
from paperlens.ingest.chunk import chunk_elements
from paperlens.ingest.crops import PAD_PT
from paperlens.ingest.isolate import parse_pdf_isolated
from paperlens.ingest.layout import make_layout_backend
from paperlens.ingest.parse import ParsedDocument, parse_pdf
from paperlens.models import Element, ElementKind, document_id_for

DPI = 120


def _overlap_share(box, rect) -> float:
    """Share of ``rect`` (the factory's known region) covered by ``box``."""
    w = min(box[2], rect[2]) - max(box[0], rect[0])
    h = min(box[3], rect[3]) - max(box[1], rect[1])
    area = (rect[2] - rect[0]) * (rect[3] - rect[1])
    return max(0.0, w) * max(0.0, h) / area


def _best(elements: list[Element], kind: ElementKind, region) -> Element:
    candidates = [e for e in elements if e.kind == kind and e.page == region.page]
    assert candidates, f"no {kind.value} on page {region.page}"
    return max(candidates, key=lambda e: _overlap_share(e.bbox, region.rect))


@pytest.fixture(scope="module")
def parsed_paper(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paper")
    facts = make_paper_pdf(folder / "paper.pdf")
    data_dir = folder / "data"
    doc_id = document_id_for(facts.path.read_bytes())
    parsed = parse_pdf(facts.path, doc_id, data_dir / "crops", IngestSettings(dpi=DPI))
    return facts, parsed, data_dir, doc_id


def test_every_visual_is_found_where_the_factory_drew_it(parsed_paper):
    facts, parsed, _, _ = parsed_paper
    expected = {
        "plot": (ElementKind.FIGURE, facts.plot, 1.5),  # vector paths only, no image
        "image": (ElementKind.FIGURE, facts.image, 1.5),  # embedded raster
        "table": (ElementKind.TABLE, facts.table, 1.5),
        # The factory's formula rect stops before the equation number "(1)" at the right margin; the element
        # keeps the number (it is how the text cites the equation), so its box may be about 3x as large.
        "formula": (ElementKind.FORMULA, facts.formula, 3.5),
    }
    for name, (kind, region, max_growth) in expected.items():
        element = _best(parsed.elements, kind, region)
        assert _overlap_share(element.bbox, region.rect) > 0.9, (name, element.bbox, region.rect)
        # ... and the box is not much larger than the drawn region (no swallowed neighbours).
        w, h = element.bbox[2] - element.bbox[0], element.bbox[3] - element.bbox[1]
        area = (region.rect[2] - region.rect[0]) * (region.rect[3] - region.rect[1])
        assert w * h < max_growth * area, (name, element.bbox, region.rect)
    kinds = {e.kind for e in parsed.elements}
    assert {ElementKind.TITLE, ElementKind.TEXT, ElementKind.CAPTION, ElementKind.HEADER} <= kinds
    assert ElementKind.FOOTER in kinds
    assert parsed.stats["layout"] == "heuristic"


def test_captions_and_citing_sentences_travel_with_their_visual(parsed_paper):
    facts, parsed, _, _ = parsed_paper
    plot = _best(parsed.elements, ElementKind.FIGURE, facts.plot)
    image = _best(parsed.elements, ElementKind.FIGURE, facts.image)
    table = _best(parsed.elements, ElementKind.TABLE, facts.table)
    assert plot.caption == PLOT_CAPTION
    assert image.caption == IMAGE_CAPTION
    assert table.caption == TABLE_CAPTION
    # The citing sentence of Figure 1 is on page 1, the figure on page 2.
    assert any(ref.startswith(facts.plot_reference) for ref in plot.references), plot.references
    assert any(facts.table_reference in ref for ref in table.references), table.references
    assert image.references == []  # nothing in the text cites Figure 2
    caption_elements = {e.text: e for e in parsed.elements if e.kind == ElementKind.CAPTION}
    assert caption_elements[PLOT_CAPTION].meta["caption_of"] == plot.id


def test_table_markdown_has_the_header_row_and_cells(parsed_paper):
    facts, parsed, _, _ = parsed_paper
    table = _best(parsed.elements, ElementKind.TABLE, facts.table)
    lines = table.markdown.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == facts.table_header  # "Dataset A" keeps its space
    assert set(lines[1].replace("|", "")) == {"-"}
    body = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert body == facts.table_rows


def test_formula_keeps_its_text(parsed_paper):
    facts, parsed, _, _ = parsed_paper
    formula = _best(parsed.elements, ElementKind.FORMULA, facts.formula)
    assert "E = m c" in formula.text and "(1 + b)" in formula.text
    assert formula.meta.get("label") == ["equation", 1]


def test_crops_are_pngs_of_the_region_at_the_configured_dpi(parsed_paper):
    import pymupdf

    facts, parsed, data_dir, doc_id = parsed_paper
    visuals = [e for e in parsed.elements if e.is_visual]
    assert len(visuals) == 4
    for element in visuals:
        assert element.crop_path and element.crop_path.startswith(f"crops/{doc_id}/")
        path = data_dir / element.crop_path
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pix = pymupdf.Pixmap(str(path))
        x0, y0, x1, y1 = element.bbox
        want_w = (x1 - x0 + 2 * PAD_PT) * DPI / 72
        want_h = (y1 - y0 + 2 * PAD_PT) * DPI / 72
        assert abs(pix.width - want_w) <= 3 and abs(pix.height - want_h) <= 3, (
            element.kind,
            pix.width,
            want_w,
        )
    assert all(e.crop_path is None for e in parsed.elements if not e.is_visual)


def test_chunks_follow_sections_skip_furniture_and_give_each_visual_its_own(parsed_paper):
    facts, parsed, _, _ = parsed_paper
    headers = [e for e in parsed.elements if e.kind == ElementKind.HEADER]
    footers = [e for e in parsed.elements if e.kind == ElementKind.FOOTER]
    assert [e.page for e in headers] == [1, 2, 3] and all(e.text == HEADER_TEXT for e in headers)
    assert [e.text for e in footers] == ["1", "2", "3"]  # page numbers

    chunks = chunk_elements(parsed.elements, ChunkSettings(size=400, overlap=50))
    furniture = {e.id for e in headers + footers}
    assert not any(furniture & set(c.element_ids) for c in chunks)
    assert not any(HEADER_TEXT in c.text for c in chunks)
    text_chunks = [c for c in chunks if c.kind == ElementKind.TEXT]
    for chunk in text_chunks:
        if chunk.page > 1 or "Introduction" in (chunk.section or ""):
            assert chunk.section in facts.sections
            assert chunk.text.startswith(f"[{chunk.section}]")
    visual_chunks = {c.kind: c for c in chunks if c.kind != ElementKind.TEXT}
    assert set(visual_chunks) == {ElementKind.FIGURE, ElementKind.TABLE, ElementKind.FORMULA}
    table_chunk = visual_chunks[ElementKind.TABLE]
    assert TABLE_CAPTION in table_chunk.text and "| Dataset A |" in table_chunk.text
    assert table_chunk.section == "3 Results"
    # A linked caption is part of its visual's chunk, not repeated in the surrounding text.
    assert not any(PLOT_CAPTION in c.text for c in text_chunks)


def test_two_columns_are_read_column_by_column(tmp_path):
    facts = make_two_column_pdf(tmp_path / "two.pdf")
    parsed = parse_pdf(facts.path, "b" * 64, tmp_path / "crops", IngestSettings())
    texts = [e.text for e in sorted(parsed.elements, key=lambda e: e.order) if e.kind == ElementKind.TEXT]
    markers = [t.split()[0] for t in texts]
    assert markers == [p.split()[0] for p in facts.left_paragraphs + facts.right_paragraphs]


@pytest.mark.slow
def test_scanned_page_is_ocrd_and_searchable_through_the_isolated_parser(tmp_path):
    path = make_scanned_pdf(tmp_path / "scan.pdf")
    parsed: ParsedDocument = parse_pdf_isolated(
        path, "c" * 64, tmp_path / "crops", IngestSettings(ocr_dpi=100)
    )
    assert parsed.stats["ocr_pages"] == 1
    text = " ".join(e.text for e in parsed.elements).lower()
    assert "hidden message" in text and "lazy dog" in text
    assert all(e.meta.get("ocr") for e in parsed.elements)
    chunks = chunk_elements(parsed.elements, ChunkSettings())
    assert any("quick brown fox" in c.text.lower() for c in chunks)


def test_ocr_can_be_switched_off(tmp_path):
    path = make_scanned_pdf(tmp_path / "scan.pdf")
    parsed = parse_pdf(path, "c" * 64, tmp_path / "crops", IngestSettings(ocr=False))
    assert parsed.stats["ocr_pages"] == 0
    assert not any(e.text for e in parsed.elements)


@pytest.mark.slow
def test_pymupdf_layout_backend_finds_the_plot_and_the_table(tmp_path):
    facts = make_paper_pdf(tmp_path / "paper.pdf")
    parsed = parse_pdf(facts.path, "e" * 64, tmp_path / "crops", IngestSettings(layout="pymupdf", dpi=72))
    assert parsed.stats["layout"] == "pymupdf"
    plot = _best(parsed.elements, ElementKind.FIGURE, facts.plot)
    table = _best(parsed.elements, ElementKind.TABLE, facts.table)
    assert _overlap_share(plot.bbox, facts.plot.rect) > 0.8
    assert _overlap_share(table.bbox, facts.table.rect) > 0.8
    assert plot.caption == PLOT_CAPTION and table.caption == TABLE_CAPTION
    assert table.markdown and "Dataset A" in table.markdown.splitlines()[0]
    assert not any(HEADER_TEXT in c.text for c in chunk_elements(parsed.elements, ChunkSettings()))


def test_the_removed_rapid_layout_stub_is_refused_not_replaced():
    # The stub that only raised is gone: the name is refused where it is given, never read as another backend.
    with pytest.raises(ValueError, match="heuristic"):
        IngestSettings(layout="rapid")
    with pytest.raises(UnknownBackendError, match="known: heuristic, pymupdf"):
        make_layout_backend("rapid")


def test_real_two_column_paper_tables_captions_and_order(bench_papers, tmp_path):
    path = bench_papers / "1903.10676.pdf"
    if not path.is_file():
        pytest.skip("1903.10676.pdf is not in the bench papers")
    parsed = parse_pdf(path, "a" * 64, tmp_path / "crops", IngestSettings(dpi=72))
    tables = sorted(
        (e for e in parsed.elements if e.kind == ElementKind.TABLE), key=lambda e: e.meta["label"][1]
    )
    assert [t.meta["label"] for t in tables] == [["table", 1], ["table", 2]]
    assert tables[0].caption.startswith("Table 1:") and tables[1].caption.startswith("Table 2:")
    assert all(t.markdown and (tmp_path / t.crop_path).is_file() for t in tables)
    assert "SCIBERT" in tables[1].markdown.splitlines()[0]  # the header row of Table 2
    # Two columns: the left column's "4.3 Multiple Domains" is read before the right's "5 Discussion".
    titles = [e.text for e in parsed.elements if e.kind == ElementKind.TITLE]
    assert titles.index("4.3 Multiple Domains") < titles.index("5 Discussion")
    discussion = next(e for e in parsed.elements if e.text == "5.1 Effect of Finetuning")
    after = [e for e in parsed.elements if e.order > discussion.order and e.kind == ElementKind.TEXT]
    assert after and all(e.section == "5.1 Effect of Finetuning" for e in after[:1])


def test_recurring_headers_and_page_numbers_outside_the_margin_are_furniture():
    from paperlens.ingest.layout.base import LayoutBox, PageContent, TextBlock
    from paperlens.ingest.layout.furniture import mark_furniture, recurring_furniture

    def page(n: int) -> PageContent:
        blocks = [
            TextBlock(bbox=(54, 63, 558, 70), text=f"Short Title of the Paper {n}"),  # below the 7% margin
            TextBlock(bbox=(72, 120, 520, 300), text="Body text " * 30, lines=10),
            TextBlock(bbox=(288, 772, 310, 782), text=str(4968 + n)),  # ACL-style number, 60 pt up
        ]
        return PageContent(number=n, width=595, height=842, blocks=blocks, graphics=[])

    contents = [page(n) for n in range(1, 6)]
    recurring = recurring_furniture(contents)
    boxes = [LayoutBox(ElementKind.TEXT, b.bbox, b.text) for b in contents[2].blocks]
    mark_furniture(boxes, contents[2], recurring)
    assert [b.kind for b in boxes] == [ElementKind.HEADER, ElementKind.TEXT, ElementKind.FOOTER]
    # A line that appears once in the top band is content (e.g. a heading), not furniture.
    lone = [LayoutBox(ElementKind.TITLE, (72, 70, 300, 84), "1 Introduction")]
    mark_furniture(lone, contents[0], recurring)
    assert lone[0].kind == ElementKind.TITLE


def test_a_poster_sized_figure_is_cropped_at_a_lower_dpi_not_out_of_memory(tmp_path):
    import pymupdf

    from paperlens.ingest.crops import MAX_PIXELS

    path = tmp_path / "poster.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=3000, height=3000)
    shape = page.new_shape()
    for i in range(20):  # a big vector plot: 20 bars over most of the page
        shape.draw_rect(pymupdf.Rect(200 + i * 120, 2700 - i * 100, 280 + i * 120, 2700))
    shape.finish(color=(0, 0, 0), fill=(0.2, 0.4, 0.8))
    shape.commit()
    page.insert_text((200, 2760), "Figure 1: Twenty bars.", fontsize=30)
    doc.save(path)
    doc.close()
    parsed = parse_pdf(path, "p" * 64, tmp_path / "crops", IngestSettings(dpi=200))
    figure = next(e for e in parsed.elements if e.kind == ElementKind.FIGURE)
    assert figure.caption == "Figure 1: Twenty bars."
    pix = pymupdf.Pixmap(str(tmp_path / figure.crop_path))
    assert pix.width * pix.height <= MAX_PIXELS
    assert pix.width > 2000  # still a useful image, not a thumbnail


def _manuscript_pdf(path, numbers_rise: bool = True):
    """One page typeset like a submitted manuscript: every line of text has its line number in the margin."""
    import pymupdf

    words = (
        "the expected allele frequency was revealed on chromosome eight which gave a region " * 6
    ).split()
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    for n, line in enumerate(lines):
        y = 120 + 24 * n  # double-spaced: PyMuPDF files each line (and its number) as a block of its own
        number = 101 + n if numbers_rise else (7 if n % 2 else 3)
        page.insert_text((40, y), str(number), fontsize=8)
        page.insert_text((90, y), line, fontsize=11)
    page.insert_text((290, 800), "7", fontsize=10)  # the page number, centred at the foot: not in the margin
    # A preprint server's stamp across the top starts left of the line numbers: it must not move the text edge.
    page.insert_text(
        (20, 30), "preprint server stamp: this version was not certified by peer review", fontsize=7
    )
    doc.save(path)
    return " ".join(lines)


def test_manuscript_line_numbers_are_dropped_from_the_running_text(tmp_path):
    text = _manuscript_pdf(tmp_path / "manuscript.pdf")
    parsed = parse_pdf(tmp_path / "manuscript.pdf", "c" * 64, tmp_path / "crops", IngestSettings())
    body = " ".join(
        e.text for e in sorted(parsed.elements, key=lambda e: e.order) if e.kind == ElementKind.TEXT
    )
    assert body == text  # "...which gave a region the expected..." with no "103" between the lines
    assert not any(str(n) in e.text for e in parsed.elements for n in range(101, 110))


def test_margin_numbers_that_do_not_count_up_stay(tmp_path):
    _manuscript_pdf(tmp_path / "margin.pdf", numbers_rise=False)
    parsed = parse_pdf(tmp_path / "margin.pdf", "d" * 64, tmp_path / "crops", IngestSettings())
    texts = [e.text for e in parsed.elements]
    assert sum(t.split()[0] in {"3", "7"} for t in texts if t) >= 8  # a column of values, kept as text


@pytest.mark.parametrize("size", [10, 8])  # 8: a framed page of references, smaller than the running text
def test_column_gutter_and_text_frame_do_not_turn_the_page_into_a_figure(tmp_path, size):
    """Journal pages draw a rule (or a thin image) between the columns and some draw a frame around the text.
    Those graphics must not chain into one "figure" that swallows every paragraph of the page."""
    import pymupdf

    doc = pymupdf.open()
    plain = doc.new_page(width=A4[0], height=A4[1])  # sets the running text's size at 10 pt
    plain.insert_textbox(pymupdf.Rect(50, 80, 545, 780), "Running text of the paper. " * 200, fontsize=10)
    page = doc.new_page(width=A4[0], height=A4[1])
    for rect in (
        (40, 60, 555, 790),  # a frame around the text area
        (294, 60, 301, 790),  # a thin filled strip as the column gutter
        (40, 60, 60, 70),  # the journal's small mark in the frame's corner
    ):
        page.draw_rect(pymupdf.Rect(rect), color=(0.5, 0.5, 0.5), fill=(0.95, 0.95, 0.95), overlay=False)
    paragraphs = [f"Paragraph {n} says something about retrieval. " * 5 for n in range(1, 7)]
    for n, paragraph in enumerate(paragraphs):
        x = 50 if n < 3 else 305
        y = 80 + 230 * (n % 3)
        page.insert_textbox(pymupdf.Rect(x, y, x + 235, y + 200), paragraph, fontsize=size)
    doc.save(tmp_path / "framed.pdf")
    parsed = parse_pdf(tmp_path / "framed.pdf", "e" * 64, tmp_path / "crops", IngestSettings())
    assert not [e for e in parsed.elements if e.kind == ElementKind.FIGURE]
    texts = [e.text for e in parsed.elements if e.kind == ElementKind.TEXT and e.page == 2]
    assert [t.split()[1] for t in texts] == [str(n) for n in range(1, 7)]


@pytest.mark.parametrize(
    ("metadata_title", "expected"),
    [
        (
            "58984869",
            "Ping-pong amplification of small RNAs in silkworm cells",
        ),  # an id: the printed title wins
        ("", "Ping-pong amplification of small RNAs in silkworm cells"),
        ("Small RNAs in Silkworm Ovaries", "Small RNAs in Silkworm Ovaries"),  # a real metadata title is kept
    ],
)
def test_document_title_falls_back_to_the_printed_title(tmp_path, metadata_title, expected):
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_textbox(pymupdf.Rect(72, 60, 520, 120), "bioRxiv preprint 2023", fontsize=9)
    page.insert_textbox(
        pymupdf.Rect(72, 100, 520, 160),
        "Ping-pong amplification of small RNAs in silkworm cells",
        fontsize=18,
    )
    page.insert_textbox(pymupdf.Rect(72, 200, 520, 400), "Body text of the paper. " * 20, fontsize=10)
    doc.set_metadata({"title": metadata_title})
    path = tmp_path / "1234-5678.pdf"  # a file name that is no title either
    doc.save(path)
    parsed = parse_pdf(path, "f" * 64, tmp_path / "crops", IngestSettings())
    assert parsed.title == expected


def test_a_page_without_a_printed_title_keeps_the_file_name(tmp_path):
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_textbox(
        pymupdf.Rect(72, 60, 520, 100), "Cite (Cohan et al., 2019) for the scores.", fontsize=10
    )
    page.insert_textbox(pymupdf.Rect(72, 120, 520, 400), "Body text of the paper. " * 40, fontsize=10)
    path = tmp_path / "1903.10676.pdf"  # a page cut out of a paper: nothing on it is set as a title
    doc.save(path)
    parsed = parse_pdf(path, "a" * 64, tmp_path / "crops", IngestSettings())
    assert parsed.title == "1903.10676"


def test_author_lists_and_panel_letters_set_large_do_not_name_a_section(tmp_path):
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    title = "Gasdermin pores in macrophage pyroptosis"
    body = "Macrophages die by pyroptosis when gasdermin forms pores in the membrane. " * 4
    rows = [
        (title, 18),
        ("Jane Roe1,2, John Doe2 & Ann Poe1*", 12),  # the author list, set larger than the text
        (body, 10),
        ("Results", 12),
        (body.replace("Macrophages", "Monocytes"), 10),
        ("f g", 12),  # panel letters of a figure, outside any figure region
        (body.replace("Macrophages", "Neutrophils"), 10),
    ]
    y = 60
    for text, size in rows:
        height = 90 if size == 10 else 50
        page.insert_textbox(pymupdf.Rect(72, y, 520, y + height), text, fontsize=size)
        y += height + 12
    path = tmp_path / "authors.pdf"
    doc.save(path)
    parsed = parse_pdf(path, "c" * 64, tmp_path / "crops", IngestSettings())
    chunks = chunk_elements(parsed.elements, ChunkSettings())
    section_of = {word: c.section for c in chunks for word in ("Macrophages", "Monocytes", "Neutrophils")
                  if f"{word} die" in c.text}  # fmt: skip
    assert section_of == {"Macrophages": title, "Monocytes": "Results", "Neutrophils": "Results"}
    authors = next(e for e in parsed.elements if e.text.startswith("Jane Roe"))
    assert authors.kind != ElementKind.TITLE
    assert any("Jane Roe" in c.text for c in chunks)  # still indexed, as text


def test_a_small_bold_label_outside_a_figure_region_does_not_name_a_section(tmp_path):
    """A figure's bold labels ("MAL II", "SNA" at 7 pt beside 8 pt text) that no figure region took in were
    read as headings and named the section of every chunk after them. A bold heading at the body size still
    counts."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    body = "Sialic acid binding rose after the lectin treatment of the epithelial cells. " * 4
    # A heading set bold at the body size, then a panel label set small and bold between two paragraphs.
    page.insert_text((72, 80), "Lectin binding assays", fontsize=10, fontname="hebo")
    page.insert_textbox(pymupdf.Rect(72, 90, 520, 170), body, fontsize=10)
    page.insert_text((72, 200), "MAL II", fontsize=7, fontname="hebo")
    page.insert_textbox(pymupdf.Rect(72, 220, 520, 300), body.replace("Sialic", "Galactose"), fontsize=10)
    # Methods set smaller than the main text, with headings to match: those still count.
    methods = doc.new_page(width=A4[0], height=A4[1])
    methods.insert_text((72, 80), "Statistical analysis", fontsize=8, fontname="hebo")
    methods.insert_textbox(pymupdf.Rect(72, 90, 520, 150), "Groups were compared by t test. " * 4, fontsize=8)
    path = tmp_path / "labels.pdf"
    doc.save(path)
    parsed = parse_pdf(path, "f" * 64, tmp_path / "crops", IngestSettings(ocr=False))
    kinds = {e.text: e.kind for e in parsed.elements}
    assert kinds["Lectin binding assays"] == ElementKind.TITLE
    assert kinds["MAL II"] != ElementKind.TITLE
    assert kinds["Statistical analysis"] == ElementKind.TITLE
    chunks = chunk_elements(parsed.elements, ChunkSettings())
    galactose = next(c for c in chunks if "Galactose acid binding" in c.text)
    assert galactose.section == "Lectin binding assays"


def test_a_running_credit_in_the_body_is_furniture_not_a_section(tmp_path):
    """A Pew report prints its running header ("PEW RESEARCH CENTER") again, bold, under every chart. Read as
    a heading, it named the section of everything after it; it is furniture, like the header it repeats."""
    import pymupdf

    credit = "WIDGET RESEARCH CENTER"
    doc = pymupdf.open()
    for n in range(1, 5):
        page = doc.new_page(width=A4[0], height=A4[1])
        page.insert_text((250, 40), credit, fontsize=9)  # the running header, in the top band
        page.insert_text((290, 820), str(n), fontsize=9)  # the page number
        if n == 1:
            page.insert_textbox(pymupdf.Rect(72, 100, 520, 130), "Findings on widgets", fontsize=16)
        body = f"Widget sales on page {n} rose by twelve percent over the year before. " * 4
        page.insert_textbox(pymupdf.Rect(72, 150, 520, 260), body, fontsize=10)
        page.insert_text((72, 310), "72 64 58", fontsize=8)  # a chart's numbers
        page.insert_text((72, 340), credit, fontsize=10, fontname="hebo")  # bold, under the chart
        after = f"Gadget sales on page {n} fell by three percent over the same year. " * 4
        page.insert_textbox(pymupdf.Rect(72, 380, 520, 490), after, fontsize=10)
    path = tmp_path / "report.pdf"
    doc.save(path)
    parsed = parse_pdf(path, "d" * 64, tmp_path / "crops", IngestSettings(ocr=False))
    chunks = chunk_elements(parsed.elements, ChunkSettings())
    gadget = [c for c in chunks if "Gadget sales" in c.text]
    assert len(gadget) == 4 and all(c.section == "Findings on widgets" for c in gadget)
    assert not any(credit.lower() in c.text.lower() for c in chunks)
    assert sum("72 64 58" in c.text for c in chunks) == 4  # numbers repeated in the body stay text


def test_a_preprint_licence_line_on_every_page_is_furniture_in_either_band(tmp_path):
    """bioRxiv prints a ~200-character licence line atop every page (at the foot of a landscape page). Longer
    than a running title, it was read as text and landed in a chunk of every page of five bench papers."""
    import pymupdf

    licence = (
        "(which was not certified by peer review) is the author/funder, who has granted bioRxiv a license to "
        "display the preprint in perpetuity. It is made available under a CC-BY-NC-ND 4.0 International "
        "license."
    )
    assert len(licence) > 150
    doc = pymupdf.open()
    for n in range(1, 7):
        landscape = n == 6
        width, height = (A4[1], A4[0]) if landscape else A4
        page = doc.new_page(width=width, height=height)
        band = (40, height - 40, width - 40, height - 10) if landscape else (40, 10, width - 40, 40)
        page.insert_textbox(pymupdf.Rect(*band), licence, fontsize=6)
        body = f"Kinase activity on page {n} doubled after the second treatment of the cells. " * 5
        page.insert_textbox(pymupdf.Rect(72, 150, width - 72, 300), body, fontsize=10)
    path = tmp_path / "preprint.pdf"
    doc.save(path)
    parsed = parse_pdf(path, "e" * 64, tmp_path / "crops", IngestSettings(ocr=False))
    chunks = chunk_elements(parsed.elements, ChunkSettings())
    assert sum("Kinase activity" in c.text for c in chunks) == 6  # every page's body is still there
    assert not any("bioRxiv" in c.text for c in chunks)
    kinds = {e.page: e.kind for e in parsed.elements if "bioRxiv" in e.text}
    assert set(kinds) == set(range(1, 7))  # found on every page, and every one of them is furniture
    assert kinds[1] == ElementKind.HEADER and kinds[6] == ElementKind.FOOTER
