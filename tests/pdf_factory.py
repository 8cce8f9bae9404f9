"""Small PDFs built with PyMuPDF for tests, each returned with the facts a test can check against.

Shared by several test modules: keep these functions and the fields of the returned facts stable.
Every PDF is generated in a few milliseconds, so tests build them in ``tmp_path`` instead of shipping files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

A4 = (595.0, 842.0)
Rect = tuple[float, float, float, float]

HEADER_TEXT = "Preprint under review - Factory Paper"
TITLE = "Layout Signals for Retrieval over Synthetic Papers"
SECTIONS = ["1 Introduction", "2 Method", "3 Results"]
PLOT_CAPTION = "Figure 1: Training loss of the factory model decreases over ten epochs."
IMAGE_CAPTION = "Figure 2: A colour test pattern embedded as a raster image."
TABLE_CAPTION = "Table 1: Accuracy of three methods on two datasets."
TABLE_HEADER = ["Method", "Dataset A", "Dataset B"]
TABLE_ROWS = [["Baseline", "71.2", "64.0"], ["Ours", "78.9", "70.3"], ["Oracle", "91.5", "88.8"]]
FORMULA_TEXT = "E = m c2 + a xi / (1 + b)"
PLOT_REFERENCE = "As shown in Figure 1, the loss falls quickly during the first epochs."
TABLE_REFERENCE = "Table 1 compares our method with the baseline and an oracle."

_FILLER = (
    "Retrieval over scientific documents needs more than plain text extraction. Readers look at figures, "
    "tables and equations, and a system that answers their questions has to find those regions, keep their "
    "captions and cite the page they come from. This paragraph is filler text written for tests."
)


@dataclass(frozen=True)
class Region:
    page: int  # 1-based
    rect: Rect  # PDF points, origin top-left
    caption: str = ""


@dataclass(frozen=True)
class PaperFacts:
    path: Path
    pages: int
    title: str
    sections: list[str]
    plot: Region  # vector-drawn line plot (paths only, no image)
    image: Region  # embedded raster image
    table: Region  # ruled table with a header row
    formula: Region  # display equation on its own line, numbered (1)
    table_header: list[str] = field(default_factory=lambda: list(TABLE_HEADER))
    table_rows: list[list[str]] = field(default_factory=lambda: [list(r) for r in TABLE_ROWS])
    plot_reference: str = PLOT_REFERENCE
    table_reference: str = TABLE_REFERENCE
    header_text: str = HEADER_TEXT


def _text_block(page, rect: Rect, text: str, size: float = 10, font: str = "helv", align: int = 0) -> float:
    """Write wrapped text into rect; return the y just below the written text."""
    import pymupdf

    r = pymupdf.Rect(rect)
    spare = page.insert_textbox(r, text, fontsize=size, fontname=font, align=align)
    if spare < 0:
        raise ValueError(f"text does not fit into {rect}: {text[:40]!r}")
    return r.y1 - spare


def _furniture(page, number: int) -> None:
    page.insert_text((72, 40), HEADER_TEXT, fontsize=8, fontname="helv")
    page.insert_text((A4[0] / 2 - 3, 810), str(number), fontsize=9, fontname="helv")


def _draw_plot(page, rect: Rect) -> None:
    """A line plot made of PDF paths: axes, ticks and a decreasing curve (no embedded image)."""
    import pymupdf

    x0, y0, x1, y1 = rect
    shape = page.new_shape()
    shape.draw_rect(pymupdf.Rect(rect))
    shape.finish(color=(0.6, 0.6, 0.6), width=0.5)
    left, bottom = x0 + 30, y1 - 25
    shape.draw_line((left, y0 + 10), (left, bottom))
    shape.draw_line((left, bottom), (x1 - 10, bottom))
    for i in range(11):
        tx = left + i * (x1 - 10 - left) / 10
        shape.draw_line((tx, bottom), (tx, bottom + 4))
    shape.finish(color=(0, 0, 0), width=1)
    points = []
    for i in range(41):
        t = i / 40
        points.append((left + t * (x1 - 10 - left), y0 + 15 + (bottom - y0 - 20) * (1 - 1 / (1 + 6 * t))))
    shape.draw_polyline(points)
    shape.finish(color=(0.1, 0.3, 0.8), width=1.5, closePath=False)
    shape.commit()
    page.insert_text((x1 - 60, y1 - 8), "epoch", fontsize=7)
    page.insert_text((x0 + 4, y0 + 12), "loss", fontsize=7)


def _draw_table(page, top_left: tuple[float, float]) -> Rect:
    col_w, row_h = 110.0, 18.0
    x0, y0 = top_left
    rows = [TABLE_HEADER, *TABLE_ROWS]
    x1, y1 = x0 + col_w * len(TABLE_HEADER), y0 + row_h * len(rows)
    shape = page.new_shape()
    for r in range(len(rows) + 1):
        shape.draw_line((x0, y0 + r * row_h), (x1, y0 + r * row_h))
    for c in range(len(TABLE_HEADER) + 1):
        shape.draw_line((x0 + c * col_w, y0), (x0 + c * col_w, y1))
    shape.finish(color=(0, 0, 0), width=0.8)
    shape.commit()
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            font = "hebo" if r == 0 else "helv"
            page.insert_text((x0 + c * col_w + 6, y0 + r * row_h + 13), cell, fontsize=9, fontname=font)
    return (x0, y0, x1, y1)


def _test_pattern_png(width: int = 240, height: int = 160) -> bytes:
    import pymupdf

    samples = bytearray(width * height * 3)
    for y in range(height):
        for x in range(width):
            i = (y * width + x) * 3
            samples[i] = x * 255 // width
            samples[i + 1] = y * 255 // height
            samples[i + 2] = 255 if (x // 20 + y // 20) % 2 else 40
    pix = pymupdf.Pixmap(pymupdf.csRGB, width, height, bytes(samples), False)
    return pix.tobytes("png")


def make_paper_pdf(path: Path) -> PaperFacts:
    """Three single-column A4 pages: title + sections, a vector plot, a display formula, a ruled table and an
    embedded raster image, each visual with a caption, plus a running header and page numbers."""
    import pymupdf

    path = Path(path)
    doc = pymupdf.open()
    left, right = 72.0, A4[0] - 72.0

    # Page 1: title, abstract, introduction that references Figure 1.
    page = doc.new_page(width=A4[0], height=A4[1])
    _furniture(page, 1)
    y = _text_block(page, (left, 70, right, 120), TITLE, size=16, font="hebo", align=1) + 20
    y = _text_block(page, (left, y, right, y + 80), "Abstract. " + _FILLER) + 16
    y = _text_block(page, (left, y, right, y + 30), SECTIONS[0], size=12, font="hebo") + 8
    for text in (_FILLER, PLOT_REFERENCE + " " + _FILLER, _FILLER):
        y = _text_block(page, (left, y, right, y + 90), text) + 10

    # Page 2: method with the vector plot and the display formula.
    page = doc.new_page(width=A4[0], height=A4[1])
    _furniture(page, 2)
    y = _text_block(page, (left, 70, right, 100), SECTIONS[1], size=12, font="hebo") + 8
    y = _text_block(page, (left, y, right, y + 90), _FILLER) + 14
    plot_rect = (120.0, y, 475.0, y + 220)
    _draw_plot(page, plot_rect)
    y = _text_block(page, (left, plot_rect[3] + 8, right, plot_rect[3] + 40), PLOT_CAPTION, size=9) + 14
    y = _text_block(
        page, (left, y, right, y + 90), "The model is trained with the objective below. " + _FILLER
    )
    y += 16
    formula_y = y
    page.insert_text((215, formula_y + 12), "E = m c", fontsize=13, fontname="tiit")
    page.insert_text((262, formula_y + 6), "2", fontsize=8, fontname="tiro")
    page.insert_text((270, formula_y + 12), "+ a x", fontsize=13, fontname="tiit")
    page.insert_text((303, formula_y + 15), "i", fontsize=8, fontname="tiit")
    page.insert_text((310, formula_y + 12), "/ (1 + b)", fontsize=13, fontname="tiro")
    page.insert_text((right - 20, formula_y + 12), "(1)", fontsize=10, fontname="tiro")
    formula_rect = (212.0, formula_y, 365.0, formula_y + 17)
    y = formula_y + 34
    _text_block(page, (left, y, right, y + 90), "where a and b are constants. " + _FILLER)

    # Page 3: results with the table (caption above) and the raster image (caption below).
    page = doc.new_page(width=A4[0], height=A4[1])
    _furniture(page, 3)
    y = _text_block(page, (left, 70, right, 100), SECTIONS[2], size=12, font="hebo") + 8
    y = _text_block(page, (left, y, right, y + 90), TABLE_REFERENCE + " " + _FILLER) + 14
    y = _text_block(page, (left, y, right, y + 30), TABLE_CAPTION, size=9) + 6
    table_rect = _draw_table(page, (left + 30, y))
    y = table_rect[3] + 30
    image_rect = (170.0, y, 410.0, y + 160)
    page.insert_image(pymupdf.Rect(image_rect), stream=_test_pattern_png())
    y = _text_block(page, (left, image_rect[3] + 8, right, image_rect[3] + 40), IMAGE_CAPTION, size=9) + 14
    _text_block(page, (left, y, right, y + 90), _FILLER)

    doc.set_metadata({"title": TITLE, "author": "Test Factory"})
    doc.save(path)
    doc.close()
    return PaperFacts(
        path=path,
        pages=3,
        title=TITLE,
        sections=list(SECTIONS),
        plot=Region(2, plot_rect, PLOT_CAPTION),
        image=Region(3, image_rect, IMAGE_CAPTION),
        table=Region(3, table_rect, TABLE_CAPTION),
        formula=Region(2, formula_rect, ""),
    )


@dataclass(frozen=True)
class TwoColumnFacts:
    path: Path
    left_paragraphs: list[str]  # reading order: all of these first ...
    right_paragraphs: list[str]  # ... then these


def make_two_column_pdf(path: Path) -> TwoColumnFacts:
    """One page, two columns of three paragraphs each; each paragraph starts with a unique marker word."""
    import pymupdf

    path = Path(path)
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    lefts = [f"Leftmarker{i} " + _FILLER for i in range(1, 4)]
    rights = [f"Rightmarker{i} " + _FILLER for i in range(1, 4)]
    for x0, x1, paragraphs in ((60.0, 285.0, lefts), (310.0, 535.0, rights)):
        y = 80.0
        for text in paragraphs:
            y = _text_block(page, (x0, y, x1, y + 200), text) + 14
    doc.save(path)
    doc.close()
    return TwoColumnFacts(path=path, left_paragraphs=lefts, right_paragraphs=rights)


SCANNED_LINES = ["Scanned page with a hidden message", "The quick brown fox jumps over the lazy dog"]


def make_scanned_pdf(path: Path, lines: list[str] | None = None, pages: int = 1, dpi: int = 150) -> Path:
    """Pages that are only an image of text (no text layer), like a scanned paper or a slide saved as JPEG."""
    import pymupdf

    path = Path(path)
    lines = lines or SCANNED_LINES
    src = pymupdf.open()
    page = src.new_page(width=A4[0], height=A4[1])
    y = 120.0
    for line in lines:
        page.insert_text((72, y), line, fontsize=22, fontname="helv")
        y += 50
    png = page.get_pixmap(dpi=dpi).tobytes("png")
    src.close()
    doc = pymupdf.open()
    for _ in range(pages):
        p = doc.new_page(width=A4[0], height=A4[1])
        p.insert_image(p.rect, stream=png)
    doc.save(path)
    doc.close()
    return path


def make_text_pdf(path: Path, pages: int = 1, text: str = _FILLER) -> Path:
    """Plain text pages; with many pages it makes a PDF that takes a while to parse (timeouts)."""
    import pymupdf

    path = Path(path)
    doc = pymupdf.open()
    for i in range(pages):
        page = doc.new_page(width=A4[0], height=A4[1])
        _text_block(page, (72, 72, A4[0] - 72, 400), f"Page {i + 1}. " + text)
    doc.save(path)
    doc.close()
    return path


def make_encrypted_pdf(
    path: Path, user_password: str | None = None, owner_password: str = "owner-secret"
) -> Path:
    """AES-256 encrypted. Without ``user_password`` anyone can open it (only permissions are restricted);
    with one, it cannot be opened without that password."""
    import pymupdf

    path = Path(path)
    make_text_pdf(path.with_suffix(".plain.pdf"))
    doc = pymupdf.open(path.with_suffix(".plain.pdf"))
    doc.save(
        path,
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        owner_pw=owner_password,
        user_pw=user_password or "",
        permissions=pymupdf.PDF_PERM_PRINT,
    )
    doc.close()
    path.with_suffix(".plain.pdf").unlink()
    return path


def make_corrupt_pdf(path: Path) -> Path:
    """A PDF header followed by garbage: no objects, no pages."""
    path = Path(path)
    path.write_bytes(b"%PDF-1.7\n" + bytes((i * 37 + 11) % 256 for i in range(4000)))
    return path


def make_truncated_pdf(path: Path, keep: float = 0.3) -> Path:
    """A real multi-page paper cut off after ``keep`` of its bytes (an interrupted download)."""
    path = Path(path)
    full = path.with_suffix(".full.pdf")
    make_paper_pdf(full)
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_zero_page_pdf(path: Path) -> Path:
    """A syntactically valid PDF with an empty page tree (PyMuPDF refuses to save one: written by hand)."""
    path = Path(path)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path
