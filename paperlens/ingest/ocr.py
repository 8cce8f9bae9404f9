"""OCR for pages without a text layer (scanned papers, slides saved as images), with rapidocr-onnxruntime.

The PP-OCR weights ship inside the wheel, so this works offline. The engine loads once per process (~1 s)
and costs seconds per page, so it only runs on pages that have images and no text at all. Its English lines
often come without spaces; ``respace`` puts them back.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from paperlens.config import IngestSettings
from paperlens.ingest.layout.base import TextBlock
from paperlens.ingest.respace import respace
from paperlens.models import BBox

_MIN_SCORE = 0.5  # recognitions below this are mostly noise from figure textures


@cache
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def needs_ocr(page: Any) -> bool:
    """No extractable text but something drawn as an image: a scanned page."""
    if page.get_text("text").strip():
        return False
    return any(kind in ("fill-image", "fill-imgmask") for kind, _ in page.get_bboxlog())


def ocr_lines(page: Any, dpi: int) -> list[tuple[BBox, str, float]]:
    """Recognised lines as (bbox in PDF points, text, confidence)."""
    import numpy as np

    from paperlens.ingest.crops import capped_dpi

    dpi = capped_dpi(page.rect.width, page.rect.height, dpi)  # a poster-sized scan would not fit in memory
    pix = page.get_pixmap(dpi=dpi, colorspace="rgb", alpha=False)
    image = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    result, _ = _engine()(image[:, :, ::-1].copy())  # rapidocr expects OpenCV's BGR order
    scale = 72.0 / dpi
    lines = []
    for points, text, score in result or []:
        if float(score) < _MIN_SCORE or not str(text).strip():
            continue
        xs = [p[0] * scale for p in points]
        ys = [p[1] * scale for p in points]
        lines.append(((min(xs), min(ys), max(xs), max(ys)), respace(str(text).strip()), float(score)))
    return lines


def page_ocr_lines(page: Any, settings: IngestSettings) -> list[tuple[BBox, str, float]]:
    """The configured OCR engine's lines for a page without a text layer."""
    if settings.ocr_engine == "tesseract":
        from paperlens.ingest.ocr_tesseract import tesseract_lines

        return tesseract_lines(page, settings.ocr_dpi, settings.ocr_languages)
    return ocr_lines(page, settings.ocr_dpi)


def lines_to_blocks(lines: list[tuple[BBox, str, float]]) -> list[TextBlock]:
    """Merge OCR lines into paragraph blocks: a line joins the block above when it starts close below it,
    overlaps it horizontally and has about the same height (one font size)."""
    blocks: list[TextBlock] = []
    for box, text, _score in sorted(lines, key=lambda t: (t[0][1], t[0][0])):
        height = box[3] - box[1]
        target = None
        for block in reversed(blocks[-4:]):
            last = block.line_boxes[-1]
            last_h = last[3] - last[1]
            overlap = min(last[2], box[2]) - max(last[0], box[0])
            if 0 <= box[1] - last[3] <= 0.8 * last_h and overlap > 0 and abs(height - last_h) < 0.3 * last_h:
                target = block
                break
        if target is None:
            blocks.append(TextBlock(bbox=box, text=text, size=round(height * 0.8, 1), line_boxes=[box]))
            continue
        x0, y0, x1, y1 = target.bbox
        target.bbox = (min(x0, box[0]), min(y0, box[1]), max(x1, box[2]), max(y1, box[3]))
        target.text = f"{target.text} {text}"
        target.lines += 1
        target.line_boxes.append(box)
    return blocks
