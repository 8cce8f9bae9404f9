"""Compare layout backends on real papers: elements per kind, captioned figures/tables found, pages/s.

    .venv/bin/python benchmarks/layout_compare.py [PAPERS_DIR] [--backends heuristic,pymupdf] [--no-llm]
        [--isolated] [--out results.json]

For every backend the full parser runs (layout, caption linking, crops at the configured DPI, table Markdown,
OCR where needed), in-process, one PDF after another. In the same run, plain ``page.get_text()`` and
``pymupdf4llm.to_markdown`` read the same pages as speed references.

"Ground truth" for figures and tables is the set of caption labels ("Figure 3", "Table 2") that start a text
block of the paper: a backend finds a figure/table when it returns a visual element linked to that caption.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

PAPERS = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "papers"


def caption_truth(path: Path) -> set[tuple[str, int]]:
    import pymupdf

    from paperlens.ingest.captions import caption_label

    labels = set()
    with pymupdf.open(path) as doc:
        for page in doc:
            for block in page.get_text("blocks"):
                label = caption_label(" ".join(str(block[4]).split()))
                if label and label[0] in ("figure", "table"):
                    labels.add(label)
    return labels


def run_backend(name: str, pdfs: list[Path], truth: dict[str, set], isolated: bool = False) -> dict:
    from tqdm import tqdm

    from paperlens.config import IngestSettings
    from paperlens.ingest.isolate import parse_pdf_isolated
    from paperlens.ingest.parse import parse_pdf

    parse = parse_pdf_isolated if isolated else parse_pdf

    settings = IngestSettings(layout=name)
    kinds: Counter[str] = Counter()
    found = wanted = pages = tables_md = 0
    seconds = 0.0
    per_paper = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pdf in tqdm(pdfs, desc=f"layout={name}", unit="pdf"):
            started = time.perf_counter()
            parsed = parse(pdf, pdf.stem, Path(tmp) / "crops", settings)
            took = time.perf_counter() - started
            seconds += took
            pages += parsed.pages
            counts = Counter(e.kind.value for e in parsed.elements)
            kinds += counts
            linked = {
                tuple(e.meta["label"])
                for e in parsed.elements
                if e.is_visual and e.caption and e.meta.get("label")
            }
            hit = len(linked & truth[pdf.name])
            found += hit
            wanted += len(truth[pdf.name])
            tables_md += sum(1 for e in parsed.elements if e.markdown)
            per_paper[pdf.name] = {
                "pages": parsed.pages,
                "seconds": round(took, 2),
                "captions": len(truth[pdf.name]),
                "captioned_visuals_found": hit,
                "counts": dict(counts),
            }
    return {
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 2) if seconds else None,
        "counts": dict(kinds),
        "captions": wanted,
        "captioned_visuals_found": found,
        "recall": round(found / wanted, 3) if wanted else None,
        "tables_with_markdown": tables_md,
        "papers": per_paper,
    }


def run_get_text(pdfs: list[Path]) -> dict:
    import pymupdf

    pages = 0
    started = time.perf_counter()
    for pdf in pdfs:
        with pymupdf.open(pdf) as doc:
            for page in doc:
                page.get_text()
                pages += 1
    seconds = time.perf_counter() - started
    return {"pages": pages, "seconds": round(seconds, 2), "pages_per_s": round(pages / seconds, 2)}


def run_pymupdf4llm(pdfs: list[Path]) -> dict:
    import pymupdf4llm
    from tqdm import tqdm

    pages = 0
    started = time.perf_counter()
    for pdf in tqdm(pdfs, desc="pymupdf4llm", unit="pdf"):
        import pymupdf

        with pymupdf.open(pdf) as doc:
            pages += doc.page_count
            pymupdf4llm.to_markdown(doc, show_progress=False)
    seconds = time.perf_counter() - started
    return {"pages": pages, "seconds": round(seconds, 2), "pages_per_s": round(pages / seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("papers", nargs="?", type=Path, default=PAPERS)
    parser.add_argument("--backends", default="heuristic,pymupdf")
    parser.add_argument("--no-llm", action="store_true", help="skip the pymupdf4llm reference (slow)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--isolated", action="store_true", help="parse in a child process per PDF, as the service does"
    )
    args = parser.parse_args()

    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    pdfs = sorted(args.papers.glob("*.pdf"))
    if not pdfs:
        raise SystemExit(f"no PDFs in {args.papers}")
    truth = {pdf.name: caption_truth(pdf) for pdf in pdfs}
    results: dict[str, dict] = {"get_text": run_get_text(pdfs)}
    for name in args.backends.split(","):
        suffix = " (isolated)" if args.isolated else ""
        results[f"layout={name}{suffix}"] = run_backend(name.strip(), pdfs, truth, args.isolated)
    if not args.no_llm:
        results["pymupdf4llm"] = run_pymupdf4llm(pdfs)

    from rich.console import Console
    from rich.table import Table

    kinds = sorted({k for r in results.values() for k in r.get("counts", {})})
    table = Table(title=f"{len(pdfs)} PDFs, {results['get_text']['pages']} pages")
    for column in ["run", "pages/s", "fig+tab found/captions", "tables w/ md", *kinds]:
        table.add_column(column, justify="right")
    for name, r in results.items():
        found = f"{r['captioned_visuals_found']}/{r['captions']}" if "captions" in r else "-"
        counts = [str(r.get("counts", {}).get(k, "-")) for k in kinds]
        table.add_row(name, str(r["pages_per_s"]), found, str(r.get("tables_with_markdown", "-")), *counts)
    Console(width=200).print(table)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
