"""Table regions -> Markdown with a header row, using PyMuPDF's table finder inside the region only.

A region in which no grid of two columns or more is found (a framed panel of prose set as a table, such as
annotation guidelines) becomes a one-column table, a row per text block, so every table element carries
Markdown and its text keeps its reading order.

``find_tables`` over a whole page costs ~0.7 s; clipped to the box the layout stage called a table it is a
few milliseconds. Cell text is rebuilt from the page's words (one extraction per page) because the finder's
own text joins words set closer than its tolerance ("Dataset A" -> "DatasetA").
"""

from __future__ import annotations

from typing import Any

from paperlens.models import BBox

Word = tuple[float, float, float, float, str]
_MAX_EMPTY_SHARE = 0.5


def _pad(box: BBox, d: float) -> BBox:
    return (box[0] - d, box[1] - d, box[2] + d, box[3] + d)


def _inside(word: Word, box: BBox) -> bool:
    cx, cy = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def _drawings_near(page: Any, clip: BBox) -> list[dict]:
    x0, y0, x1, y1 = clip
    near = []
    for path in page.get_drawings():
        r = path["rect"]
        if r.x0 <= x1 and r.x1 >= x0 and r.y0 <= y1 and r.y1 >= y0:
            near.append(path)
    return near


def _cell_text(cell: BBox | None, words: list[Word]) -> str:
    if cell is None:
        return ""
    x0, y0, x1, y1 = cell
    inside = [w for w in words if x0 <= (w[0] + w[2]) / 2 <= x1 and y0 <= (w[1] + w[3]) / 2 <= y1]
    return " ".join(w[4] for w in inside)


def _escape(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def rows_to_markdown(rows: list[list[str]]) -> str:
    """First row is the header. Ragged rows are padded so every line has the same number of cells."""
    width = max(len(r) for r in rows)
    rows = [[_escape(c) for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def table_markdown(page: Any, bbox: BBox, words: list[Word], vertical_rules: int = 0) -> str | None:
    """Markdown of the largest table found inside ``bbox``; a one-column table of its text blocks when no
    grid is found (``single_column_markdown``); None when the region holds no words.

    The region comes from the layout stage and holds the column heads, so its first non-empty row is the
    header row. (PyMuPDF's own ``Table.header`` re-reads the page per table and cost more than the finder.)"""
    # One finder call per table (each costs a text extraction and a drawing scan): a grid with vertical
    # rules is read by its lines; papers' booktabs tables have only a few horizontal rules, so there the
    # words' alignment decides.
    first = "lines" if vertical_rules >= 2 else "text"
    clip = _pad(bbox, 3.0)
    words = [w for w in words if _inside(w, clip)]
    second = "text" if first == "lines" else "lines"
    # use_layout=False: the finder would otherwise run PyMuPDF's layout model over the whole page (~1 s) just
    # to confirm what our layout stage already decided. paths: only the drawings near the table. The finder
    # joins touching rectangles pairwise over whatever it is given (quadratic), and a page with a plot has
    # thousands of them. Only when neither the rules nor the words' alignment give a grid (a table with no
    # rules and wide gaps between words reads as 17 thin columns of fragments) does the layout model help,
    # at its cost, for that table alone.
    attempts: list[dict[str, Any]] = [
        {"strategy": first, "use_layout": False, "paths": _drawings_near(page, clip)},
        {"strategy": second, "use_layout": False, "paths": _drawings_near(page, clip)},
        {"use_layout": True},
    ]
    for options in attempts:
        try:
            found = page.find_tables(clip=clip, **options)
        except Exception:  # the finder can fail on odd drawings; the element keeps its crop and raw text
            continue
        tables = [t for t in found.tables if t.row_count >= 2 and t.col_count >= 2]
        if not tables:
            continue
        table = max(tables, key=lambda t: t.row_count * t.col_count)
        rows = _rows(table, words)
        if rows is not None:
            return rows_to_markdown(rows)
    return single_column_markdown(page, clip, words)


def single_column_markdown(page: Any, clip: BBox, words: list[Word]) -> str | None:
    """The region as a one-column table, a row per PyMuPDF text block (a paragraph, or an item of a list),
    under an empty header: such a panel has no column heads, and Markdown needs a header row. Cell text comes
    from ``words``, as in a grid, so it is normalised the same way. None when no block holds a word."""
    import pymupdf

    from paperlens.ingest.layout.extract import text_flags

    blocks = page.get_text("blocks", clip=clip, flags=text_flags(pymupdf.TEXTFLAGS_BLOCKS))
    rows = [[_cell_text(tuple(block[:4]), words)] for block in blocks if block[6] == 0]
    rows = [row for row in rows if row[0]]
    return rows_to_markdown([[""], *rows]) if rows else None


def _rows(table: Any, words: list[Word]) -> list[list[str]] | None:
    """The table's non-empty rows, or None when fewer than two or when most cells are empty: the finder cut
    running text (a table of summaries) into a grid of fragments, and the raw text reads better."""
    rows = [[_cell_text(cell, words) for cell in row.cells] for row in table.rows]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        return None
    cells = [c for r in rows for c in r]
    if sum(1 for c in cells if not c.strip()) > _MAX_EMPTY_SHARE * len(cells):
        return None
    return rows


def count_vertical_rules(bbox: BBox, graphics: list[Any]) -> int:
    """Thin tall vector strokes inside the table region: column separators of a ruled grid."""
    x0, y0, x1, y1 = bbox
    count = 0
    for g in graphics:
        gx0, gy0, gx1, gy1 = g.bbox
        inside = gx0 >= x0 - 3 and gx1 <= x1 + 3 and gy0 >= y0 - 3 and gy1 <= y1 + 3
        if inside and not g.image and gx1 - gx0 <= 2.0 and gy1 - gy0 >= 8:
            count += 1
    return count
