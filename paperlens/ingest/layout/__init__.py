"""Layout analysis: a page -> kinds, boxes and reading order. ``make_layout_backend`` picks one by name."""

from __future__ import annotations

from paperlens.ingest.layout.base import LayoutBackend


def make_layout_backend(name: str) -> LayoutBackend:
    if name == "heuristic":
        from paperlens.ingest.layout.heuristic import HeuristicLayout

        return HeuristicLayout()
    if name == "pymupdf":
        from paperlens.ingest.layout.pymupdf_model import PyMuPDFLayout

        return PyMuPDFLayout()
    if name == "rapid":
        from paperlens.errors import BackendUnavailableError

        # Not implemented against a real install: say so instead of silently using another backend.
        raise BackendUnavailableError(
            "layout backend 'rapid' needs the rapid-layout package, which is not installed; "
            "use 'heuristic' (default) or 'pymupdf'"
        )
    from paperlens.errors import ConfigError

    raise ConfigError(f"unknown layout backend {name!r}")
