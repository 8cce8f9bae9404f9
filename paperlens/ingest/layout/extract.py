"""PyMuPDF page -> ``PageContent`` (plain data). The only place the layout stage touches PyMuPDF's text API.

``get_text("dict")`` and ``get_bboxlog()`` together cost ~25 ms a page, far less than any layout model, which
is why the default layout is rules over these two.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import Any

from paperlens.ingest.layout.base import Graphic, PageContent, TextBlock
from paperlens.text.persian import fold_presentation_forms

# Fonts TeX and Word use for mathematics (upper-cased substrings of the font name).
_MATH_FONTS = (
    "CMMI",
    "CMSY",
    "CMEX",
    "CMBSY",
    "MSBM",
    "MSAM",
    "MATH",
    "SYMBOL",
    "EUFM",
    "EUSM",
    "RSFS",
    "ESINT",
    "WASY",
    "STIXGENERAL-ITALIC",
)
_MATH_CHARS = re.compile(r"[\u0370-\u03ff\u2190-\u22ff\u27c0-\u27ef\u2980-\u2aff\U0001d400-\U0001d7ff]")
_SPACES = re.compile(r"\s+")
_MIN_LINE_NUMBERS = 5  # fewer margin integers on a page than this are not a line-number column


def _is_math_font(font: str) -> bool:
    upper = font.upper()
    return any(m in upper for m in _MATH_FONTS)


def _is_bold(font: str, flags: int) -> bool:
    return bool(flags & 16) or any(
        w in font.lower() for w in ("bold", "medi", "black", "heavy", "cmbx", "semibold")
    )


def block_from_dict(raw: dict[str, Any], skip_lines: frozenset[int] = frozenset()) -> TextBlock | None:
    """One PyMuPDF text block as plain data; ``skip_lines`` (indexes into its lines) are left out."""
    lines_text: list[str] = []
    line_boxes = []
    sizes: Counter[float] = Counter()
    chars = bold = math = 0
    rotated = False
    for index, line in enumerate(raw.get("lines", [])):
        if index in skip_lines:
            continue
        dx, dy = line.get("dir", (1.0, 0.0))
        if abs(dx - 1.0) > 1e-3 or abs(dy) > 1e-3:
            rotated = True
        parts = []
        for span in line["spans"]:
            # Some PDFs (Persian and Arabic ones) hold contextual glyph forms instead of letters.
            text = fold_presentation_forms(span["text"])
            n = len(text.strip())
            if not n:
                parts.append(text)
                continue
            chars += n
            sizes[round(span["size"], 1)] += n
            if _is_bold(span["font"], span["flags"]):
                bold += n
            if _is_math_font(span["font"]):
                math += n
            else:
                math += len(_MATH_CHARS.findall(text))
            parts.append(text)
        line_text = "".join(parts).strip()
        if line_text:
            lines_text.append(line_text)
            line_boxes.append(tuple(line["bbox"]))
    if not chars:
        return None
    text = _join_lines(lines_text)
    bbox = tuple(raw["bbox"])
    if skip_lines:  # the block shrinks to the lines it keeps
        bbox = tuple(f(box[i] for box in line_boxes) for i, f in enumerate((min, min, max, max)))
    return TextBlock(
        bbox=bbox,
        text=text,
        lines=len(lines_text),
        size=sizes.most_common(1)[0][0],
        bold=bold / chars,
        math=min(1.0, math / chars),
        rotated=rotated,
        line_boxes=line_boxes,
    )


def _join_lines(lines: list[str]) -> str:
    """Join a block's lines; undo end-of-line hyphenation ("retrie-" + "val") but keep real hyphens short."""
    out = ""
    for line in lines:
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[:1].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}" if out else line
    return _SPACES.sub(" ", out).strip()


def margin_line_numbers(raw_blocks: list[dict[str, Any]]) -> dict[int, frozenset[int]]:
    """The lines of a page that are manuscript line numbers: bare integers set in the left or right margin,
    outside the running text's column, counting up down the page (preprints and journal submissions).

    They are typeset beside each text line, so PyMuPDF files each one into the block of its line, and the
    running text reads "...equal contribution from 255 both parents": noise for keyword and dense search
    alike, and a break in every quoted passage. Returns {block index: line indexes to leave out}."""
    lines = [
        (b, i, "".join(s["text"] for s in line["spans"]).strip(), line["bbox"])
        for b, block in enumerate(raw_blocks)
        for i, line in enumerate(block.get("lines", []))
    ]
    text_lines = [box for _, _, text, box in lines if len(text) >= 20]
    if not text_lines:
        return {}
    # The text column's edges: where many lines start (or end), so that the odd line outside them (a preprint
    # server's stamp across the top) does not count.
    many = max(2, len(text_lines) // 10)
    starts = Counter(round(box[0]) for box in text_lines)
    ends = Counter(round(box[2]) for box in text_lines)
    left = min((x for x, n in starts.items() if n >= many), default=min(starts))
    right = max((x for x, n in ends.items() if n >= many), default=max(ends))
    found: list[tuple[float, int, int, int]] = []  # (y, number, block, line)
    for b, i, text, (x0, y0, x1, _) in lines:
        if text.isdigit() and len(text) <= 5 and (x1 <= left + 1 or x0 >= right - 1):
            found.append((y0, int(text), b, i))
    if len(found) < _MIN_LINE_NUMBERS:
        return {}
    found.sort()
    rising = sum(1 for a, b in itertools.pairwise(found) if b[1] > a[1])
    if rising < 0.8 * (len(found) - 1):  # a column of figures in the margin, not a count
        return {}
    out: dict[int, set[int]] = {}
    for _, _, b, i in found:
        out.setdefault(b, set()).add(i)
    return {b: frozenset(lines) for b, lines in out.items()}


def extract_page(page: Any, body_size: float = 10.0) -> PageContent:
    import pymupdf

    flags = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
    raw = page.get_text("dict", flags=flags)
    text_blocks = [r for r in raw["blocks"] if r.get("type") == 0]
    skip = margin_line_numbers(text_blocks)
    blocks = [
        b
        for b in (block_from_dict(r, skip.get(n, frozenset())) for n, r in enumerate(text_blocks))
        if b is not None
    ]
    rect = page.rect
    page_area = rect.width * rect.height
    graphics: list[Graphic] = []
    for kind, box in page.get_bboxlog():
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        if w <= 0 and h <= 0:
            continue
        if w * h > 0.9 * page_area:  # page backgrounds and full-page frames are not figures
            continue
        if kind in ("fill-image", "fill-imgmask"):
            if w < 8 or h < 8:  # glyph-sized masks (Type3 fonts) and bullets
                continue
            graphics.append(Graphic(bbox=(x0, y0, x1, y1), image=True))
        elif kind in ("fill-path", "stroke-path", "fill-shade"):
            graphics.append(Graphic(bbox=(x0, y0, x1, y1), image=False))
    return PageContent(
        number=page.number + 1,
        width=rect.width,
        height=rect.height,
        blocks=blocks,
        graphics=graphics,
        body_size=body_size,
    )


def body_font_size(contents: list[PageContent]) -> float:
    """The running-text size: the size carrying the most characters over the given pages."""
    sizes: Counter[float] = Counter()
    for content in contents:
        for block in content.blocks:
            sizes[block.size] += len(block.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0
