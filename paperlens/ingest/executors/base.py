"""The one interface both executors implement: the stages' heavy work, wherever it runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from paperlens.ingest.parse import ParsedDocument
from paperlens.models import Element

#: progress(done, total)
CountProgress = Callable[[int, int], None]


class Executor(Protocol):
    name: str  # "local" or "ray"

    def warm_up(self) -> None:
        """Start workers and load models now, so the first document does not wait on them."""

    def ocr(self, path: Path, document_id: str, progress: CountProgress) -> dict[int, list]:
        """OCR lines of every image-only page, by 1-based page number."""

    def parse(
        self, path: Path, document_id: str, ocr_results: dict[int, list], title: str, progress: CountProgress
    ) -> ParsedDocument:
        """Layout elements of the PDF, with the crops of its visuals written under the crops folder."""

    def describe(self, elements: list[Element], progress: CountProgress) -> list[Element]:
        """The same elements, with descriptions of the visual ones filled in."""

    def embed(self, texts: Sequence[str], progress: Callable[[float], None]) -> np.ndarray:
        """One L2-normalised vector per passage."""

    def close(self) -> None: ...
