"""Benchmark output: ``report.json`` (every figure), ``report.md`` (tables a person reads), PNG plots, the
per-question results (``questions.jsonl``) and a short summary on the console."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

SYSTEMS = ("system", "baseline")


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _sections(report: dict) -> list[str]:
    return [name for name in SYSTEMS if name in report]


def _nearest_k(ks: Sequence[int], target: int = 5) -> str:
    return str(min(ks, key=lambda k: (abs(k - target), k)))


def _metric_table(report: dict, metric_names: Sequence[str], ks: Sequence[int]) -> list[str]:
    header = "| system | metric | " + " | ".join(f"@{k}" for k in ks) + " |"
    lines = [header, "|" + "---|" * (len(ks) + 2)]
    for name in _sections(report):
        for metric in metric_names:
            values = report[name].get(metric) or {}
            cells = " | ".join(_fmt(values.get(str(k))) for k in ks)
            lines.append(f"| {name} | {metric} | {cells} |")
    return lines


def _group_table(report: dict, group: str, k: str) -> list[str]:
    names = _sections(report)
    groups = sorted({g for n in names for g in report[n].get(group, {})})
    if not groups:
        return []
    header = "| " + group.replace("by_", "") + " | questions | " + " | ".join(
        f"{n} recall@{k} | {n} MRR@{k}" for n in names
    ) + " |"  # fmt: skip
    lines = [header, "|" + "---|" * (2 + 2 * len(names))]
    for g in groups:
        first = report[names[0]][group].get(g, {})
        cells = []
        for n in names:
            entry = report[n][group].get(g, {})
            cells += [_fmt(entry.get("page_recall", {}).get(k)), _fmt(entry.get("mrr", {}).get(k))]
        lines.append(f"| {g} | {first.get('questions', 0)} | " + " | ".join(cells) + " |")
    return lines


def render_markdown(report: dict) -> str:
    ks = report["config"]["ks"]
    k5 = _nearest_k(ks)
    names = _sections(report)
    counts = report[names[0]]["counts"]
    ds = report["dataset"]
    out = [f"# paperlens bench: {ds['name']}", ""]
    asked = f"{ds['questions']} questions"
    if ds.get("sample_seed") is not None:
        asked += f" (a random sample of the {ds['questions_in_dataset']}, seed {ds['sample_seed']})"
    out.append(f"{ds['documents']} documents, {asked}. Systems: {', '.join(names)}.")
    out.append("")
    if counts["page_questions"]:
        out += ["## Page retrieval (within the question's document)", ""]
        out.append(
            f"{counts['answerable']} answerable questions scored; {counts['unanswerable']} unanswerable "
            "(no evidence pages) reported apart. Recall is over the first k distinct pages."
        )
        out += ["", *_metric_table(report, ["page_recall", "page_hit", "mrr", "ndcg"], ks), ""]
        out += [f"### By evidence source (k = {k5})", "", *_group_table(report, "by_source", k5), ""]
        out += [f"### By document type (k = {k5})", "", *_group_table(report, "by_doc_type", k5), ""]
    if counts["passage_questions"]:
        out += ["## Key-passage retrieval (whole corpus)", ""]
        out.append(
            f"{counts['passage_questions']} questions; {counts['not_recoverable']} key passages are not "
            "recoverable from the PDF text (< 60 % of their word 3-grams in the document's PyMuPDF text). "
            "They stay in `passage_hit` (all) and are left out of `passage_hit_recoverable`."
        )
        out += ["", *_metric_table(report, ["passage_hit", "passage_hit_recoverable", "passage_mrr"], ks), ""]
        if report.get("not_recoverable"):
            out += ["Not recoverable: " + ", ".join(f"`{q}`" for q in report["not_recoverable"]), ""]
    out += _fidelity_lines(report, names)
    out += _same_rows_english_lines(report, ks)
    out += ["## Cost", "", "| system | latency p50 (ms) | latency p95 (ms) | ingestion pages | pages/s |"]
    out.append("|---|---|---|---|---|")
    for n in names:
        lat = report[n]["latency_ms"]
        ing = report[n].get("ingestion", {})
        out.append(
            f"| {n} | {_fmt(lat['p50'], 1)} | {_fmt(lat['p95'], 1)} | {_fmt(ing.get('pages'))} | "
            f"{_fmt(ing.get('pages_per_s'), 2)} |"
        )
    failed = report.get("system", {}).get("failed_documents") or {}
    if failed:
        out += ["", "Documents the system failed to ingest (their questions count as misses):", ""]
        out += [f"- `{name}`: {err['code']}: {err['message']}" for name, err in failed.items()]
    answer_lines = _answer_lines(report)
    if answer_lines:
        out += ["", "## Answers", "", *answer_lines]
    out += ["", "## Plots", "", "![recall@k](recall_at_k.png)"]
    if (report[names[0]].get("by_source") or {}) and counts["page_questions"]:
        out.append("![recall per evidence source](recall_by_source.png)")
    out.append("")
    return "\n".join(out)


def _fidelity_text(fidelity: dict) -> str:
    what = (
        "key passages one stored chunk holds (>= 60 % of 3-grams)"
        if fidelity["kind"] == "passage"
        else ("gold pages with stored text")
    )
    text = f"{_fmt(fidelity['value'])} ({fidelity['held']} of {fidelity['of']} {what})"
    if fidelity.get("mean_best_chunk_coverage") is not None:
        text += f"; mean best-chunk coverage {_fmt(fidelity['mean_best_chunk_coverage'])}"
    return text


def _fidelity_lines(report: dict, names: Sequence[str]) -> list[str]:
    """Text fidelity beside recall: a parser change that loses text shows up here, apart from ranking."""
    rows = [(n, f) for n in names for f in (report[n].get("fidelity") or {}).values()]
    if not rows:
        return []
    out = ["## Text fidelity (what the stored chunks hold, whatever the ranking)", ""]
    out += [f"- {n}: {_fidelity_text(f)}" for n, f in rows]
    return [*out, ""]


def _same_rows_english_lines(report: dict, ks: Sequence[int]) -> list[str]:
    """A translated set (rows with ``question_en``): its figures beside the same rows asked in English."""
    same = report.get("same_rows_english") or {}
    if not same:
        return []
    header = "| system | metric | asked in | " + " | ".join(f"@{k}" for k in ks) + " |"
    lines = ["## The same rows asked in English (`question_en`)", "",
             "Each question again in its English original, same gold, same index, same run; the ratio is "
             "translated / English.", "", header, "|" + "---|" * (len(ks) + 3)]  # fmt: skip
    for name, entry in same.items():
        for metric, ratio in entry["ratio"].items():
            for label, summary in (("translation", entry["translated"]), ("English", entry["english"])):
                cells = " | ".join(_fmt(summary[metric].get(str(k))) for k in ks)
                lines.append(f"| {name} | {metric} | {label} | {cells} |")
            lines.append(
                f"| {name} | {metric} | ratio | " + " | ".join(_fmt(ratio.get(str(k))) for k in ks) + " |"
            )
        lat = entry["english"]["latency_ms"]
        lines.append(
            f"| {name} | latency p50 (ms), English | | {_fmt(lat['p50'], 1)} |" + " |" * (len(ks) - 1)
        )
    return [*lines, ""]


def _answer_lines(report: dict) -> list[str]:
    answerer = report.get("config", {}).get("answerer")
    lines = [f"Answerer: {answerer}."] if answerer else []
    for n in _sections(report):
        for key, label in (("answers", n), ("answers_extractive_fallback", f"{n}, extractive fallback")):
            answers = report[n].get(key) or {}
            if "page_answer" in answers:
                a = answers["page_answer"]
                lines.append(
                    f"- {label}, page-evidence answers (normalised match): accuracy {_fmt(a['accuracy'])} "
                    f"(answerable {_fmt(a['accuracy_answerable'])}, "
                    f"unanswerable {_fmt(a['accuracy_unanswerable'])})"
                )
            if "multiple_choice" in answers:
                m = answers["multiple_choice"]
                lines.append(
                    f"- {label}, multiple choice: accuracy {_fmt(m['accuracy'])}, "
                    f"precision {_fmt(m['precision'])} ({m['correct']} correct, {m['wrong']} wrong, "
                    f"{m['unsure']} insufficient information)"
                )
    return lines


def write_plots(report: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = report["config"]["ks"]
    names = _sections(report)
    counts = report[names[0]]["counts"]
    written = []
    curves = []
    if counts["page_questions"]:
        curves.append(("page_recall", "page recall@k"))
    if counts["passage_questions"]:
        curves.append(("passage_hit", "passage hit@k"))
    if curves:
        fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4), squeeze=False)
        for ax, (metric, label) in zip(axes[0], curves, strict=True):
            for n in names:
                values = [report[n][metric].get(str(k)) for k in ks]
                ax.plot(ks, [v if v is not None else float("nan") for v in values], marker="o", label=n)
            ax.set_xlabel("k")
            ax.set_ylabel(label)
            ax.set_ylim(0, 1)
            ax.set_xticks(ks)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(f"{report['dataset']['name']}: system vs baseline")
        fig.tight_layout()
        path = out_dir / "recall_at_k.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    sources = sorted({s for n in names for s in report[n].get("by_source", {})})
    if sources:
        k5 = _nearest_k(ks)
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(sources)), 4))
        width = 0.8 / len(names)
        for i, n in enumerate(names):
            values = [
                report[n]["by_source"].get(s, {}).get("page_recall", {}).get(k5) or 0.0 for s in sources
            ]
            ax.bar([x + i * width for x in range(len(sources))], values, width, label=n)
        ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(sources))])
        ax.set_xticklabels([s.replace(" (", "\n(") for s in sources], fontsize=8)
        ax.set_ylabel(f"page recall@{k5}")
        ax.set_ylim(0, 1)
        ax.legend()
        ax.set_title(f"{report['dataset']['name']}: recall@{k5} per evidence source")
        fig.tight_layout()
        path = out_dir / "recall_by_source.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def write_report(report: dict, per_question: dict[str, list[dict]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (out_dir / "report.md").write_text(render_markdown(report))
    with (out_dir / "questions.jsonl").open("w", encoding="utf-8") as fh:
        for name, rows in per_question.items():
            for row in rows:
                fh.write(json.dumps({"system": name, **row}, ensure_ascii=False) + "\n")
    write_plots(report, out_dir)


def print_summary(report: dict, console: Console) -> None:
    ks = report["config"]["ks"]
    names = _sections(report)
    counts = report[names[0]]["counts"]
    table = Table(title=f"paperlens bench: {report['dataset']['name']}")
    table.add_column("system")
    table.add_column("metric")
    for k in ks:
        table.add_column(f"@{k}", justify="right")
    metrics = []
    if counts["page_questions"]:
        metrics += ["page_recall", "mrr"]
    if counts["passage_questions"]:
        metrics += ["passage_hit", "passage_hit_recoverable"]
    for n in names:
        for metric in metrics:
            table.add_row(n, metric, *[_fmt(report[n][metric].get(str(k))) for k in ks])
    console.print(table)
    for n in names:
        lat = report[n]["latency_ms"]
        ing = report[n].get("ingestion", {})
        console.print(
            f"{n}: latency p50 {_fmt(lat['p50'], 1)} ms, p95 {_fmt(lat['p95'], 1)} ms; "
            f"ingestion {_fmt(ing.get('pages_per_s'), 2)} pages/s"
        )
    if counts["passage_questions"]:
        console.print(
            f"not recoverable key passages: {counts['not_recoverable']} of {counts['passage_questions']}"
        )
    for n in names:
        for fidelity in (report[n].get("fidelity") or {}).values():
            console.print(f"{n} text fidelity: {_fidelity_text(fidelity)}")
    for name, entry in (report.get("same_rows_english") or {}).items():
        k5 = _nearest_k(ks)
        for metric, ratio in entry["ratio"].items():
            console.print(
                f"{name}, same rows in English: {metric}@{k5} {_fmt(entry['english'][metric].get(k5))}, "
                f"translated {_fmt(entry['translated'][metric].get(k5))}, ratio {_fmt(ratio.get(k5))}"
            )
    for line in _answer_lines(report):
        console.print(line)
