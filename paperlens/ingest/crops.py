"""Render a region of a page to a PNG under ``crops_dir/<document_id>/``.

``Element.crop_path`` is relative to the data directory (``crops_dir``'s parent, see ``Settings.crops_dir``),
so the data directory can move and the service resolves crops with ``data_dir / crop_path``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from paperlens.models import BBox

PAD_PT = 2.0  # a little white space around the box so strokes on its edge are not cut
MAX_PIXELS = 16_000_000  # a poster-sized figure at 200 DPI would need gigabytes; such crops get a lower DPI


def capped_dpi(width_pt: float, height_pt: float, dpi: int, max_pixels: int = MAX_PIXELS) -> int:
    """``dpi``, lowered just enough that a ``width_pt`` x ``height_pt`` region renders to at most
    ``max_pixels`` pixels."""
    pixels = width_pt * height_pt * (dpi / 72.0) ** 2
    if pixels <= max_pixels:
        return dpi
    return max(1, int(dpi * (max_pixels / pixels) ** 0.5))


def crop_box(bbox: BBox, page_rect: BBox) -> BBox:
    x0, y0, x1, y1 = bbox
    return (
        max(page_rect[0], x0 - PAD_PT),
        max(page_rect[1], y0 - PAD_PT),
        min(page_rect[2], x1 + PAD_PT),
        min(page_rect[3], y1 + PAD_PT),
    )


def write_crop(page: Any, bbox: BBox, dpi: int, crops_dir: Path, document_id: str, name: str) -> str | None:
    """Write the PNG; return its path relative to the data directory, or None for an empty region."""
    rect = page.rect
    clip = crop_box(bbox, (rect.x0, rect.y0, rect.x1, rect.y1))
    if clip[2] - clip[0] < 1 or clip[3] - clip[1] < 1:
        return None
    pix = page.get_pixmap(dpi=capped_dpi(clip[2] - clip[0], clip[3] - clip[1], dpi), clip=clip, alpha=False)
    folder = crops_dir / document_id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    tmp = folder / f".{name}.png.tmp"
    pix.save(str(tmp), output="png")
    os.replace(tmp, target)  # a reader never sees half a PNG
    return f"{crops_dir.name}/{document_id}/{name}.png"
