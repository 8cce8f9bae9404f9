"""The default describer, no model weights: OCR of the crop joined with what ingestion already knows.

Text inside a figure (axis titles, legend entries, tick labels, node names in a diagram) is invisible to
text retrieval unless someone reads it off the pixels; rapidocr's PP-OCR weights ship in its wheel. The
caption, the table's Markdown, the formula's text and the sentences that cite the element are added so the
one description says what the element is, what it shows and how the paper talks about it.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from paperlens.ingest.describe.base import DescribeRequest, Description
from paperlens.ingest.respace import respace
from paperlens.models import Element, ElementKind

OFFLINE_VERSION = "offline-3"  # 3: OCR lines respaced

log = logging.getLogger(__name__)

_engine = None
_engine_threads = 0
_engine_lock = threading.Lock()


def ocr_engine():
    """The process-wide rapidocr engine: its three ONNX sessions take ~1 s to load, so load them once (again
    only if the process's OCR threads change: see ``ocr.set_threads``)."""
    global _engine, _engine_threads
    from paperlens.ingest.ocr import engine_threads

    with _engine_lock:
        threads = engine_threads()
        if _engine is None or threads != _engine_threads:
            from rapidocr_onnxruntime import RapidOCR

            # Defaults upscale the short side to 736 px ("min"), which turns a wide table crop into a 4000 px
            # image; crops are rendered at print resolution already, so only cap the long side. The 180-degree
            # classifier is skipped: upside-down text does not occur inside figures. A worker that shares the
            # cores with others runs its sessions on its own share of them.
            limits = {"intra_op_num_threads": threads, "inter_op_num_threads": 1} if threads > 0 else {}
            _engine = RapidOCR(det_limit_type="max", det_limit_side_len=960, use_cls=False, **limits)
            _engine_threads = threads
        return _engine


def ocr_lines(image_path: Path, min_score: float = 0.5) -> list[str]:
    """Text lines read off an image, top to bottom, left to right within a line."""
    engine = ocr_engine()
    with _engine_lock:  # onnxruntime sessions are shared; keep one caller at a time
        result, _elapsed = engine(str(image_path))
    boxes = []
    for box, text, score in result or []:
        if float(score) < min_score or not str(text).strip():
            continue
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        boxes.append((min(ys), max(ys), min(xs), respace(str(text).strip())))
    return _group_lines(boxes)


def _group_lines(boxes: list[tuple[float, float, float, str]]) -> list[str]:
    """Join OCR boxes whose vertical centres are within half a box height into one line."""
    boxes.sort(key=lambda b: ((b[0] + b[1]) / 2, b[2]))
    lines: list[list[tuple[float, float, float, str]]] = []
    for box in boxes:
        centre, height = (box[0] + box[1]) / 2, box[1] - box[0]
        if lines:
            last = lines[-1]
            last_centre = sum((b[0] + b[1]) / 2 for b in last) / len(last)
            if abs(centre - last_centre) <= max(height, 1.0) / 2:
                last.append(box)
                continue
        lines.append([box])
    return [" ".join(b[3] for b in sorted(line, key=lambda b: b[2])) for line in lines]


def _normal(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


_KIND_LABEL = {ElementKind.FIGURE: "Figure", ElementKind.TABLE: "Table", ElementKind.FORMULA: "Formula"}
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)?%?(?![\w])")


#: A figure whose region already holds this many words in the PDF's text layer (a vector plot's axis labels,
#: ticks and legend) is not OCR'd: OCR would read the same words again, at ~1-9 s per crop on a CPU.
FIGURE_TEXT_LAYER_WORDS = 8


def needs_ocr(element: Element) -> bool:
    """Figures whose words exist only as pixels (raster images); tables and formulas when ingestion found no
    text."""
    if element.kind == ElementKind.TABLE:
        return not (element.markdown or element.text).strip()
    if element.kind == ElementKind.FORMULA:
        return not element.text.strip()
    return len(element.text.split()) < FIGURE_TEXT_LAYER_WORDS


def compose(element: Element, ocr: list[str]) -> Description:
    """Join the crop's OCR lines and the element's known text forms into one structured description."""
    caption = (element.caption or "").strip()
    caption_key = _normal(caption)
    # A crop often includes its caption; don't repeat it as "text in image".
    seen = [line for line in ocr if not (caption_key and _normal(line) and _normal(line) in caption_key)]
    if not seen and element.kind == ElementKind.FIGURE and element.text.strip():
        seen = [element.text.strip()]  # a vector figure's own text layer (see needs_ocr)
    visible = "\n".join(seen)
    label = _KIND_LABEL.get(element.kind, str(element.kind).title())
    parts = [f"{label}: {caption}" if caption else label]
    markdown = element.markdown.strip() if element.markdown else None
    formula = element.text.strip() if element.kind == ElementKind.FORMULA and element.text.strip() else None
    if markdown:
        parts.append(markdown)
    elif element.kind == ElementKind.TABLE and element.text.strip() and element.text.strip() != caption:
        parts.append(element.text.strip())
    if formula:
        parts.append(f"Formula: {formula}")
    if visible:
        parts.append("Text in image: " + " | ".join(seen))
    references = [r.strip() for r in element.references if r.strip()]
    if references:
        parts.append("Cited in text: " + " ".join(references[:5]))
    return Description(
        kind=str(element.kind),
        summary=caption,
        markdown=markdown,
        latex=formula,
        values=_NUMBER.findall(visible)[:100],
        visible_text=visible,
        text="\n".join(parts),
        structured=True,
        raw=visible,
    )


class OfflineDescriber:
    """OCR + caption + table Markdown + formula text + citing sentences. Needs no weights."""

    name = "offline"
    prompt_version = OFFLINE_VERSION

    def __init__(self, min_score: float = 0.5) -> None:
        self.model = "rapidocr-onnxruntime"
        self.batch_size = 1  # crop by crop: OCR takes seconds, so progress and the cache advance per crop
        self.min_score = min_score

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        results = []
        for request in requests:
            lines: list[str] = []
            if needs_ocr(request.element):
                try:
                    lines = ocr_lines(request.image_path, self.min_score)
                except Exception as exc:  # an unreadable crop loses its OCR, not the element's other text
                    log.warning("OCR failed on %s: %s", request.image_path, exc)
            results.append(compose(request.element, lines))
        return results
