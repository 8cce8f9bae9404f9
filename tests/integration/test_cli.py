"""The command line as a user runs it: ingest a folder, search, ask, list and delete (JSON output checked)."""

from __future__ import annotations

import json

import pytest
from pdf_factory import make_paper_pdf, make_text_pdf
from typer.testing import CliRunner

from paperlens.cli import app


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _run(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result


def test_ingest_search_ask_documents_delete(env):
    folder = env / "papers"
    folder.mkdir()
    paper = make_paper_pdf(folder / "paper.pdf")
    (folder / "notes.txt").write_text("not a pdf, and not picked up from a folder")

    result = _run("ingest", str(folder), "--json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["created"] is True and row["pages"] == paper.pages
    assert row["counts"]["chunks"] > 0
    assert list(row["timings"]) == [
        "ocr",
        "parse",
        "chunk",
        "embed",
        "image-embed",
        "write",
        "describe",  # deferred: after the document is searchable
        "embed-multilingual",  # deferred
    ]
    assert row["timings"]["parse"] > 0 and row["timings"]["embed"] > 0
    assert row["seconds"] >= sum(row["timings"].values()) * 0.99
    document_id = row["document_id"]

    again = _run("ingest", str(folder / "paper.pdf"), "--json")
    assert json.loads(again.stdout)[0]["created"] is False

    hits = json.loads(_run("search", "ruled table with a header row", "-k", "3", "--json").stdout)["hits"]
    assert hits and all(h["document_id"] == document_id for h in hits)
    assert any(h["page"] == paper.table.page for h in hits)

    answer = json.loads(
        _run("ask", "How does the training loss of the factory model change?", "--json").stdout
    )
    assert answer["citations"], answer
    assert all(f"[{c['n']}]" in answer["answer"] for c in answer["citations"])

    listed = json.loads(_run("documents", "--json").stdout)
    assert [d["id"] for d in listed] == [document_id]

    assert _run("delete", document_id).exit_code == 0
    assert json.loads(_run("documents", "--json").stdout) == []
    assert _run("delete", document_id).exit_code == 1  # a clear error, not a traceback


def test_ingest_reports_bad_files_and_exits_non_zero(env):
    good = make_text_pdf(env / "good.pdf", text="A short paper about retrieval. " * 20)
    bad = env / "bad.pdf"
    bad.write_bytes(b"this is not a PDF at all\n" * 4)
    result = _run("ingest", str(good), str(bad), "--json")
    assert result.exit_code == 1
    rows = {r["file"].rsplit("/", 1)[-1]: r for r in json.loads(result.stdout)}
    assert rows["good.pdf"]["created"] is True
    assert rows["bad.pdf"]["error"]["code"] == "not_a_pdf"
    # Not a terminal: besides the JSON, stderr says how each PDF went, line by line as they finish.
    assert "good.pdf: done" in result.stderr and "bad.pdf: failed: not_a_pdf" in result.stderr


def test_a_bad_config_is_a_clear_error(env):
    config = env / "bad.toml"
    config.write_text("[chunk]\nsizee = 3\n")
    result = _run("search", "anything", "--config", str(config))
    assert result.exit_code == 2
    assert "sizee" in result.output


def test_ingest_prints_seconds_per_stage_and_pages_per_second(env):
    paper = make_paper_pdf(env / "paper.pdf")
    result = _run("ingest", str(paper.path))
    assert result.exit_code == 0, result.output
    assert "seconds per stage" in result.stdout
    for stage in ("parse", "describe", "embed", "write"):
        assert stage in result.stdout
    assert "pages/s" in result.stderr


def test_ingest_refuses_a_library_another_writer_holds(env):
    from paperlens.index.writer_lock import WriterLock

    paper = make_paper_pdf(env / "paper.pdf")
    held = WriterLock(env / "data")
    held.acquire("a paperlens service")
    try:
        result = _run("ingest", str(paper.path))
        assert result.exit_code == 2
        said = " ".join(result.output.split())  # rich wraps long lines
        assert "library_locked" in said and "a paperlens service" in said
    finally:
        held.release()
    assert json.loads(_run("documents", "--json").stdout) == []  # nothing was written while it was held
    assert _run("ingest", str(paper.path)).exit_code == 0  # released: the same command now goes through
