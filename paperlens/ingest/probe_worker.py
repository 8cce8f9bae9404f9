"""Imported once by the probe's fork server (``paperlens.ingest.probe``), never by the service itself.

Each probe is then a fork of a process that already has PyMuPDF loaded. PyMuPDF 2.0 would also load its ONNX
layout model on import (seconds, a few hundred MB) when pymupdf-layout is installed; a probe only opens files
and reads page sizes, so that optional import is made to fail fast, which PyMuPDF handles.
"""

from __future__ import annotations

import sys

if "pymupdf" not in sys.modules:
    sys.modules.setdefault("pymupdf.layout", None)  # type: ignore[arg-type]

import pymupdf  # noqa: E402,F401

import paperlens.ingest.parse  # noqa: E402,F401
import paperlens.ingest.probe  # noqa: E402,F401
