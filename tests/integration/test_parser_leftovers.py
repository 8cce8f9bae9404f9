"""Parser leftovers from earlier notes, each on a generated page that reproduces the structure of the real
one: recurring furniture set right against a figure or table stays out of its region."""

from __future__ import annotations

import pymupdf

from paperlens.config import IngestSettings
from paperlens.ingest.parse import parse_pdf
from paperlens.models import ElementKind

LICENCE = (
    "(which was not certified by peer review) is the author/funder, who has granted bioRxiv a license to "
    "display the preprint in perpetuity. It is made available under a CC-BY-NC-ND 4.0 International license."
)


def _parsed(doc, tmp_path, name: str):
    """``doc`` saved as ``name`` and parsed as the isolated parser would, OCR off."""
    path = tmp_path / name
    doc.save(path)
    return parse_pdf(path, name.ljust(64, "0"), tmp_path / "crops", IngestSettings(ocr=False))


def _plot(page, top: float) -> None:
    shape = page.new_shape()
    shape.draw_rect(pymupdf.Rect(100, top, 480, top + 200))
    for i in range(12):
        x = 110 + 30 * i
        shape.draw_line((x, top + 190 - 12 * (i % 5)), (x + 30, top + 190 - 12 * ((i + 1) % 5)))
    shape.finish(color=(0, 0, 0), width=1)
    shape.commit()


def test_a_licence_line_right_above_a_figure_stays_out_of_it(tmp_path):
    """The licence line bioRxiv prints atop every page sat 20 pt above a figure set at the top of a page and
    was absorbed into the figure's region (its text and its crop). Known as recurring furniture before layout,
    it stays a header."""
    doc = pymupdf.open()
    for n in range(1, 6):
        page = doc.new_page(width=595, height=842)
        page.insert_textbox(pymupdf.Rect(40, 20, 555, 50), LICENCE, fontsize=6)
        if n == 3:
            _plot(page, 70)
            page.insert_text(
                (100, 290), "Figure 1: Kinase activity over twelve days of treatment.", fontsize=9
            )
        body = f"Kinase activity on page {n} doubled after the second treatment of the cells. " * 5
        page.insert_textbox(pymupdf.Rect(72, 320, 523, 480), body, fontsize=10)
    parsed = _parsed(doc, tmp_path, "preprint-figure.pdf")
    (figure,) = [e for e in parsed.elements if e.kind == ElementKind.FIGURE]
    assert figure.page == 3 and figure.caption.startswith("Figure 1:")
    assert (
        "bioRxiv" not in figure.text and figure.bbox[1] > 40
    )  # the licence ends at 37 pt, the plot starts at 70
    licence = [e for e in parsed.elements if e.page == 3 and "bioRxiv" in e.text]
    assert [e.kind for e in licence] == [ElementKind.HEADER]


def _draw(page, *rects: pymupdf.Rect) -> None:
    for rect in rects:  # one path each, as a plotting program writes them
        shape = page.new_shape()
        shape.draw_rect(rect)
        shape.finish(color=(0, 0, 0), fill=(0.8, 0.8, 0.8), width=1)
        shape.commit()


def _domain_diagram(page, top: float) -> None:
    """Two proteins' domains as boxes on a line, the way a paper draws them (two rows, one under the other)."""
    for row in (top, top + 24):
        _draw(
            page,
            pymupdf.Rect(170, row + 9, 520, row + 11),
            *(pymupdf.Rect(x, row, x + 60, row + 20) for x in (180, 260, 340)),
        )


