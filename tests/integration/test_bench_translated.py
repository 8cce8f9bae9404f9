"""`paperlens bench` on a translated set (rows carrying ``question_en``): the English figures of the same rows
come from the same run, the ratio is one number per k, and a set over the same PDFs reuses the index."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from test_bench import ALPHA_PAGES, BETA_PAGES, _write_pdf

from paperlens.config import Settings

TRANSLATED = [
    {
        "id": "Q1-fa", "doc": "alpha.pdf", "doc_type": "Research report", "answer": "42%", "answer_format": "Float",
        "question": "بازده تخمیر سویه مخمر K7 به چه مقداری رسید؟", "lang": "fa",
        "question_en": "What fermentation yield did yeast strain K7 reach?",
        "evidence_pages": [2], "evidence_sources": ["Pure-text (Plain-text)"],
    },
    {
        "id": "P1-fa", "doc": "alpha.pdf", "question": "یخچال Quelccaya با چه سرعتی عقب‌نشینی کرد؟", "lang": "fa",
        "question_en": "How fast did the Quelccaya ice cap retreat?",
        "answer": "60 metres per year", "distractors": ["15 metres per year"],
        "key_passage": "The Quelccaya ice cap retreated by 60 metres per year between 1991 and 2005",
    },
    {
        "id": "P2-fa", "doc": "beta.pdf", "question": "کدام نهنگ‌ها طولانی‌ترین آوازها را می‌خوانند؟", "lang": "fa",
        "question_en": "Which whales sing the longest songs?",
        "answer": "humpback whales", "distractors": ["sperm whales"],
        "key_passage": "Male humpback whales sing the longest and most complex songs of all animals",
    },
]  # fmt: skip


def _dataset(root: Path, rows: list[dict], pdfs_from: Path | None = None) -> Path:
    if pdfs_from is not None:  # the same PDF bytes (a generated PDF's bytes differ from run to run)
        shutil.copytree(pdfs_from / "pdfs", root / "pdfs")
    else:
        (root / "pdfs").mkdir(parents=True)
        _write_pdf(root / "pdfs" / "alpha.pdf", ALPHA_PAGES)
        _write_pdf(root / "pdfs" / "beta.pdf", BETA_PAGES)
    (root / "questions.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in rows) + "\n")
    return root


@pytest.mark.slow
def test_a_translated_set_reports_its_english_rows_and_shares_the_index(tmp_path):
    from paperlens.eval.runner import run_bench

    settings = Settings(data_dir=tmp_path / "data")
    buffer = io.StringIO()
    report = run_bench(
        _dataset(tmp_path / "fa_tiny", TRANSLATED), tmp_path / "out", settings, ks=[1, 3], baseline=True,
        console=Console(file=buffer, width=160),
    )  # fmt: skip

    same = report["same_rows_english"]
    assert set(same) == {"system", "baseline"}
    english = same["system"]["english"]
    # The English originals: Q1 and P1 found at rank 1 (as in test_bench), P2 not recoverable.
    assert english["page_recall"]["1"] == 1.0 and english["passage_hit"] == {"1": 0.5, "3": 0.5}
    assert same["system"]["translated"]["passage_hit"] == report["system"]["passage_hit"]
    for name in ("system", "baseline"):
        for metric in ("page_recall", "passage_hit"):
            for k in ("1", "3"):
                ratio = same[name]["ratio"][metric][k]
                assert ratio == pytest.approx(
                    same[name]["translated"][metric][k] / same[name]["english"][metric][k]
                )
    # With three pages, every page is in the top 3: the Persian question cannot miss there.
    assert same["system"]["ratio"]["page_recall"]["3"] == 1.0
    # The multilingual list finds the glacier passage from Persian (its name stays Latin, so keywords help too).
    assert report["system"]["passage_hit"]["3"] == 0.5

    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["same_rows_english"]["system"]["ratio"] == same["system"]["ratio"]
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## The same rows asked in English (`question_en`)" in markdown
    assert "| system | passage_hit | English | 0.500 | 0.500 |" in markdown
    rows = [json.loads(line) for line in (tmp_path / "out" / "questions.jsonl").read_text().splitlines()]
    assert {r["system"] for r in rows} == {"system", "baseline", "system_english", "baseline_english"}
    assert "same rows in English: passage_hit@3 0.500" in buffer.getvalue()

    # The English set over the same PDFs: same cache key, so the index the Persian run ingested is reused.
    english_rows = [{**q, "question": q["question_en"], "id": q["id"][:-3]} for q in TRANSLATED]
    for row in english_rows:
        row.pop("question_en"), row.pop("lang")
    again = run_bench(
        _dataset(tmp_path / "tiny", english_rows, pdfs_from=tmp_path / "fa_tiny"), tmp_path / "out2", settings, ks=[1, 3], baseline=False,
        console=Console(file=io.StringIO()),
    )  # fmt: skip
    assert again["config"]["data_dir"] == report["config"]["data_dir"]
    assert again["system"]["ingestion"]["cached"] and "same_rows_english" not in again
    assert again["system"]["passage_hit"] == english["passage_hit"]


@pytest.mark.slow
def test_a_set_scoped_to_its_documents_borrows_a_larger_index_and_a_corpus_set_does_not(tmp_path):
    """fa_mmlb_dev holds 36 of mmlb_dev's 37 PDFs: its page questions each search one document, so the larger
    index answers them exactly as its own would. A passage set searches the whole corpus and must not borrow."""
    from paperlens.eval.runner import bench_data_dir, cache_key, run_bench
    from paperlens.models import document_id_for

    settings = Settings(data_dir=tmp_path / "data")
    pages_only = [q for q in TRANSLATED if "evidence_pages" in q]
    both = _dataset(tmp_path / "both", pages_only)
    report = run_bench(
        both, tmp_path / "out", settings, ks=[1], baseline=False, console=Console(file=io.StringIO())
    )
    assert not report["system"]["ingestion"]["cached"]

    subset = tmp_path / "fa_subset"
    (subset / "pdfs").mkdir(parents=True)
    shutil.copy(both / "pdfs" / "alpha.pdf", subset / "pdfs" / "alpha.pdf")
    (subset / "questions.jsonl").write_text(json.dumps(pages_only[0], ensure_ascii=False) + "\n")
    again = run_bench(
        subset, tmp_path / "out2", settings, ks=[1], baseline=False, console=Console(file=io.StringIO())
    )
    assert again["config"]["data_dir"] == report["config"]["data_dir"]
    assert again["system"]["ingestion"]["cached"]
    assert again["system"]["page_recall"]["1"] == report["system"]["page_recall"]["1"] == 1.0

    alpha = [document_id_for((subset / "pdfs" / "alpha.pdf").read_bytes())]
    key = cache_key(settings, alpha)
    own = tmp_path / "data" / "bench" / f"corpus-{key[:16]}"
    assert bench_data_dir(settings, "corpus", key, alpha, scoped=False) == own
    # Other settings shape another index: never borrowed.
    other = settings.model_copy(update={"chunk": settings.chunk.model_copy(update={"size": 999})})
    other_key = cache_key(other, alpha)
    assert (
        bench_data_dir(other, "fa_subset", other_key, alpha, scoped=True).name
        == f"fa_subset-{other_key[:16]}"
    )
