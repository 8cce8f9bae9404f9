"""Persian (right-to-left) PDFs generated with PyMuPDF for tests, and the English topic pages the
cross-lingual tests search.

PyMuPDF's HTML box shapes Arabic-script text and lays ``dir="rtl"`` paragraphs out right to left. Its built-in
Naskh font maps some ligature glyphs (medial lam, lam-alef) to no Unicode at all, so the fixture uses DejaVu
Sans, whose glyphs map back to letters, and is skipped where the font is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

A4 = (595.0, 842.0)
FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]

#: Two Persian paragraphs with Latin terms and Persian digits inside, as Persian researchers write.
PERSIAN_PARAGRAPHS = [
    "پژوهشگران در سال ۱۴۰۲ نشان دادند که جهش KRAS G12C در سرطان ریه رشد سلول‌ها را ۳۵ درصد افزایش می‌دهد.",
    "این مطالعه روی ۱۲۰ نمونه از بیماران انجام شد و نتایج آن با روش RNA-seq تأیید شد؛ "
    "گیاهان با فتوسنتز انرژی می‌سازند و این جمله برای شکستن یک خط طولانی نوشته شده است.",
]

#: English pages on unrelated topics; a question in another language must find the right one.
ENGLISH_TOPICS = {
    "photosynthesis": "Photosynthesis in plant leaves turns sunlight, water and carbon dioxide into sugar and "
    "oxygen. Chlorophyll in the chloroplasts absorbs red and blue light most strongly.",
    "volcano": "A volcanic eruption throws ash and lava from the crater; the magma chamber under the mountain "
    "empties and the summit may collapse into a caldera.",
    "football": "The 2018 football final ended two to one after the striker scored a late goal from a corner "
    "kick, and the goalkeeper of the losing team was sent off.",
}


def dejavu_dir() -> Path:
    for folder in FONT_DIRS:
        if (folder / "DejaVuSans.ttf").is_file():
            return folder
    pytest.skip("DejaVu Sans (Debian fonts-dejavu-core) is not installed: no font to set Persian text in")


def make_persian_pdf(path: Path, paragraphs: list[str] = PERSIAN_PARAGRAPHS) -> Path:
    """One A4 page of right-to-left Persian paragraphs, set in a narrow column so each wraps over lines."""
    import pymupdf

    archive = pymupdf.Archive(str(dejavu_dir()))
    css = "@font-face {font-family: dv; src: url(DejaVuSans.ttf);} p {font-family: dv; font-size: 12pt;}"
    html = "".join(f'<p dir="rtl">{p}</p>' for p in paragraphs)
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_htmlbox(pymupdf.Rect(72, 72, 400, 700), html, css=css, archive=archive)
    doc.save(path)
    doc.close()
    return Path(path)


def make_topics_pdf(path: Path, topics: dict[str, str] = ENGLISH_TOPICS) -> Path:
    """One page per English topic paragraph, in ``topics``' order (page n holds the n-th topic)."""
    import pymupdf

    doc = pymupdf.open()
    for text in topics.values():
        page = doc.new_page(width=A4[0], height=A4[1])
        page.insert_textbox(pymupdf.Rect(72, 72, A4[0] - 72, 400), text, fontsize=11, fontname="helv")
    doc.save(path)
    doc.close()
    return Path(path)


def make_scanned_persian_pdf(path: Path, dpi: int = 200) -> Path:
    """``make_persian_pdf``'s page as a picture only (no text layer): a scanned Persian page."""
    import pymupdf

    source = pymupdf.open(make_persian_pdf(Path(path).with_suffix(".source.pdf")))
    pixmap = source[0].get_pixmap(dpi=dpi)
    doc = pymupdf.open()
    page = doc.new_page(width=source[0].rect.width, height=source[0].rect.height)
    page.insert_image(page.rect, pixmap=pixmap)
    doc.save(path)
    doc.close()
    source.close()
    return Path(path)
