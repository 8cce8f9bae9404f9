"""Text as its readers type it, end to end: ligatures, broken words and glued words on generated pages and on
real ones, and a word a PDF spells with a ligature found by /v1/search restricted to that document."""

from __future__ import annotations

import re
import unicodedata

import pymupdf
import pytest
from live_server import live_server
from pdf_typography import make_typography_pdf

from paperlens.config import IngestSettings, load_settings
from paperlens.ingest.parse import parse_pdf
from paperlens.models import ElementKind, document_id_for
from paperlens.text.tokens import words

LIGATURES = re.compile("[\ufb00-\ufb06]")
LIGATURE_PAPER = (
    "10.1021%2Facs.jctc.2c00401.pdf"  # litqa_dev: 5 pages, 62 ligature glyphs in PyMuPDF's default text
)


def _all_text(parsed) -> str:
    return "\n".join(
        t for e in parsed.elements for t in (e.text, e.caption or "", e.markdown or "", *e.references)
    )


def test_generated_page_reads_as_typed(tmp_path):
    facts = make_typography_pdf(tmp_path / "typography.pdf")
    with pymupdf.open(facts.path) as doc:  # the PDF does spell them with ligature glyphs
        assert LIGATURES.search(doc[0].get_text())
    parsed = parse_pdf(facts.path, "doc", tmp_path / "crops", IngestSettings())
    text = _all_text(parsed)
    assert not LIGATURES.search(text)
    first = [e for e in parsed.elements if e.page == 1 and e.kind == ElementKind.TEXT]
    second = [e for e in parsed.elements if e.page == 2 and e.kind == ElementKind.TEXT]
    page_1 = " ".join(e.text for e in first)
    for phrase in facts.joined:
        assert phrase in page_1
    # The word broken over the page break is whole on the page where it starts; page 2 goes on after it.
    assert second[0].text.startswith(facts.page_2_start)


def test_real_page_break_word_is_whole(bench_papers, tmp_path):
    path = (
        bench_papers / "2020.acl-main.447.pdf"
    )  # page 6 ends "pretraining cor-", page 7 starts "pus contains"
    parsed = parse_pdf(path, "acl", tmp_path / "crops", IngestSettings())
    page_6 = " ".join(e.text for e in parsed.elements if e.page == 6)
    page_7 = " ".join(e.text for e in parsed.elements if e.page == 7)
    assert "pretraining corpus" in page_6
    assert "pus contains" not in page_7 and "contains 16.4B tokens" in page_7


def test_real_paper_keeps_every_ligature_word_spelt_out(shared_bench, tmp_path):
    path = shared_bench / "litqa_dev" / "pdfs" / LIGATURE_PAPER
    if not path.is_file():
        pytest.skip(f"{LIGATURE_PAPER} is not in ../shared/bench/litqa_dev")
    with pymupdf.open(path) as doc:
        default = "\n".join(page.get_text() for page in doc)  # PyMuPDF's default flags keep ligatures
    spelt = {
        unicodedata.normalize("NFKC", w).lower()
        for w in re.findall(r"(?<![\w-])\w+(?![\w-])", default)
        if LIGATURES.search(w)
    }
    assert len(spelt) >= 20
    parsed = parse_pdf(path, "jctc", tmp_path / "crops", IngestSettings())
    text = _all_text(parsed)
    assert not LIGATURES.search(text)
    found = set(words(text))
    # Every such word is there, spelt out. The few PyMuPDF's default text glues to the next word are there too,
    # with the space back: with its ligature kept, MuPDF measured the gap after "ﬀ" too small for a space.
    glued = {"cutoffof", "cutoff3", "wyckoffpositions", "wyckoffposition", "wyckoffsites", "wyckoffsite"}
    assert sorted(spelt - found - glued) == []
    assert "cutoff of the potential" in text and "special Wyckoff positions" in text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = load_settings(data_dir=tmp_path_factory.mktemp("fidelity-data"), max_upload_mb=5)
    with live_server(settings) as srv:
        yield srv


def test_a_ligature_spelt_word_is_found_by_search_in_that_document(server, tmp_path):
    facts = make_typography_pdf(tmp_path / "typography.pdf")
    with server.client() as client:
        r = client.post(
            "/v1/documents", files={"file": ("typography.pdf", facts.path.read_bytes(), "application/pdf")}
        )
        assert r.status_code == 202, r.text
        job = server.wait_for_job(client, r.json()["job_id"])
        assert job["status"] == "succeeded", job
        document_id = r.json()["document_id"]
        assert document_id == document_id_for(facts.path.read_bytes())
        # Typed plainly, and pasted from the PDF with its ligature: both find the passage by its words.
        for query in ("fluid shear stress", "ﬂuid shear stress"):
            r = client.post("/v1/search", json={"query": query, "k": 3, "document_ids": [document_id]})
            assert r.status_code == 200, r.text
            hits = r.json()["hits"]
            assert hits and "fluid shear stress" in hits[0]["text"]
            assert "keyword" in hits[0]["sources"], hits[0]  # found by its words, not only by meaning
