"""Link captions to the figure or table they describe, for backends that only label boxes.

The heuristic backend links while it grows regions from captions (``meta["link"]``); a layout model only says
"this is a caption" and "this is a picture". Here each labelled caption takes the nearest unlinked visual of
its kind that shares its column, above or below it. Pure: boxes in, the same boxes with ``link`` set.
"""

from __future__ import annotations

from collections.abc import Sequence

from paperlens.ingest.layout.base import LayoutBox
from paperlens.models import ElementKind

_KIND_OF_LABEL = {"figure": ElementKind.FIGURE, "algorithm": ElementKind.FIGURE, "table": ElementKind.TABLE}
_MAX_DISTANCE = 120.0  # points between a caption and its visual; farther ones are someone else's


def _vertical_gap(a: tuple, b: tuple) -> float:
    if a[3] <= b[1]:
        return b[1] - a[3]
    if b[3] <= a[1]:
        return a[1] - b[3]
    return 0.0


def link_captions(boxes: Sequence[LayoutBox]) -> None:
    used = {b.meta["link"] for b in boxes if "link" in b.meta}
    next_link = max(used, default=0) + 1
    for cap in boxes:
        if cap.kind != ElementKind.CAPTION or "link" in cap.meta or "label" not in cap.meta:
            continue
        want = _KIND_OF_LABEL.get(cap.meta["label"][0])
        if want is None:
            continue
        candidates = []
        for vis in boxes:
            if vis.kind != want or "link" in vis.meta:
                continue
            overlap = min(vis.bbox[2], cap.bbox[2]) - max(vis.bbox[0], cap.bbox[0])
            gap = _vertical_gap(vis.bbox, cap.bbox)
            if overlap > 0 and gap <= _MAX_DISTANCE:
                candidates.append((gap, id(vis), vis))
        if not candidates:
            continue
        vis = min(candidates)[2]
        cap.meta["link"] = vis.meta["link"] = next_link
        vis.meta["label"] = cap.meta["label"]
        next_link += 1
