"""A PDF set the way journals set text: ligature glyphs, words hyphenated at line ends and across a page
break, real hyphenated compounds that fall at a line end, and two words set apart with no space character.

Lines are placed one by one (PyMuPDF's ``TextWriter`` with Helvetica, which has the "fi" and "fl" ligature
glyphs), so every line break is where the test says it is. Shared by the normalisation tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PAGE_1 = [
    "Endothelial cells sense ﬂuid shear stress through their cytoskeleton and",
    "respond with a signiﬁcant change of shape within minutes; the retrie-",
    "val of such passages needs the words as a reader types them. A state-of-the-",
    "art model of the response, validated on COVID-",
    "19 samples and on SARS-",
    "CoV-2 infected cells, is self-",
    "supervised and describes the ﬂow of calcium whichprovided the signal",
    "to the nucleus; the resulting pretraining cor-",
]
PAGE_2 = [
    "pus contains 16.4B tokens, nearly ﬁve times larger than the corpus used",
    "before, and every word of it is spelt with plain letters in the index so",
    "that keyword and dense search both find the passages that mention it.",
]
#: What the parser must make of the lines above.
JOINED = [
    "fluid shear stress",
    "significant change",
    "retrieval of such passages",
    "state-of-the-art model",
    "COVID-19 samples",
    "SARS-CoV-2 infected",
    "self-supervised",
    "which provided the signal",
    "pretraining corpus",
]
PAGE_2_START = "contains 16.4B tokens, nearly five times larger"


@dataclass(frozen=True)
class TypographyFacts:
    path: Path
    joined: list[str]
    page_2_start: str


def _write_lines(page, lines: list[str], top: float) -> None:
    import pymupdf

    writer = pymupdf.TextWriter(page.rect)
    font = pymupdf.Font("helv")
    for i, line in enumerate(lines):
        writer.append((72, top + 13 * i), line, font=font, fontsize=10)
    writer.write_text(page)


def make_typography_pdf(path: Path) -> TypographyFacts:
    import pymupdf

    doc = pymupdf.open()
    first = doc.new_page(width=595, height=842)
    _write_lines(first, PAGE_1, 660)  # the last line ends near the foot of the page, above its margin
    second = doc.new_page(width=595, height=842)
    _write_lines(second, PAGE_2, 90)
    doc.set_metadata({"title": "Typography of journal pages for normalisation tests"})
    doc.save(path)
    doc.close()
    return TypographyFacts(path=Path(path), joined=list(JOINED), page_2_start=PAGE_2_START)
