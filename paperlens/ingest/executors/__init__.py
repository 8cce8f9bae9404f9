"""Where the heavy stages of ingestion run: warm local worker processes, or a Ray cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paperlens.ingest.executors.base import Executor

if TYPE_CHECKING:
    from paperlens.config import Settings
    from paperlens.index.embed.base import Embedder
    from paperlens.ingest.describe.base import Describer

__all__ = ["Executor", "build_executor"]


def build_executor(settings: Settings, embedder: Embedder, describer: Describer | None) -> Executor:
    """The configured executor; Ray is imported only when it is chosen."""
    if settings.ingest.executor == "ray":
        from paperlens.ingest.executors.ray import RayExecutor

        return RayExecutor(settings, embedder, describer)
    from paperlens.ingest.executors.local import LocalExecutor

    return LocalExecutor(settings, embedder, describer)
