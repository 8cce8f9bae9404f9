"""OCR with Tesseract, for scanned pages in scripts the bundled PP-OCR model does not read (Persian, Arabic).

Tesseract's Debian packages (``tesseract-ocr`` plus one ``tesseract-ocr-<lang>`` per language, e.g.
``tesseract-ocr-fas``) run offline; ``make test`` installs them where missing. The command-line tool is called
on the rendered page and asked for TSV: one row per word with its box, confidence and block/paragraph/line
numbers, words in reading order, right-to-left lines included, so a Persian line comes back in logical order
(PyMuPDF's own Tesseract bridge returned some RTL lines reversed when measured).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from typing import Any

from paperlens.errors import BackendUnavailableError
from paperlens.models import BBox
from paperlens.text.persian import fold_letters

_MIN_CONFIDENCE = 30.0  # Tesseract's per-word confidence (0-100): below it, mostly noise from figure textures
# Bidi marks Tesseract puts around Latin runs inside right-to-left lines: invisible, and they split words.
_BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
TIMEOUT_S = 120.0


def tesseract_languages() -> set[str]:
    """Languages the installed Tesseract can read (empty when it is not installed)."""
    binary = shutil.which("tesseract")
    if binary is None:
        return set()
    out = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    return {line.strip() for line in out.stdout.splitlines()[1:] if line.strip()}


def check_tesseract(languages: str) -> None:
    """Raise when Tesseract or one of ``languages`` ("eng+fas") is missing, naming the Debian package."""
    wanted = [lang for lang in languages.split("+") if lang]
    installed = tesseract_languages()
    missing = [lang for lang in wanted if lang not in installed]
    if not installed or missing:
        packages = " ".join(["tesseract-ocr"] + [f"tesseract-ocr-{lang}" for lang in missing])
        raise BackendUnavailableError(
            f"ingest.ocr_engine is 'tesseract' with languages {languages!r}, but "
            + ("tesseract is not installed" if not installed else f"{', '.join(missing)} is not installed")
            + f" (Debian: apt-get install {packages})",
            code="ocr_unavailable",
        )


def parse_tsv(tsv: str, scale: float) -> list[tuple[BBox, str, float]]:
    """Tesseract TSV -> lines as (bbox in PDF points, text, mean word confidence 0..1), in reading order."""
    lines: dict[tuple[str, str, str], list[tuple[float, float, float, float, str, float]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = _BIDI_MARKS.sub("", row.get("text") or "").strip()
        if row.get("level") != "5" or not text or float(row["conf"]) < _MIN_CONFIDENCE:
            continue
        left, top, width, height = (float(row[k]) for k in ("left", "top", "width", "height"))
        key = (row["block_num"], row["par_num"], row["line_num"])
        lines.setdefault(key, []).append((left, top, left + width, top + height, text, float(row["conf"])))
    out = []
    for words in lines.values():
        box = (
            min(w[0] for w in words) * scale,
            min(w[1] for w in words) * scale,
            max(w[2] for w in words) * scale,
            max(w[3] for w in words) * scale,
        )
        out.append((box, " ".join(w[4] for w in words), sum(w[5] for w in words) / len(words) / 100.0))
    return out


def tesseract_lines(page: Any, dpi: int, languages: str) -> list[tuple[BBox, str, float]]:
    """Recognised lines of a PyMuPDF page as (bbox in PDF points, text, confidence)."""
    from paperlens.ingest.crops import capped_dpi

    binary = shutil.which("tesseract")
    if binary is None:
        raise BackendUnavailableError("tesseract is not installed", code="ocr_unavailable")
    dpi = capped_dpi(page.rect.width, page.rect.height, dpi)
    png = page.get_pixmap(dpi=dpi, colorspace="gray", alpha=False).tobytes("png")
    # One thread: pages are OCR'd in parallel by the caller's workers, not inside Tesseract.
    done = subprocess.run(
        [binary, "stdin", "stdout", "-l", languages, "--dpi", str(dpi), "tsv"],
        input=png,
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    if done.returncode != 0:
        raise BackendUnavailableError(
            f"tesseract failed: {done.stderr.decode(errors='replace')[-300:]}", code="ocr_unavailable"
        )
    lines = parse_tsv(done.stdout.decode("utf-8", errors="replace"), 72.0 / dpi)
    if "fas" in languages.split("+"):
        # Persian recognition sometimes writes the Arabic twins of yeh and kaf: a misreading, corrected here.
        lines = [(box, fold_letters(text), confidence) for box, text, confidence in lines]
    return lines
