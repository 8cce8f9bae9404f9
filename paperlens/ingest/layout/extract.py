"""PyMuPDF page -> ``PageContent`` (plain data). The only place the layout stage touches PyMuPDF's text API.

``get_text("dict")`` and ``get_bboxlog()`` together cost ~25 ms a page, far less than any layout model, which
is why the default layout is rules over these two.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from paperlens.ingest.layout.base import Graphic, PageContent, TextBlock

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


def _is_math_font(font: str) -> bool:
    upper = font.upper()
    return any(m in upper for m in _MATH_FONTS)


def _is_bold(font: str, flags: int) -> bool:
    return bool(flags & 16) or any(
        w in font.lower() for w in ("bold", "medi", "black", "heavy", "cmbx", "semibold")
    )


def block_from_dict(raw: dict[str, Any]) -> TextBlock | None:
    lines_text: list[str] = []
    line_boxes = []
    sizes: Counter[float] = Counter()
    chars = bold = math = 0
    rotated = False
    for line in raw.get("lines", []):
        dx, dy = line.get("dir", (1.0, 0.0))
        if abs(dx - 1.0) > 1e-3 or abs(dy) > 1e-3:
            rotated = True
        parts = []
        for span in line["spans"]:
            text = span["text"]
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
    return TextBlock(
        bbox=tuple(raw["bbox"]),
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


def extract_page(page: Any, body_size: float = 10.0) -> PageContent:
    import pymupdf

    flags = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
    raw = page.get_text("dict", flags=flags)
    blocks = [b for b in (block_from_dict(r) for r in raw["blocks"] if r.get("type") == 0) if b is not None]
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
