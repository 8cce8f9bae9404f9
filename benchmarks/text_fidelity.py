"""Text fidelity of the parser and chunker alone, on a bench set: run it on two checkouts to compare parsers.

    .venv/bin/python benchmarks/text_fidelity.py DATASET_DIR [--no-ocr] [--out results.json]

Each PDF is parsed and chunked in-process with the current settings (no describer, no embedder, no index), and
the chunks are scored as ``paperlens bench`` scores the stored ones (``eval.runner.stored_fidelity``): for key-passage questions the share of key
passages one chunk holds (>= 60 % of the passage's word 3-grams) and the mean best-chunk coverage; for
page-evidence questions the share of gold pages with chunk text. Also counted: ligature glyphs (U+FB00-FB06)
left in chunk text. It differs from the bench's figure only by figure descriptions (the describer's text is
not here), so it runs in minutes where the bench takes an hour.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

LIGATURES = re.compile("[\ufb00-\ufb06]")


def main() -> None:
    from paperlens.config import Settings
    from paperlens.eval.datasets import load_dataset
    from paperlens.eval.metrics import PASSAGE_THRESHOLD, ngram_coverage, word_ngrams
    from paperlens.ingest.chunk import chunk_elements
    from paperlens.ingest.parse import PARSER_VERSION, parse_pdf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--no-ocr", action="store_true", help="leave image-only pages empty (faster)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    settings = Settings()
    ingest = settings.ingest.model_copy(update={"ocr": not args.no_ocr})
    dataset = load_dataset(args.dataset)
    chunks: dict[str, list[tuple[int, str]]] = {}
    ligatures = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as crops:
        for pdf in tqdm(dataset.pdfs, desc="parse + chunk"):
            parsed = parse_pdf(pdf, pdf.name, Path(crops), ingest)
            texts = [(c.page, c.text) for c in chunk_elements(parsed.elements, settings.chunk)]
            chunks[pdf.name] = texts
            ligatures += sum(len(LIGATURES.findall(text)) for _, text in texts)
    # Scored inline with the metrics older checkouts have too, so the script compares any two parsers.
    coverage = {
        q.id: max((ngram_coverage(word_ngrams(q.key_passage), t) for _, t in chunks[q.doc]), default=0.0)
        for q in dataset.passage_questions
    }
    fidelity: dict[str, dict] = {}
    if coverage:
        held = sum(1 for c in coverage.values() if c >= PASSAGE_THRESHOLD)
        fidelity["passage"] = {"value": held / len(coverage), "held": held, "of": len(coverage),
                               "mean_best_chunk_coverage": sum(coverage.values()) / len(coverage)}  # fmt: skip
    gold = {(q.doc, p) for q in dataset.page_questions for p in q.evidence_pages}
    if gold:
        stored = {
            (doc, page) for doc, texts in chunks.items() for page, text in texts if re.search(r"\w", text)
        }
        fidelity["page"] = {
            "value": len(gold & stored) / len(gold),
            "held": len(gold & stored),
            "of": len(gold),
        }
    result = {
        "dataset": dataset.name,
        "parser_version": PARSER_VERSION,
        "ocr": not args.no_ocr,
        "fidelity": fidelity,
        "best_chunk_coverage": coverage,
        "ligatures_in_chunks": ligatures,
        "chunks": sum(len(v) for v in chunks.values()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "best_chunk_coverage"}, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
