"""The whole service on served models, over real HTTP end to end: uvicorn on 127.0.0.1 with every model role
(descriptions, embeddings, rerank, answers) on OpenAI-compatible protocol stand-ins. Upload -> describe ->
embed -> ask (whole and streamed) -> rerank, each visible in the stand-ins' request logs; /v1/health shows the
servers; and with the answer server failing or gone, /v1/ask is a 502/503/504 with a stable code (an SSE
``error`` event when streaming), never a 500 and never an answer from another backend."""

from __future__ import annotations

import json

import pytest
from live_server import live_server
from openai_standin import CHAT_MODEL, EMBED_MODEL, RERANK_MODEL, Fault, OpenAIStandIn
from pdf_factory import make_paper_pdf

from paperlens.config import load_settings

CHAT = "/v1/chat/completions"
QUESTION = "What does the vector plot in Figure 1 show?"


@pytest.fixture(scope="module", autouse=True)
def _fresh_health():
    """/v1/health reuses a probe's answer for a few seconds; these tests kill a server and look at once."""
    import paperlens.openai_compat as compat

    kept, compat.PROBE_TTL_S = compat.PROBE_TTL_S, 0.0
    yield
    compat.PROBE_TTL_S = kept


@pytest.fixture(scope="module")
def models():
    """One stand-in for descriptions, embeddings and rerank; another for answers, so it can fail alone."""
    served, answers = OpenAIStandIn(), OpenAIStandIn()
    yield served, answers
    served.close()
    answers.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, models):
    served, answers = models
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("served-data"),
        describe={"backend": "openai", "model": "vlm", "base_url": served.base_url, "max_attempts": 1},
        embed={"backend": "openai", "model": EMBED_MODEL, "openai": {"base_url": served.base_url}},
        rerank={"backend": "http", "model": RERANK_MODEL, "top_n": 10, "http": {"base_url": served.url}},
        generate={
            "backend": "openai",
            "model": CHAT_MODEL,
            "base_url": answers.base_url,
            "timeout_s": 1.0,
            "max_retries": 1,
        },
    )
    with live_server(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def ingested(server, models, tmp_path_factory):
    paper = make_paper_pdf(tmp_path_factory.mktemp("pdfs") / "paper.pdf")
    with server.client() as client, open(paper.path, "rb") as fh:
        r = client.post("/v1/documents", files={"file": ("paper.pdf", fh, "application/pdf")})
        assert r.status_code == 202, r.text
        job = server.wait_for_job(client, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    return r.json()


def _sse(lines) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: ") :])))
    return events


def test_ingestion_describes_crops_and_embeds_chunks_on_the_servers(models, ingested, server):
    served, _ = models
    describe_calls = [r for r in served.requests_to(CHAT) if r["body"]["model"] == "vlm"]
    assert describe_calls, "no crop was described by the served VLM"
    assert all(r["body"]["messages"][0]["content"][0]["type"] == "image_url" for r in describe_calls)
    assert served.requests_to("/v1/embeddings")
    with server.client() as client:
        elements = client.get(f"/v1/documents/{ingested['document_id']}/elements?kind=table").json()[
            "elements"
        ]
    (table,) = elements
    # The served VLM's JSON reply, parsed and validated, is the table's stored description.
    assert table["description"].startswith("A table read by the stand-in. Table 1: Accuracy")


def test_ask_is_answered_by_the_served_model_after_a_served_rerank(models, ingested, server):
    served, answers = models
    before_rerank = len(served.requests_to("/rerank"))
    with server.client() as client:
        r = client.post("/v1/ask", json={"question": QUESTION, "k": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["citations"] and body["evidence"]
    (asked,) = answers.requests_to(CHAT)[-1:]
    assert asked["body"]["model"] == CHAT_MODEL
    assert "Question: What does the vector plot in Figure 1 show?" in asked["body"]["messages"][1]["content"]
    reranked = served.requests_to("/rerank")[before_rerank:]
    assert reranked and reranked[0]["body"]["query"] == QUESTION


def test_ask_streams_the_served_model_s_tokens(ingested, server):
    with (
        server.client() as client,
        client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as r,
    ):
        assert r.status_code == 200
        events = _sse(r.iter_lines())
    names = [name for name, _ in events]
    assert names[0] == "evidence" and names[-1] == "final"
    assert names.count("token") >= 3
    assert events[-1][1]["backend"] == "openai"


def test_health_shows_each_served_backend_s_url_and_that_it_answered(models, server):
    served, answers = models
    with server.client() as client:
        health = client.get("/v1/health").json()
    backends = health["backends"]
    assert health["status"] == "ok"
    generate = backends["generate"]
    assert (generate["name"], generate["base_url"], generate["models_answered"]) == (
        "openai",
        answers.base_url,
        True,
    )
    assert backends["embed"]["base_url"] == served.base_url and backends["embed"]["model_listed"] is True
    assert backends["describe"]["base_url"] == served.base_url and backends["describe"]["models_answered"]
    assert backends["rerank"]["base_url"] == served.url and backends["rerank"]["models_answered"]
    assert answers.requests_to("/v1/models")


@pytest.mark.parametrize(
    ("faults", "status", "code"),
    [
        ([Fault(status=500), Fault(status=500)], 503, "model_server_unavailable"),
        ([Fault(delay_s=2.5), Fault(delay_s=2.5)], 504, "model_server_timeout"),
        ([Fault(malformed=True)], 502, "model_server_bad_reply"),
    ],
    ids=["500", "timeout", "malformed"],
)
def test_a_failing_answer_server_is_a_clear_code_never_a_500(models, ingested, server, faults, status, code):
    _, answers = models
    answers.fail(CHAT, *faults)
    with server.client() as client:
        r = client.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_with_the_answer_server_gone_ask_is_503_and_sse_ends_in_an_error_event(models, ingested, server):
    _, answers = models
    answers.close()
    with server.client() as client:
        r = client.post("/v1/ask", json={"question": QUESTION})
        assert r.status_code == 503 and r.json()["error"]["code"] == "model_server_unavailable"
        assert r.headers["retry-after"]
        with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as streamed:
            assert streamed.status_code == 200
            events = _sse(streamed.iter_lines())
        health = client.get("/v1/health").json()
    assert [name for name, _ in events] == ["evidence", "error"]
    assert events[-1][1]["code"] == "model_server_unavailable"
    assert health["status"] == "degraded"
    assert health["backends"]["generate"]["models_answered"] is False
    assert health["backends"]["embed"]["models_answered"] is True


def test_a_describer_that_fails_after_the_write_leaves_the_document_searchable(
    models, ingested, server, tmp_path
):
    import pymupdf

    served, _ = models
    # A paper whose plot differs from the one described already (descriptions are cached by crop).
    paper = make_paper_pdf(tmp_path / "base.pdf")
    with pymupdf.open(paper.path) as doc:
        page = doc[paper.plot.page - 1]
        x0, y0, x1, y1 = paper.plot.rect
        page.draw_rect(pymupdf.Rect(x0 + 5, y0 + 5, x0 + 40, y0 + 40), color=(1, 0, 0), fill=(1, 0, 0))
        doc.save(tmp_path / "changed.pdf")
    served.fail(CHAT, *[Fault(status=500) for _ in range(20)])
    try:
        with server.client() as client, open(tmp_path / "changed.pdf", "rb") as fh:
            r = client.post("/v1/documents", files={"file": ("changed.pdf", fh, "application/pdf")})
            assert r.status_code == 202, r.text
            job = server.wait_for_job(client, r.json()["job_id"])
            hits = client.post(
                "/v1/search",
                json={"query": paper.table.caption, "k": 3, "document_ids": [r.json()["document_id"]]},
            ).json()["hits"]
    finally:
        with served._lock:
            served.faults.clear()
    assert job["status"] == "succeeded" and job["searchable_at"] <= job["finished_at"]
    assert job["error"]["code"] == "deferred_stage_failed"
    assert "searchable" in job["error"]["message"] and "model_server" in job["error"]["message"]
    assert hits and hits[0]["document_id"] == r.json()["document_id"]
