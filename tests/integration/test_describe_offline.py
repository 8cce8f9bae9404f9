"""The offline describer for real: rapidocr reads a rendered raster chart, a vector figure's own text layer
is used instead of OCR, and tables/formulas keep the text forms ingestion recovered."""

from __future__ import annotations

import pytest

from paperlens.ingest.describe.base import DescribeRequest
from paperlens.ingest.describe.offline import OfflineDescriber, needs_ocr
from paperlens.models import Element, ElementKind

pytestmark = pytest.mark.slow  # loads the OCR models (~1 s) and runs them on a crop


def _element(kind: ElementKind, **fields) -> Element:
    return Element(
        id=f"doc-0001-{kind.value}", document_id="doc", page=1, bbox=(0, 0, 100, 100), kind=kind, **fields
    )


def _raster_chart(path):
    """A chart-like PNG whose words exist only as pixels."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (900, 420), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    draw.text((40, 30), "Accuracy 91.5", fill="black", font=font)
    draw.text((40, 330), "Training epochs", fill="black", font=font)
    draw.line((40, 300, 860, 120), fill="blue", width=6)
    image.save(path)
    return path


def test_a_raster_figure_is_read_by_ocr_and_joined_with_its_caption_and_citations(tmp_path):
    element = _element(
        ElementKind.FIGURE,
        caption="Figure 2: Accuracy during training.",
        references=["As Figure 2 shows, accuracy rises steadily."],
    )
    assert needs_ocr(element)
    [description] = OfflineDescriber().describe(
        [DescribeRequest(element=element, image_path=_raster_chart(tmp_path / "chart.png"))]
    )
    assert description.structured
    assert "Accuracy 91.5" in description.visible_text
    assert "Training epochs" in description.visible_text
    assert "91.5" in description.values
    assert description.text.startswith("Figure: Figure 2: Accuracy during training.")
    assert "Cited in text: As Figure 2 shows" in description.text


def test_a_vector_figure_uses_its_text_layer_and_skips_ocr(tmp_path):
    labels = "loss epoch 0 2 4 6 8 10 baseline ours"
    element = _element(ElementKind.FIGURE, text=labels, caption="Figure 1: Training loss.")
    assert not needs_ocr(element)
    missing_crop = tmp_path / "never-read.png"  # OCR would fail on it; the text layer is used instead
    [description] = OfflineDescriber().describe([DescribeRequest(element=element, image_path=missing_crop)])
    assert labels in description.visible_text
    assert description.values[:3] == ["0", "2", "4"]


def test_tables_and_formulas_keep_the_text_forms_ingestion_found(tmp_path):
    table = _element(
        ElementKind.TABLE,
        caption="Table 1: Accuracy.",
        markdown="| Method | Dataset A |\n|---|---|\n| Ours | 78.9 |",
    )
    formula = _element(ElementKind.FORMULA, text="E = m c 2 + a x i / (1 + b) (1)")
    assert not needs_ocr(table) and not needs_ocr(formula)
    crop = tmp_path / "unused.png"
    table_d, formula_d = OfflineDescriber().describe(
        [DescribeRequest(element=table, image_path=crop), DescribeRequest(element=formula, image_path=crop)]
    )
    assert table_d.markdown == table.markdown and "| Ours | 78.9 |" in table_d.text
    assert formula_d.latex == formula.text and "Formula: E = m c 2" in formula_d.text


def test_real_crops_from_a_bench_paper_are_described(bench_papers, tmp_path):
    """Page 5 of Multi-LexSum (a raster pipeline figure) and page 6 (a ruled table), parsed by the real parser."""
    import pymupdf

    from paperlens.config import IngestSettings
    from paperlens.ingest.parse import parse_pdf

    source = bench_papers / "2206.10883v3.pdf"
    if not source.is_file():
        pytest.skip(f"{source.name} is not in ../shared/bench/papers")
    pages = tmp_path / "pages.pdf"
    with pymupdf.open(source) as doc:
        doc.select([4, 5])
        doc.save(pages)
    data_dir = tmp_path / "data"
    parsed = parse_pdf(pages, "d" * 64, data_dir / "crops", IngestSettings())
    visuals = {e.kind: e for e in parsed.elements if e.kind in (ElementKind.FIGURE, ElementKind.TABLE)}
    assert set(visuals) == {ElementKind.FIGURE, ElementKind.TABLE}, [e.kind for e in parsed.elements]
    requests = [DescribeRequest(element=e, image_path=data_dir / e.crop_path) for e in visuals.values()]
    figure, table = OfflineDescriber().describe(requests)

    assert visuals[ElementKind.FIGURE].caption.startswith("Figure 1: The pipeline")
    assert needs_ocr(visuals[ElementKind.FIGURE])  # a raster image: its words exist only as pixels
    assert "Summary" in figure.visible_text  # read off the pixels by OCR
    assert figure.text.startswith("Figure: Figure 1: The pipeline")
    assert table.markdown and table.markdown.count("|") > 8
    assert table.text.startswith("Table: Table 2: Comparison of Multi-LexSum")
