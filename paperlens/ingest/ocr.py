"""OCR for pages without a text layer (scanned papers, slides saved as images), with rapidocr-onnxruntime.

The PP-OCR weights ship inside the wheel, so this works offline. The engine loads once per process (~1 s)
and costs seconds per page, so it only runs on pages that have images and no text at all. Its English lines
often come without spaces; ``respace`` puts them back.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperlens.config import IngestSettings
from paperlens.ingest.layout.base import TextBlock
from paperlens.ingest.respace import respace
from paperlens.models import BBox

if TYPE_CHECKING:
    from paperlens.config import IngestSettings
    from paperlens.ingest.isolate import WorkerPool

_MIN_SCORE = 0.5  # recognitions below this are mostly noise from figure textures

#: Threads of one OCR engine; a parser worker sets 1 when several workers OCR pages side by side (two
#: engines with two threads each on two cores only trade places).
_threads = -1

OcrLines = list[tuple[BBox, str, float]]


def set_threads(threads: int) -> None:
    """Threads of this process's OCR engines (the page OCR here and the offline describer's), set before
    they load: a warm worker or a Ray task that shares the cores with others says how many are its own."""
    global _threads
    threads = threads if threads > 0 else -1
    if threads != _threads:
        _threads = threads
        _engine.cache_clear()


def engine_threads() -> int:
    """The threads ``set_threads`` asked for (-1: ONNX Runtime's default, every core)."""
    return _threads


#: Page resolution of each engine when ``ingest.ocr_dpi`` is unset. PP-OCR reads pages best at 100 dpi:
#: measured against pages' own text layers (benchmarks/ocr_accuracy.py), 150 dpi found fewer of their words
#: in twice the time; its detector is trained on images of about that size. Tesseract wants more pixels.
DEFAULT_DPI = {"rapidocr": 100, "tesseract": 150}


@cache
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    threads = {"intra_op_num_threads": _threads, "inter_op_num_threads": 1} if _threads > 0 else {}
    # One text line per recognition call: a batch pads every line to its widest, which on CPU cost a third
    # more time and misread words that the same line alone reads right.
    return RapidOCR(rec_batch_num=1, **threads)


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


def page_dpi(settings: IngestSettings) -> int:
    """The resolution pages are OCR'd at: ``ingest.ocr_dpi``, else the engine's own best."""
    return settings.ocr_dpi or DEFAULT_DPI[settings.ocr_engine]


def page_ocr_lines(
    page: Any, settings: IngestSettings, dpi: int | None = None
) -> list[tuple[BBox, str, float]]:
    """The configured OCR engine's lines for a page without a text layer (at ``dpi``, else ocr_dpi)."""
    dpi = dpi or page_dpi(settings)
    if settings.ocr_engine == "tesseract":
        from paperlens.ingest.ocr_tesseract import tesseract_lines

        return tesseract_lines(page, dpi, settings.ocr_languages)
    return ocr_lines(page, dpi)


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


# -- the OCR stage: image-only pages of one PDF, OCR'd in parallel across warm parser workers ---------------


def pages_needing_ocr(path: Path, settings: IngestSettings) -> list[int]:
    """1-based numbers of the pages that have no text layer but an image (runs in a parser worker)."""
    from paperlens.ingest.parse import open_pdf

    doc = open_pdf(path, settings)
    try:
        return [page.number + 1 for page in doc if needs_ocr(page)]
    finally:
        doc.close()


def ocr_pages(
    pages: list[int], path: Path, dpi: int, settings: IngestSettings, progress: Callable | None = None
) -> dict[int, OcrLines]:
    """OCR lines of the given pages (runs in a parser worker); ``progress(done, total)`` after each page."""
    from paperlens.ingest.parse import open_pdf

    doc = open_pdf(path, settings)
    try:
        found: dict[int, OcrLines] = {}
        for done, number in enumerate(pages, start=1):
            found[number] = page_ocr_lines(doc[number - 1], settings, dpi)
            if progress:
                progress(done, len(pages))
        return found
    finally:
        doc.close()


def ocr_document(
    path: Path,
    settings: IngestSettings,
    pool: WorkerPool,
    progress: Callable[[int, int], None] | None = None,
) -> dict[int, OcrLines]:
    """Every image-only page of ``path`` OCR'd, the pages split over the pool's workers side by side.

    Each worker takes an interleaved share of the pages (slides get heavier towards the end of a deck as
    often as not), so the shares cost about the same."""
    if not settings.ocr:
        return {}
    pages = pool.run(pages_needing_ocr, Path(path), settings, timeout_s=settings.parse_timeout_s)
    if not pages:
        return {}
    shares = [pages[i :: pool.size] for i in range(min(pool.size, len(pages)))]
    results: dict[int, OcrLines] = {}
    for found in pool.map_shares(
        ocr_pages,
        shares,
        Path(path),
        page_dpi(settings),
        settings,
        timeout_s=settings.parse_timeout_s,
        per_unit_timeout_s=settings.parse_timeout_per_page_s,
        progress=progress,
    ):
        results.update(found)
    return results
