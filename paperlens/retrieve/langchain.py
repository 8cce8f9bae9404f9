"""paperlens search as a LangChain ``BaseRetriever``, so users can plug it into their own chains (LCEL).

Two ways to reach the index: in process, over an ``Engine`` (or anything with the Engine's ``search``), or
over HTTP against a running ``paperlens serve`` (``url=`` and optionally ``api_key=``). Either way each hit
becomes a ``Document`` whose ``page_content`` is the chunk text and whose metadata says where it came from:
document id, title, page, bbox, element kind, score, and the crop URL for figures, tables and formulas.

    retriever = PaperlensRetriever(engine=Engine(load_settings()), k=5)
    chain = retriever | format_docs        # or {"context": retriever, "question": RunnablePassthrough()} | ...
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, model_validator

from paperlens.errors import BadInputError
from paperlens.models import Hit


def hit_to_document(hit: Hit) -> Document:
    metadata = hit.model_dump(mode="json", exclude={"text"})
    metadata["source"] = f"{hit.title or hit.document_id}, page {hit.page}"
    return Document(page_content=hit.text, metadata=metadata)


class PaperlensRetriever(BaseRetriever):
    """Hybrid (dense + keyword) paperlens search as LangChain documents; give ``engine`` or ``url``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Any = None
    url: str | None = None
    api_key: str | None = None
    k: int = 5
    document_ids: list[str] | None = None
    kinds: list[str] | None = None
    timeout_s: float = 60.0

    @model_validator(mode="after")
    def _one_source(self) -> PaperlensRetriever:
        if (self.engine is None) == (self.url is None):
            raise BadInputError("PaperlensRetriever needs exactly one of engine= or url=")
        return self

    def search(self, query: str) -> list[Hit]:
        if self.engine is not None:
            return self.engine.search(query, k=self.k, document_ids=self.document_ids, kinds=self.kinds)
        return self._search_http(query)

    def _search_http(self, query: str) -> list[Hit]:
        import httpx

        from paperlens.errors import RetryableError, UpstreamError

        body: dict[str, Any] = {"query": query, "k": self.k}
        if self.document_ids is not None:
            body["document_ids"] = self.document_ids
        if self.kinds is not None:
            body["kinds"] = self.kinds
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = httpx.post(
                f"{self.url.rstrip('/')}/v1/search", json=body, headers=headers, timeout=self.timeout_s
            )
        except httpx.TransportError as exc:
            raise RetryableError(f"paperlens at {self.url} is unreachable: {exc}") from exc
        if response.status_code != 200:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "upstream_error", "message": response.text[:200]}
            raise UpstreamError(
                f"paperlens search failed ({response.status_code}): {error['message']}",
                code=error.get("code", "upstream_error"),
            )
        # The wire shape of a hit is Hit's JSON; image URLs are made absolute so a chain can fetch crops.
        hits = [Hit.model_validate(h) for h in response.json()["hits"]]
        for hit in hits:
            if hit.image_url and hit.image_url.startswith("/"):
                hit.image_url = self.url.rstrip("/") + hit.image_url
        return hits

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [hit_to_document(hit) for hit in self.search(query)]
