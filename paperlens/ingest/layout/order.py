"""Reading order within a page: column by column, with full-width items (titles, wide figures) as breaks.

Pure: boxes in, a permutation out. A box that crosses the page's vertical middle is "full width"; between
two full-width boxes, everything in the left column is read before everything in the right one. On a
single-column page every paragraph crosses the middle, so this reduces to top-to-bottom.
"""

from __future__ import annotations

from collections.abc import Sequence

from paperlens.models import BBox

_GUTTER = 12.0  # points a box may reach across the middle and still count as one column


def reading_order(boxes: Sequence[BBox], page_width: float) -> list[int]:
    """Indices of ``boxes`` in reading order."""
    mid = page_width / 2
    indices = sorted(range(len(boxes)), key=lambda i: (boxes[i][1], boxes[i][0]))

    def full_width(i: int) -> bool:
        x0, _, x1, _ = boxes[i]
        return x0 < mid - _GUTTER and x1 > mid + _GUTTER

    out: list[int] = []
    band: list[int] = []

    def flush() -> None:
        left = [i for i in band if (boxes[i][0] + boxes[i][2]) / 2 < mid]
        right = [i for i in band if (boxes[i][0] + boxes[i][2]) / 2 >= mid]
        out.extend(sorted(left, key=lambda i: (boxes[i][1], boxes[i][0])))
        out.extend(sorted(right, key=lambda i: (boxes[i][1], boxes[i][0])))
        band.clear()

    for i in indices:
        if full_width(i):
            flush()
            out.append(i)
        else:
            band.append(i)
    flush()
    return out