def test_labels_beside_inside_or_across_a_drawing_do_not_name_sections(tmp_path):
    """A figure the region finder missed (no caption on its page) had its labels read as headings: "LIM
    Kinase 1" set large left of a domain diagram, "Q251A" bold inside a chart, an axis title set sideways. They
    named the section of a whole litqa_dev paper. A real heading above the drawing still counts."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    body = "Kinase activity doubled after the second treatment of the cells in every replicate. " * 4
    page.insert_text((72, 80), "Domain architecture", fontsize=13)
    page.insert_textbox(pymupdf.Rect(72, 90, 520, 160), body, fontsize=10)
    _domain_diagram(page, 200)
    page.insert_text((72, 214), "LIM Kinase 1", fontsize=13)  # left of the diagram, on its lines
    page.insert_text((300, 300), "Q251A", fontsize=11, fontname="hebo")  # inside the bar chart below
    axes = [pymupdf.Rect(120, 240, 121, 400), pymupdf.Rect(120, 399, 480, 400)]
    _draw(page, *axes, *(pymupdf.Rect(140 + 40 * i, 399 - 15 * (i + 1), 160 + 40 * i, 399) for i in range(8)))
    page.insert_text((125, 390), "Cofilin, % unphosphorylated", fontsize=11, rotate=90)  # the axis title
    page.insert_textbox(pymupdf.Rect(72, 430, 520, 500), body.replace("Kinase", "Phosphatase"), fontsize=10)
    parsed = _parsed(doc, tmp_path, "labels.pdf")
    titles = [e.text for e in parsed.elements if e.kind == ElementKind.TITLE]
    assert titles == ["Domain architecture"]
    last = next(e for e in parsed.elements if e.text.startswith("Phosphatase activity"))
    assert last.section == "Domain architecture"


def test_a_page_title_beside_a_logo_and_side_band_names_the_section(tmp_path):
    """A report's pages carry a side band and a logo of three shapes at the top left, and the page's title
    (set at three times the running size) right of the logo, on its lines. Read as a figure label, "TABLE OF
    CONTENTS" named nothing, and the page's text stayed under the previous page's heading."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    band = pymupdf.Rect(20, 40, 50, 780)
    logo = [pymupdf.Rect(30, 40, 60, 70), pymupdf.Rect(62, 40, 92, 70), pymupdf.Rect(46, 72, 76, 102)]
    _draw(page, band, *logo)
    page.insert_text((105, 75), "TABLE OF CONTENTS", fontsize=30)
    entries = "".join(
        f"Chapter {n}: the effects of heat on health, in depth ........ {20 * n}\n" for n in range(9)
    )
    page.insert_textbox(pymupdf.Rect(105, 130, 560, 400), entries, fontsize=10)
    parsed = _parsed(doc, tmp_path, "report.pdf")
    titles = [e.text for e in parsed.elements if e.kind == ElementKind.TITLE]
    assert titles == ["TABLE OF CONTENTS"]
    entry = next(e for e in parsed.elements if e.text.startswith("Chapter 0"))
    assert entry.section == "TABLE OF CONTENTS"


