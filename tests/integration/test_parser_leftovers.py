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
    path = tmp_path / "preprint-figure.pdf"
    doc.save(path)
    parsed = parse_pdf(path, "f" * 64, tmp_path / "crops", IngestSettings(ocr=False))
    (figure,) = [e for e in parsed.elements if e.kind == ElementKind.FIGURE]
    assert figure.page == 3 and figure.caption.startswith("Figure 1:")
    assert "bioRxiv" not in figure.text and figure.bbox[1] > 40  # the licence ends at 37 pt, the plot starts at 70
    licence = [e for e in parsed.elements if e.page == 3 and "bioRxiv" in e.text]
    assert [e.kind for e in licence] == [ElementKind.HEADER]
