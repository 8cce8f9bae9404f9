"""`paperlens bench --answers` with every model role on a served model (the protocol stand-in): the command a
user with a server runs to measure answer accuracy. The stand-in's request log shows the open answers streamed
and the multiple-choice question asked through chat; the report records the openai answerer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai_standin import CHAT_MODEL, EMBED_MODEL, OpenAIStandIn
from typer.testing import CliRunner

from paperlens.cli import app

PAGES = [
    "Glaciers of the Andes. The Quelccaya ice cap retreated by 60 metres per year between 1991 and 2005, "
    "according to repeated aerial surveys of its western outlet.",
    "Fermentation study. The fermentation yield of yeast strain K7 reached 42 percent after three days "
    "at thirty degrees, higher than every other strain we cultured.",
]
QUESTIONS = [
    {
        "id": "Q1", "doc": "alpha.pdf", "doc_type": "Research report", "answer": "42%", "answer_format": "Float",
        "question": "What fermentation yield did yeast strain K7 reach?",
        "evidence_pages": [2], "evidence_sources": ["Pure-text (Plain-text)"],
    },
    {
        "id": "P1", "doc": "alpha.pdf", "question": "How fast did the Quelccaya ice cap retreat?",
        "answer": "60 metres per year", "distractors": ["15 kilometres each decade", "200 feet every winter"],
        "key_passage": "The Quelccaya ice cap retreated by 60 metres per year between 1991 and 2005",
    },
]  # fmt: skip


@pytest.fixture
def standin():
    server = OpenAIStandIn()
    yield server
    server.close()


def _dataset(root: Path) -> Path:
    import pymupdf

    (root / "pdfs").mkdir(parents=True)
    doc = pymupdf.open()
    for text in PAGES:
        doc.new_page().insert_textbox(pymupdf.Rect(60, 60, 540, 780), text, fontsize=11)
    doc.save(root / "pdfs" / "alpha.pdf")
    doc.close()
    (root / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    return root


def test_bench_answers_go_through_the_served_model(tmp_path, monkeypatch, standin):
    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / "served.toml"
    config.write_text(
        f'[generate]\nbackend = "openai"\nbase_url = "{standin.base_url}"\nmodel = "{CHAT_MODEL}"\n'
        f'[embed]\nbackend = "openai"\nmodel = "{EMBED_MODEL}"\n[embed.openai]\nbase_url = "{standin.base_url}"\n'
        '[describe]\nbackend = "none"\n'
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["bench", str(_dataset(tmp_path / "set")), "--answers", "--config", str(config), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output

    report = json.loads((out / "report.json").read_text())
    assert report["config"]["answerer"] == f"openai ({CHAT_MODEL})"
    rows = {r["id"]: r for r in map(json.loads, (out / "questions.jsonl").read_text().splitlines())}
    # The stand-in picks the option that shares most words with the evidence: the right one here.
    assert rows["P1"]["mc_options"][rows["P1"]["mc_chosen"]] == "60 metres per year"
    assert rows["P1"]["mc_outcome"] == "correct"

    chats = [r["body"] for r in standin.requests_to("/v1/chat/completions")]
    streamed = [b for b in chats if b["stream"]]
    choices = [b for b in chats if not b["stream"]]
    assert any("fermentation yield" in b["messages"][1]["content"] for b in streamed)  # Q1's open answer
    assert any("B. " in b["messages"][1]["content"] and b["max_tokens"] == 8 for b in choices)  # P1's choice


def test_a_translated_set_benched_with_query_translation_reaches_its_english_figures(
    tmp_path, monkeypatch, standin
):
    """The stand-in translates perfectly (``--translations``: the rows' English originals), so the Persian
    rows, searched as their translations, score what the same rows asked in English score."""
    from openai_standin import english_originals

    root = _dataset(tmp_path / "set")
    persian = {
        "Q1": "بازده تخمیر سویه مخمر K7 به چند درصد رسید؟",
        "P1": "کلاهک یخی Quelccaya با چه سرعتی عقب نشست؟",
    }
    rows = [{**q, "id": f"{q['id']}-fa", "lang": "fa", "question_en": q["question"], "question": persian[q["id"]]}
            for q in QUESTIONS]  # fmt: skip
    (root / "questions.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    standin.translations.update(english_originals(str(root / "questions.jsonl")))
    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / "translate.toml"
    config.write_text(
        f'[retrieve]\ntranslate_queries = true\n[generate]\nbackend = "openai"\nbase_url = "{standin.base_url}"\n'
        f'model = "{CHAT_MODEL}"\n[describe]\nbackend = "none"\n'
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["bench", str(root), "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output

    chats = [r["body"]["messages"][-1]["content"] for r in standin.requests_to("/v1/chat/completions")]
    assert sorted(chats) == sorted(english_originals(str(root / "questions.jsonl")))  # each Persian row, once
    same_rows = json.loads((out / "report.json").read_text())["same_rows_english"]["system"]
    assert same_rows["translated"]["page_recall"]["1"] == same_rows["english"]["page_recall"]["1"] == 1.0
    assert same_rows["translated"]["passage_hit"]["1"] == same_rows["english"]["passage_hit"]["1"] == 1.0