def test_highlight_bullets_are_list_items_and_a_lone_heading_word_is_a_heading(tmp_path):
    """Cell Press papers open with "Highlights": bullets set in a symbol font (its glyph for "•" has the code
    of a letter), at a size above the running text, each item's second line a block of its own; they were read
    as headings. "SUMMARY", set in the body size in a heavy face no font name calls bold, was no heading."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((53, 100), "Highlights", fontsize=12)
    for n, (first, second) in enumerate(
        [("Covalent K-Ras(G12C) inhibitors give rise to chemically", "modified cancer neoepitopes"),
         ("Bispecific antibodies induce T cell-mediated killing of KRAS", "G12C mutant cells")]
    ):  # fmt: skip
        y = 125 + 40 * n
        page.insert_text((53, y), "d", fontsize=6.5, fontname="symb")  # Symbol's "d" is a bullet here
        page.insert_text((66, y), first, fontsize=10)
        page.insert_text((66, y + 14), second, fontsize=10)
    page.insert_text((60, 260), "SUMMARY", fontsize=8.5)
    summary = "Immunotargeting of tumor-specific antigens is a powerful therapeutic strategy for cancer. " * 4
    page.insert_textbox(pymupdf.Rect(60, 270, 540, 360), summary, fontsize=8.5)
    parsed = _parsed(doc, tmp_path, "highlights.pdf")
    titles = [e.text for e in parsed.elements if e.kind == ElementKind.TITLE]
    assert titles == ["Highlights", "SUMMARY"]
    items = [e.text for e in parsed.elements if e.kind == ElementKind.LIST]
    assert items == [
        "• Covalent K-Ras(G12C) inhibitors give rise to chemically modified cancer neoepitopes",
        "• Bispecific antibodies induce T cell-mediated killing of KRAS G12C mutant cells",
    ]
    body = next(e for e in parsed.elements if e.text.startswith("Immunotargeting"))
    assert body.section == "SUMMARY"


def test_a_formula_set_in_a_text_font_beside_its_number_is_a_formula_not_headings(tmp_path):
    """A bioRxiv preprint sets its model's equations in the text font, a fraction's numerator in a block of
    its own ("dNp" over "dt = kpNp − ksNp"), slightly larger than the text, the number "(1)" at the margin:
    no math font, no number in the formula's block, so the pieces read as headings ("dNp", "dt = ...")."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    body = "We modelled the rates of senescence induction with two populations of cells over time. " * 4
    page.insert_text((36, 120), "Modeling the rates of senescence induction", fontsize=13)
    page.insert_textbox(pymupdf.Rect(36, 130, 567, 200), body, fontsize=11)
    for y, (numerator, rest, number) in zip(
        (300, 340), [("dNp", "dt = kpNp − ksNp", "(1)"), ("dNs", "dt = ksNp", "(2)")], strict=True
    ):
        page.insert_text((237, y + 12), numerator, fontsize=12.2)
        page.insert_text((242, y + 24), rest, fontsize=12.2)
        page.insert_text((550, y + 12), number, fontsize=11)
    page.insert_textbox(pymupdf.Rect(36, 400, 567, 470), body.replace("We", "They"), fontsize=11)
    parsed = _parsed(doc, tmp_path, "model.pdf")
    titles = [e.text for e in parsed.elements if e.kind == ElementKind.TITLE]
    assert titles == ["Modeling the rates of senescence induction"]
    formulas = [e for e in parsed.elements if e.kind == ElementKind.FORMULA]
    assert [f.meta.get("label") for f in formulas] == [["equation", 1], ["equation", 2]]
    assert "kpNp" in formulas[0].text and "ksNp" in formulas[1].text


def test_a_tables_note_that_repeats_its_label_does_not_grow_a_region_over_the_text_below(tmp_path):
    """IJBS sets a note under a table that starts with the table's label again ("Table 2: The PTMs sites ...
    are indicated in H or M"). Taken for a second caption, its region grew down over both columns of running
    text (set a little larger than the document's body size, so not stopped as a paragraph): 28 lines of
    prose became a table. A label anchors one region a page."""
    doc = pymupdf.open()
    first = doc.new_page(width=612, height=792)  # the document's running text, at 9 pt
    first.insert_textbox(
        pymupdf.Rect(59, 60, 553, 700), "Gasdermins execute pyroptosis in cells. " * 60, fontsize=9
    )
    page = doc.new_page(width=612, height=792)
    page.insert_text((59, 66), "Table 1: Modifications of gasdermins", fontsize=9)
    shape = page.new_shape()
    for y in (75, 92, 160):
        shape.draw_line((59, y), (552, y))
    shape.finish(color=(0, 0, 0), width=0.8)
    shape.commit()
    for row, y in enumerate((86, 104, 116, 128, 140, 152)):
        cells = (
            ["Protein", "Modification", "Site"] if row == 0 else [f"GSDM{row}", "Phosphorylation", f"T{row}8"]
        )
        for x, cell in zip((62, 250, 450), cells, strict=True):
            page.insert_text((x, y), cell, fontsize=7)
    page.insert_text((59, 172), "Table 1: Sites of human or murine proteins are marked H or M.", fontsize=6.5)
    prose = "In response to invading bacteria, gasdermins quickly execute pyroptosis in the host cells. " * 8
    page.insert_textbox(pymupdf.Rect(59, 185, 300, 500), prose, fontsize=10.5)
    page.insert_textbox(pymupdf.Rect(315, 185, 556, 500), prose.replace("bacteria", "viruses"), fontsize=10.5)
    parsed = _parsed(doc, tmp_path, "note.pdf")
    tables = [e for e in parsed.elements if e.kind == ElementKind.TABLE]
    assert len(tables) == 1 and tables[0].markdown and "Phosphorylation" in tables[0].markdown
    assert not any("invading" in t.text for t in tables)
    running = [
        e for e in parsed.elements if e.page == 2 and e.kind == ElementKind.TEXT and "invading" in e.text
    ]
    assert len(running) == 2
