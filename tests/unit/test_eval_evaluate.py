"""Per-question rows and their summary, on hand-built questions and rankings."""

from __future__ import annotations

import pytest

from paperlens.eval.base import Retrieved
from paperlens.eval.datasets import PageQuestion, PassageQuestion
from paperlens.eval.evaluate import page_row, passage_row, summarise

KS = [1, 3]


def _page_q(qid, pages, sources=("Table",), doc_type="Report"):
    return PageQuestion(
        id=qid, doc="a.pdf", question="?", evidence_pages=list(pages), evidence_sources=list(sources),
        doc_type=doc_type,
    )  # fmt: skip


def _ranked(doc, pages):
    return [Retrieved(doc, p, f"text of page {p}") for p in pages]


def test_page_row_ignores_results_from_other_documents():
    row = page_row(_page_q("q", [2]), "A", [Retrieved("B", 2, "x"), *_ranked("A", [5, 2])], KS)
    assert row["ranked_pages"] == [5, 2]
    assert row["page_recall"] == {"1": 0.0, "3": 1.0}
    assert row["mrr"]["3"] == 0.5


def test_unanswerable_rows_carry_no_page_metrics():
    row = page_row(_page_q("q", []), "A", _ranked("A", [1]), KS)
    assert not row["answerable"] and "page_recall" not in row


def test_passage_row_hit_rank_and_document():
    q = PassageQuestion(id="p", doc="b.pdf", question="?", answer="x", key_passage="alpha beta gamma delta")
    ranked = [Retrieved("B", 1, "nothing"), Retrieved("C", 4, "... alpha beta gamma delta ...")]
    row = passage_row(q, ranked, KS, recoverable=True)
    assert row["hit_rank"] == 2 and row["hit_document"] == "C"
    assert row["passage_hit"] == {"1": 0.0, "3": 1.0}
    # only the first max(k) chunks are looked at
    assert passage_row(q, ranked, [1], recoverable=True)["hit_rank"] is None


def test_summary_by_hand():
    rows = [
        page_row(_page_q("a", [1], ["Table", "Chart"]), "A", _ranked("A", [1, 2]), KS),  # hit at 1
        page_row(_page_q("b", [3], ["Chart"], "Slides"), "A", _ranked("A", [1, 2, 3]), KS),  # hit at 3
        page_row(_page_q("c", []), "A", _ranked("A", [1]), KS),  # unanswerable
    ]
    q = PassageQuestion(id="p", doc="b.pdf", question="?", answer="x", key_passage="one two three four")
    rows.append(passage_row(q, [Retrieved("B", 1, "one two three four")], KS, recoverable=True))
    rows.append(
        passage_row(q.model_copy(update={"id": "p2"}), [Retrieved("B", 1, "no")], KS, recoverable=False)
    )
    for i, row in enumerate(rows):
        row["latency_ms"] = float(10 * (i + 1))
    s = summarise(rows, KS)
    assert s["counts"] == {
        "questions": 5, "page_questions": 3, "answerable": 2, "unanswerable": 1,
        "passage_questions": 2, "recoverable": 1, "not_recoverable": 1,
    }  # fmt: skip
    assert s["page_recall"] == {"1": 0.5, "3": 1.0}
    assert s["mrr"]["3"] == pytest.approx((1 + 1 / 3) / 2)
    assert s["by_source"]["Chart"]["questions"] == 2 and s["by_source"]["Table"]["page_recall"]["1"] == 1.0
    assert s["by_source"]["Chart"]["page_recall"]["1"] == 0.5
    assert s["by_doc_type"]["Slides"]["page_recall"] == {"1": 0.0, "3": 1.0}
    assert s["passage_hit"] == {"1": 0.5, "3": 0.5}  # the unrecoverable miss stays in "all"
    assert s["passage_hit_recoverable"] == {"1": 1.0, "3": 1.0}
    assert s["latency_ms"]["p50"] == 30.0
    assert "answers" not in s


def test_summary_of_passage_only_set_keeps_page_maps_empty():
    q = PassageQuestion(id="p", doc="b.pdf", question="?", answer="x", key_passage="one two three")
    s = summarise([passage_row(q, [], KS, recoverable=True)], KS)
    assert s["page_recall"] == {"1": None, "3": None} and s["by_source"] == {}


def test_answer_summary():
    rows = [
        {**page_row(_page_q("a", [1]), "A", [], KS), "answer_correct": True, "answer_format": "Int"},
        {**page_row(_page_q("b", []), "A", [], KS), "answer_correct": False, "answer_format": "None"},
    ]
    q = PassageQuestion(id="p", doc="b.pdf", question="?", answer="x", key_passage="one two three")
    for outcome in ("correct", "unsure"):
        rows.append({**passage_row(q, [], KS, recoverable=True), "mc_outcome": outcome})
    answers = summarise(rows, KS)["answers"]
    assert answers["page_answer"]["accuracy"] == 0.5
    assert answers["page_answer"]["accuracy_answerable"] == 1.0
    assert answers["page_answer"]["by_format"]["None"] == {"questions": 1, "accuracy": 0.0}
    assert answers["multiple_choice"]["accuracy"] == 0.5 and answers["multiple_choice"]["precision"] == 1.0
