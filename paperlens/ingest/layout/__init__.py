"""Layout analysis: a page -> kinds, boxes and reading order. ``make_layout_backend`` picks one by name."""

from __future__ import annotations

from paperlens.backends import Registry
from paperlens.ingest.layout.base import LayoutBackend

LAYOUTS: Registry[LayoutBackend] = Registry("layout")


@LAYOUTS.register("heuristic")
def _heuristic() -> LayoutBackend:
    from paperlens.ingest.layout.heuristic import HeuristicLayout

    return HeuristicLayout()


@LAYOUTS.register("pymupdf")
def _pymupdf() -> LayoutBackend:
    from paperlens.ingest.layout.pymupdf_model import PyMuPDFLayout

    return PyMuPDFLayout()


def make_layout_backend(name: str) -> LayoutBackend:
    return LAYOUTS.build(name)
