"""PyMuPDF page -> ``PageContent`` (plain data). The only place the layout stage touches PyMuPDF's text API.

``get_text("dict")`` and ``get_bboxlog()`` together cost ~25 ms a page, far less than any layout model, which
is why the default layout is rules over these two.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import Any

from paperlens.ingest.captions import caption_label
from paperlens.ingest.chunk import union_bbox
from paperlens.ingest.layout.base import Graphic, PageContent, TextBlock
from paperlens.ingest.respace import split_glued_words
from paperlens.text.normalize import SOFT_HYPHEN, join_lines, normalize_text
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
_MIN_LINE_NUMBERS = 5  # fewer margin integers on a page than this are not a line-number column


def _is_math_font(font: str) -> bool:
    upper = font.upper()
    return any(m in upper for m in _MATH_FONTS)


# Fonts that set bullets and dingbats: their glyphs carry whatever code the font's maker chose ("d" in Cell
# Press's AdvPSMPi6 is a round bullet), so the character is no letter a reader sees.
_SYMBOL_FONTS = ("PI", "SYMBOL", "DINGBAT", "WINGDING", "ZAPF")


def _is_symbol_bullet(span: dict[str, Any]) -> bool:
    """A line opened by one character in a symbol font: a bullet, read as "•"."""
    font = span["font"].upper()
    return len(span["text"].strip()) == 1 and any(f in font for f in _SYMBOL_FONTS)


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
        for position, span in enumerate(line["spans"]):
            # Some PDFs (Persian and Arabic ones) hold contextual glyph forms instead of letters.
            text = fold_presentation_forms(span["text"])
            if position == 0 and _is_symbol_bullet(span):
                text = "•"
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
        raw_text = "".join(parts).rstrip()
        line_text = normalize_text(raw_text).strip()
        if raw_text.endswith(SOFT_HYPHEN):  # normalising removes it; joining the lines needs to see it
            line_text += SOFT_HYPHEN
        if line_text:
            lines_text.append(line_text)
            line_boxes.append(tuple(line["bbox"]))
    if not chars:
        return None
    text = split_glued_words(join_lines(lines_text))
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


def _line_style(line: dict[str, Any]) -> tuple[float, bool]:
    """(size, bold) of the line's longest span: what the eye sees as its typeface."""
    span = max(line["spans"], key=lambda s: len(s["text"].strip()), default=None)
    if span is None:
        return (0.0, False)
    return (round(span["size"], 1), _is_bold(span["font"], span["flags"]))


def split_at_captions(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """One PyMuPDF block as several when a caption starts inside it in another typeface.

    MuPDF groups lines by proximity, so a caption set right under its table ("Table 2: ..." in 9 pt bold under
    8 pt cells, the ACM/CHI style) lands in the table's block; the layout rules anchor figures and tables on
    caption blocks and never saw it. A caption line (``caption_label``) whose size or weight differs from the
    line before it starts a block of its own; the same words in the running text's typeface do not."""
    lines = raw.get("lines", [])
    cuts = [
        i
        for i in range(1, len(lines))
        if caption_label("".join(s["text"] for s in lines[i]["spans"]))
        and _line_style(lines[i]) != _line_style(lines[i - 1])
    ]
    if not cuts:
        return [raw]
    parts = []
    for start, end in itertools.pairwise([0, *cuts, len(lines)]):
        boxes = [lines[i]["bbox"] for i in range(start, end)]
        bbox = tuple(f(b[k] for b in boxes) for k, f in enumerate((min, min, max, max)))
        parts.append({**raw, "lines": lines[start:end], "bbox": bbox})
    return parts


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


def text_flags(base: int) -> int:
    """PyMuPDF text flags for reading a page as its readers would type it: ``base`` (one of PyMuPDF's
    ``TEXTFLAGS_*`` defaults) without ``TEXT_PRESERVE_LIGATURES``, so MuPDF spells "ﬁ" as "fi" itself (it knows
    the font's glyphs; a table of ours would not), and without images (we read those from the drawing log)."""
    import pymupdf

    return base & ~pymupdf.TEXT_PRESERVE_LIGATURES & ~pymupdf.TEXT_PRESERVE_IMAGES


def extract_page(page: Any, body_size: float = 10.0) -> PageContent:
    import pymupdf

    raw = page.get_text("dict", flags=text_flags(pymupdf.TEXTFLAGS_DICT))
    text_blocks = [part for r in raw["blocks"] if r.get("type") == 0 for part in split_at_captions(r)]
    skip = margin_line_numbers(text_blocks)
    blocks = [
        b
        for b in (block_from_dict(r, skip.get(n, frozenset())) for n, r in enumerate(text_blocks))
        if b is not None
    ]
    blocks = join_hanging_lines(blocks)
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


_BULLET = re.compile(r"^[•◦▪‣∙·●○■□–]\s")


def join_hanging_lines(blocks: list[TextBlock]) -> list[TextBlock]:
    """A bullet item's next lines, set with a hanging indent, become blocks of their own when MuPDF breaks
    the block at the indent ("• Bispecific antibodies induce killing of K-Ras" | "G12C mutant cells"): the
    line alone reads as a heading set at the item's size. A block right under a bullet item (less than half a
    line apart), indented to the item's text and in its type size, is joined back to it."""
    out: list[TextBlock] = []
    for block in blocks:
        prev = out[-1] if out else None
        if (
            prev is not None
            and _BULLET.match(prev.text)
            and 0 <= block.bbox[1] - prev.bbox[3] <= 0.5 * block.size
            and prev.bbox[0] + 2 <= block.bbox[0] <= prev.bbox[0] + 3 * block.size
            and abs(block.size - prev.size) <= 0.5
            and not _BULLET.match(block.text)
        ):
            prev.text = join_lines([prev.text, block.text])
            prev.bbox = union_bbox([prev.bbox, block.bbox])
            prev.lines += block.lines
            prev.line_boxes = [*prev.line_boxes, *block.line_boxes]
            continue
        out.append(block)
    return out


def body_font_size(contents: list[PageContent]) -> float:
    """The running-text size: the size carrying the most characters over the given pages."""
    sizes: Counter[float] = Counter()
    for content in contents:
        for block in content.blocks:
            sizes[block.size] += len(block.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0
