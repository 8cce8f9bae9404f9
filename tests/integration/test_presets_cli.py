"""A preset chosen by name on the command line, pointed at a protocol stand-in by the environment, as a user
with Ollama on another port would: ``paperlens ingest/ask --config ollama`` with PAPERLENS_*__BASE_URL set.
The stand-in's request log shows the preset's models and prefixes at work."""

from __future__ import annotations

import json

import pytest
from openai_standin import OpenAIStandIn
from pdf_factory import make_paper_pdf
from typer.testing import CliRunner

from paperlens.cli import app


@pytest.fixture
def standin():
    server = OpenAIStandIn()
    yield server
    server.close()


def test_the_ollama_preset_by_name_answers_through_the_served_models(tmp_path, monkeypatch, standin):
    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(tmp_path / "data"))
    for variable in ("GENERATE__BASE_URL", "DESCRIBE__BASE_URL", "EMBED__OPENAI__BASE_URL"):
        monkeypatch.setenv(f"PAPERLENS_{variable}", standin.base_url)
    paper = make_paper_pdf(tmp_path / "paper.pdf")

    ingested = CliRunner().invoke(app, ["ingest", str(paper.path), "--config", "ollama", "--json"])
    assert ingested.exit_code == 0, ingested.output
    monkeypatch.setenv("PAPERLENS_CONFIG", "ollama")  # the same preset, chosen by the environment this time
    asked = CliRunner().invoke(app, ["ask", "What does Table 1 compare?", "--json"])
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    assert answer["backend"] == "openai" and answer["citations"]

    chats = standin.requests_to("/v1/chat/completions")
    assert {r["body"]["model"] for r in chats} == {"qwen2.5vl:7b", "qwen2.5:7b-instruct"}
    inputs = [text for r in standin.requests_to("/v1/embeddings") for text in r["body"]["input"]]
    assert {r["body"]["model"] for r in standin.requests_to("/v1/embeddings")} == {"nomic-embed-text"}
    assert any(t.startswith("search_document: ") for t in inputs)
    assert "search_query: What does Table 1 compare?" in inputs
