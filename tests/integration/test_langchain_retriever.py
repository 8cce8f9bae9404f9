"""paperlens search as a LangChain retriever, in process and over HTTP, inside a small LCEL chain."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from live_server import live_server
from pdf_factory import make_paper_pdf

from paperlens.config import load_settings
from paperlens.engine import Engine
from paperlens.errors import BadInputError
from paperlens.retrieve.langchain import PaperlensRetriever

TABLE_QUERY = "accuracy of three methods on two datasets table"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    paper = make_paper_pdf(tmp_path_factory.mktemp("pdfs") / "paper.pdf")
    settings = load_settings(data_dir=tmp_path_factory.mktemp("data"))
    engine = Engine(settings)
    document_id = engine.ingest_path(paper.path).document_id
    yield engine, paper, document_id
    engine.close()


def _format(docs: list[Document]) -> str:
    return "\n".join(f"[{d.metadata['source']}] {d.page_content}" for d in docs)


def test_the_retriever_returns_documents_with_where_they_came_from(indexed):
    engine, paper, document_id = indexed
    retriever = PaperlensRetriever(engine=engine, k=4)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke(TABLE_QUERY)
    hits = engine.search(TABLE_QUERY, k=4)
    assert [d.metadata["chunk_id"] for d in docs] == [h.chunk_id for h in hits]
    assert [d.page_content for d in docs] == [h.text for h in hits]
    table = next(d for d in docs if d.metadata["kind"] == "table")
    assert table.metadata["document_id"] == document_id and table.metadata["page"] == paper.table.page
    assert table.metadata["title"] == paper.title and len(table.metadata["bbox"]) == 4
    assert table.metadata["image_url"] is None  # in process there is no server to fetch a crop from
    assert table.metadata["source"] == f"{paper.title}, page {paper.table.page}"

    only_tables = PaperlensRetriever(engine=engine, k=4, kinds=["table"]).invoke(TABLE_QUERY)
    assert only_tables and {d.metadata["kind"] for d in only_tables} == {"table"}
    assert PaperlensRetriever(engine=engine, document_ids=["other"]).invoke(TABLE_QUERY) == []


def test_the_retriever_runs_inside_an_lcel_chain(indexed):
    engine, paper, _ = indexed
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context.\n{context}"), ("human", "{question}")]
    )
    chain = (
        {"context": PaperlensRetriever(engine=engine, k=3) | _format, "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(lambda value: value.to_messages())
    )
    system, human = chain.invoke(TABLE_QUERY)
    assert human.content == TABLE_QUERY
    assert f"[{paper.title}, page {paper.table.page}]" in system.content
    assert "Oracle" in system.content  # a table row the retriever brought in
    outputs = chain.batch([TABLE_QUERY, "training loss over ten epochs"])
    assert len(outputs) == 2 and "loss" in outputs[1][0].content.lower()


def test_the_retriever_can_search_a_running_service_over_http(indexed, tmp_path):
    engine, paper, document_id = indexed
    settings = load_settings(data_dir=tmp_path / "served", api_keys=["secret-key"])
    with live_server(settings) as server:
        with server.client(headers={"Authorization": "Bearer secret-key"}) as client:
            with paper.path.open("rb") as fh:
                job = client.post(
                    "/v1/documents", files={"file": ("paper.pdf", fh, "application/pdf")}
                ).json()
            assert server.wait_for_job(client, job["job_id"])["status"] == "succeeded"
        remote = PaperlensRetriever(url=server.url, api_key="secret-key", k=4)
        docs = remote.invoke(TABLE_QUERY)
        with pytest.raises(Exception, match="401|API key"):
            PaperlensRetriever(url=server.url, api_key="wrong", k=4).invoke(TABLE_QUERY)
    local = PaperlensRetriever(engine=engine, k=4).invoke(TABLE_QUERY)
    assert [(d.metadata["page"], d.metadata["kind"], d.page_content) for d in docs] == [
        (d.metadata["page"], d.metadata["kind"], d.page_content) for d in local
    ]
    table = next(d for d in docs if d.metadata["kind"] == "table")
    assert table.metadata["image_url"].startswith(server.url + "/v1/elements/")


def test_exactly_one_source_is_required():
    with pytest.raises(BadInputError):
        PaperlensRetriever()
    with pytest.raises(BadInputError):
        PaperlensRetriever(engine=object(), url="http://127.0.0.1:1")
