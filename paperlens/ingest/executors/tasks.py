"""Work a worker process does for an executor (a warm local parser worker or a Ray task): module-level
functions, importable by name, so they can be sent to another process."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from paperlens.config import DescribeSettings
from paperlens.models import Element


@cache
def _describer(settings_json: str):
    """One describer per worker process and settings: its models load once, not per document."""
    from paperlens.ingest.describe import build_describer

    return build_describer(DescribeSettings.model_validate_json(settings_json))


def describe_share(
    elements: list[Element],
    data_dir: Path,
    settings_json: str,
    cache_dir: Path,
    progress: Callable[[int, int], None] | None = None,
) -> list[Element]:
    """``describe_elements`` over one share of a document's visuals, with this worker's own describer."""
    from paperlens.ingest.describe import describe_elements

    return describe_elements(elements, data_dir, _describer(settings_json), cache_dir, progress)


def can_describe_in_workers(settings: DescribeSettings) -> bool:
    """Backends a worker can build by itself from settings, without weights held by the service: the offline
    one (OCR of crops, seconds each, models in the wheel). A VLM stays where its model is loaded."""
    return settings.backend == "offline"


def shares_of(items: list, count: int) -> list[list]:
    """``items`` dealt into at most ``count`` interleaved shares (neighbours cost alike, so shares do too)."""
    count = max(1, min(count, len(items)))
    return [items[i::count] for i in range(count)]
