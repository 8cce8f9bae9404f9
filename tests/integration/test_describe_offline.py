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
