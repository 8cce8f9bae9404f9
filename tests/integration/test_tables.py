"""Captioned tables become table elements with Markdown: the caption set under the table in its block (the
ACM/CHI style), a running head just above a table, a table with neither rules nor clean alignment, and a framed
panel of prose with no columns at all."""

from __future__ import annotations

import pytest

from paperlens.config import IngestSettings
from paperlens.ingest.captions import caption_label
from paperlens.ingest.layout.extract import split_at_captions
from paperlens.ingest.parse import _words, parse_pdf
from paperlens.ingest.tables import table_markdown
from paperlens.models import ElementKind


def _line(text: str, y: float, size: float, font: str) -> dict:
    return {"bbox": (54.0, y, 296.0, y + size), "dir": (1.0, 0.0), "spans": [
        {"text": text, "size": size, "font": font, "flags": 16 if "Bold" in font else 0}
    ]}  # fmt: skip


def test_a_caption_in_another_typeface_starts_a_block_of_its_own():
    raw = {"type": 0, "bbox": (54.0, 85.0, 296.0, 230.0), "lines": [
        _line("Action P1 P2 AVG", 85, 8.0, "LinLibertineTB"),
        _line("Paper Opens 77 48 39.3", 96, 8.0, "LinLibertineT"),
        _line("Table 2: Usage statistics from the field study.", 198, 9.0, "LinLibertineTB"),
        _line("Participants were actively engaged.", 208, 9.0, "LinLibertineTB"),
    ]}  # fmt: skip
    table, caption = split_at_captions(raw)
    assert [len(table["lines"]), len(caption["lines"])] == [2, 2]
    assert caption["bbox"] == (54.0, 198.0, 296.0, 217.0) and table["bbox"][3] == 104.0


def test_the_same_words_in_the_running_texts_typeface_do_not_split():
    raw = {"type": 0, "bbox": (54.0, 85.0, 296.0, 120.0), "lines": [
        _line("the results are summarised in the table below, and", 85, 9.0, "Times"),
        _line("Table 2: lists them per participant.", 96, 9.0, "Times"),
    ]}  # fmt: skip
    assert split_at_captions(raw) == [raw]


def _tables(parsed, page: int) -> list:
    return [e for e in parsed.elements if e.kind == ElementKind.TABLE and e.page == page]


def test_chi_tables_with_the_caption_below_have_markdown(bench_papers, tmp_path):
    path = bench_papers / "2302.07302v1.pdf"
    parsed = parse_pdf(path, "chi", tmp_path / "crops", IngestSettings())
    (first,) = _tables(parsed, 11)
    (second,) = _tables(parsed, 12)
    assert first.caption.startswith("Table 1: Literature review topics")
    # (A wrapped cell's last word may fall into a column of its own: the text strategy sees a gap there.)
    assert first.markdown.splitlines()[0].startswith("| ID | Literature Review Topics |")
    assert "| P6 | Solving math problems with neurosymbolic |" in first.markdown
    assert "CHI ’23" not in first.text  # the running head above the table stays out of it
    assert first.bbox[0] > 300  # in the right-hand column only
    assert second.caption.startswith("Table 2: Usage statistics")
    assert second.markdown.splitlines()[0].startswith("| Action | P1 | P2 | P3 |")
    assert "| Paper Opens | 77 | 48 | 17 | 33 | 33 | 28 | 39.3 | 21.0 |" in second.markdown


def test_a_table_without_rules_is_read_by_the_layout_aware_finder(bench_papers, tmp_path):
    path = bench_papers / "test-uu.pdf"
    parsed = parse_pdf(path, "uu", tmp_path / "crops", IngestSettings())
    table = next(e for e in _tables(parsed, 1) if e.meta.get("label") == ["table", 1])
    assert table.markdown is not None
    header = table.markdown.splitlines()[0]
    assert header.startswith("| Field | Task | Dataset | SOTA |")
    assert "| JNLPBA (Collier and Kim, 2004) | 78.58 | 74.05 | 76.09 | 75.77 | 77.28 |" in table.markdown


def _table_captions(path) -> set[tuple[str, int]]:
    """Every "Table N" label that opens a line of the PDF (as PyMuPDF reads it) in a caption's form."""
    import pymupdf

    labels = set()
    with pymupdf.open(path) as doc:
        for page in doc:
            for block in page.get_text("dict")["blocks"]:
                for line in block.get("lines", []):
                    label = caption_label("".join(span["text"] for span in line["spans"]).strip())
                    if label and label[0] == "table":
                        labels.add(label)
    return labels


def test_a_framed_panel_of_prose_is_a_one_column_table():
    """No grid of two columns: a row per paragraph, in reading order, under an empty header."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.draw_line((80, 70), (515, 70))
    paragraphs = [
        "In this task, you will be shown a long document and its summary, and you will check each span.",
        "1. Yes: if all the facts in the highlighted span are supported by the document.",
        "Example 1 Summary = Retief is not Lemuel's cousin. Supports = Yes",
    ]
    for n, text in enumerate(paragraphs):
        page.insert_textbox((85, 80 + 60 * n, 510, 130 + 60 * n), text, fontsize=10)
    page.draw_line((80, 260), (515, 260))
    page.insert_text((80, 285), "Table 3: Annotation guidelines.", fontsize=10)

    markdown = table_markdown(page, (80.0, 70.0, 515.0, 260.0), _words(page))

    assert markdown is not None
    lines = markdown.splitlines()
    assert lines[:2] == ["|  |", "|---|"]
    assert lines[2:] == [f"| {text} |" for text in paragraphs]


def test_an_empty_table_region_has_no_markdown():
    import pymupdf

    page = pymupdf.open().new_page()
    assert table_markdown(page, (80.0, 70.0, 515.0, 260.0), _words(page)) is None


def test_the_eacl_guidelines_panel_has_markdown_rows_in_order(bench_papers, tmp_path):
    path = bench_papers / "2023.eacl-main.121.pdf"
    parsed = parse_pdf(path, "eacl", tmp_path / "crops", IngestSettings())
    (table,) = [e for e in _tables(parsed, 17) if e.meta.get("label") == ["table", 10]]
    rows = table.markdown.splitlines()[2:]
    assert rows[0].startswith("| In this task, you will be shown a long document")
    assert [row.split(" Summary")[0] for row in rows[2:]] == ["| Example 1", "| Example 2", "| Example 3"]
    assert all(row.count(" | ") == 0 for row in rows)  # one column


@pytest.mark.parametrize(
    "name",
    [
        "1903.10676.pdf",
        "2020.acl-main.447.pdf",
        "2023.eacl-main.121.pdf",
        "2203.00130v1.pdf",
        "2206.10883v3.pdf",
        "2302.07302v1.pdf",
        "papermage.pdf",
        "test-uu.pdf",
    ],  # the ninth paper, 2304.02623v1.pdf, captions no table
)
def test_every_captioned_table_of_a_paper_has_markdown(bench_papers, tmp_path, name):
    wanted = _table_captions(bench_papers / name)
    parsed = parse_pdf(bench_papers / name, name, tmp_path / "crops", IngestSettings())
    found = {tuple(e.meta["label"]) for e in parsed.elements if e.kind == ElementKind.TABLE and e.markdown}
    assert wanted and wanted <= found, sorted(wanted - found)
