"""Scanned Persian pages read with Tesseract's Persian data (Debian tesseract-ocr-fas), in logical order."""

from __future__ import annotations

import pytest
from persian_pdfs import make_scanned_persian_pdf

from paperlens.config import load_settings
from paperlens.engine import Engine
from paperlens.errors import BackendUnavailableError
from paperlens.ingest.ocr_tesseract import parse_tsv, tesseract_languages

TSV = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
    "4\t1\t1\t1\t1\t0\t212\t234\t895\t38\t-1\t\n"
    "5\t1\t1\t1\t1\t1\t949\t234\t158\t38\t88.8\tپژوهشگران\n"
    "5\t1\t1\t1\t1\t2\t904\t250\t30\t22\t93.2\tدر\n"
    "5\t1\t1\t1\t1\t3\t600\t240\t80\t30\t91.0\t\u200eKRAS\u200f\n"
    "5\t1\t1\t1\t1\t4\t500\t240\t80\t30\t12.0\tnoise\n"
    "5\t1\t1\t1\t2\t1\t900\t300\t100\t30\t90.0\tسال\n"
)


def test_tsv_words_become_lines_in_reading_order_without_bidi_marks():
    lines = parse_tsv(TSV, scale=0.5)
    assert [text for _, text, _ in lines] == ["پژوهشگران در KRAS", "سال"]
    box, _, confidence = lines[0]
    assert box == (300.0, 117.0, 553.5, 136.0)  # pixels x 0.5 (72 / 144 dpi) -> PDF points
    assert confidence == pytest.approx((88.8 + 93.2 + 91.0) / 300)


def _need_persian_tesseract():
    if "fas" not in tesseract_languages():
        pytest.skip("tesseract with Persian data is not installed (Debian: tesseract-ocr tesseract-ocr-fas)")


@pytest.mark.slow
def test_a_scanned_persian_page_is_read_in_logical_order(tmp_path):
    _need_persian_tesseract()
    pdf = make_scanned_persian_pdf(tmp_path / "scan.pdf")
    settings = load_settings(data_dir=tmp_path / "data", ingest={"ocr_engine": "tesseract"})
    engine = Engine(settings)
    try:
        assert engine.health()["backends"]["ocr"] == {"name": "tesseract", "model": "eng+fas", "active": True}
        document_id = engine.ingest_path(pdf).document_id
        elements = engine.store.list_elements(document_id)
        text = " ".join(e.text for e in elements)
        assert all(e.meta.get("ocr") for e in elements)
        # Right-to-left lines come back first word first, Persian digits and Latin terms in place.
        assert "پژوهشگران در سال 1402 نشان دادند که" in text
        assert "جهش KRAS G12C در سرطان" in text
        # Tesseract's Persian model sometimes writes Arabic yeh; Persian OCR output is folded to Persian letters.
        assert "\u064a" not in text
        assert engine.search("پژوهشگران سال ۱۴۰۲", k=1)[0].document_id == document_id
    finally:
        engine.close()


def test_a_missing_tesseract_language_is_reported_at_start_up(tmp_path):
    with pytest.raises(BackendUnavailableError, match="tesseract-ocr-xyz"):
        Engine(
            load_settings(
                data_dir=tmp_path / "data", ingest={"ocr_engine": "tesseract", "ocr_languages": "xyz"}
            )
        )
