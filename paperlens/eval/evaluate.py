"""Per-question scoring rows and their summary: pure functions over questions and ranked results.

A row is a plain dict: the question's identity and groups (kind, document, doc type, evidence sources), its
metric maps keyed by k as a string, and its search latency. ``summarise`` turns rows into one report section.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from paperlens.eval.base import Retrieved
from paperlens.eval.datasets import PageQuestion, PassageQuestion
from paperlens.eval.metrics import (
    mean_maps,
    multiple_choice_scores,
    page_metrics,
    passage_hit_rank,
    passage_metrics,
    percentile,
)

PAGE_MAPS = ("page_recall", "page_hit", "mrr", "ndcg")
PASSAGE_MAPS = ("passage_hit", "passage_mrr")


def page_row(
    question: PageQuestion, document_id: str, ranked: Sequence[Retrieved], ks: Sequence[int]
) -> dict:
    """Score one page-evidence question on results restricted to its own document."""
    pages = [r.page for r in ranked if r.document_id == document_id]
    row = {
        "id": question.id,
        "kind": "page",
        "doc": question.doc,
        "doc_type": question.doc_type,
        "sources": list(question.evidence_sources),
        "answerable": question.answerable,
        "gold_pages": list(question.evidence_pages),
        "ranked_pages": pages[: max(ks) * 3],
    }
    if question.answerable:
        row.update(page_metrics(pages, question.evidence_pages, ks))
    return row


def passage_row(
    question: PassageQuestion, ranked: Sequence[Retrieved], ks: Sequence[int], recoverable: bool
) -> dict:
    """Score one key-passage question on corpus-wide results (hit: a chunk holds ≥ 60 % of its 3-grams)."""
    rank = passage_hit_rank(question.key_passage, [r.text for r in ranked[: max(ks)]])
    return {
        "id": question.id,
        "kind": "passage",
        "doc": question.doc,
        "recoverable": recoverable,
        "hit_rank": rank,
        "hit_document": ranked[rank - 1].document_id if rank else None,
        **passage_metrics(rank, ks),
    }


def _group_means(rows: Sequence[dict], key: str) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        values = row.get(key)
        for value in values if isinstance(values, list) else [values]:
            if value is not None:
                groups[value].append(row)
    return {name: {"questions": len(g), **mean_maps(g, PAGE_MAPS)} for name, g in sorted(groups.items())}


def summarise(rows: Sequence[dict], ks: Sequence[int]) -> dict:
    """One report section (system or baseline) from its per-question rows."""
    page_rows = [r for r in rows if r["kind"] == "page"]
    answerable = [r for r in page_rows if r["answerable"]]
    passage_rows = [r for r in rows if r["kind"] == "passage"]
    recoverable = [r for r in passage_rows if r["recoverable"]]
    latencies = [r["latency_ms"] for r in rows if r.get("latency_ms") is not None]
    empty = {str(k): None for k in ks}
    page = mean_maps(answerable, PAGE_MAPS)
    passage = mean_maps(passage_rows, PASSAGE_MAPS)
    section = {
        "counts": {
            "questions": len(rows),
            "page_questions": len(page_rows),
            "answerable": len(answerable),
            "unanswerable": len(page_rows) - len(answerable),
            "passage_questions": len(passage_rows),
            "recoverable": len(recoverable),
            "not_recoverable": len(passage_rows) - len(recoverable),
        },
        "page_recall": page.get("page_recall", empty),
        "page_hit": page.get("page_hit", empty),
        "mrr": page.get("mrr", empty),
        "ndcg": page.get("ndcg", empty),
        "passage_hit": passage.get("passage_hit", empty),
        "passage_mrr": passage.get("passage_mrr", empty),
        "passage_hit_recoverable": mean_maps(recoverable, ["passage_hit"]).get("passage_hit", empty),
        "by_source": _group_means(answerable, "sources"),
        "by_doc_type": _group_means(answerable, "doc_type"),
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "mean": sum(latencies) / len(latencies) if latencies else None,
        },
    }
    answer_rows = [r for r in rows if "answer_correct" in r or "mc_outcome" in r]
    if answer_rows:
        section["answers"] = summarise_answers(answer_rows)
        fallback = summarise_answers(answer_rows, prefix=FALLBACK_PREFIX)
        if fallback:
            section["answers_extractive_fallback"] = fallback
    return section


#: Row keys with this prefix hold the extractive fallback's answers, measured beside an LLM's in the same run.
FALLBACK_PREFIX = "fallback_"


def summarise_answers(rows: Sequence[dict], prefix: str = "") -> dict:
    """Answer accuracy: normalised match for page-evidence sets, LitQA2 accuracy/precision for passages.
    ``prefix`` picks which answers: the configured answerer's ("") or the fallback's (FALLBACK_PREFIX)."""
    out: dict = {}
    correct_key, outcome_key = f"{prefix}answer_correct", f"{prefix}mc_outcome"
    matched = [r for r in rows if correct_key in r]
    if matched:

        def accuracy(group: list[dict]) -> float | None:
            return sum(1 for r in group if r[correct_key]) / len(group) if group else None

        answerable = [r for r in matched if r["answerable"]]
        unanswerable = [r for r in matched if not r["answerable"]]
        formats: dict[str, list[dict]] = defaultdict(list)
        for r in matched:
            formats[r.get("answer_format", "Str")].append(r)
        out["page_answer"] = {
            "questions": len(matched),
            "accuracy": accuracy(matched),
            "accuracy_answerable": accuracy(answerable),
            "accuracy_unanswerable": accuracy(unanswerable),
            "by_format": {
                f: {"questions": len(g), "accuracy": accuracy(g)} for f, g in sorted(formats.items())
            },
        }
    choices = [r[outcome_key] for r in rows if outcome_key in r]
    if choices:
        out["multiple_choice"] = multiple_choice_scores(choices)
    return out
