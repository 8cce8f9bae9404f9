"""What the benchmark needs from a retriever: ranked (document, page, text) lists for a query.

The system under test (``SystemRetriever``, the service's own engine) and the plain baseline both satisfy
this, so the runner scores them with one code path.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable


class Retrieved(NamedTuple):
    document_id: str
    page: int  # 1-based
    text: str
    score: float = 0.0
    kind: str = "text"


@runtime_checkable
class BenchRetriever(Protocol):
    name: str

    def search(self, query: str, k: int, document_ids: list[str] | None = None) -> list[Retrieved]: ...
