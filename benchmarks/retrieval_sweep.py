"""Choose retrieval settings by measurement: several ``retrieve.*`` settings on one benchmark's cached index.

    .venv/bin/python benchmarks/retrieval_sweep.py ../shared/bench/mmlb_dev [--config FILE] [--k 1,3,5,10]
        [--variant NAME:key=value,key=value ...] [--out sweep.json]

``paperlens bench DATASET`` must have ingested the dataset first with the same settings (the retrieve section is
not part of its cache key, so every variant here searches the very index the bench measured). Each variant
replaces some ``retrieve`` settings (fusion, rrf_k, list weights, candidates) and asks
every question again through the service's own search; one line per variant is printed: page recall@k and
MRR on page-evidence sets, the weakest evidence source at k=5, passage hit@k on key-passage sets, latency.

Without ``--variant`` it runs the default grid below. Keep the grid small and its knobs global: the same
settings are measured on question sets this script never sees.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_GRID = [
    "defaults:",
    "rrf:fusion=rrf",
    "rrf_k20:fusion=rrf,rrf_k=20",
    "weighted_kw0.5:fusion=weighted,keyword_weight=0.5",
    "weighted_kw0.75:fusion=weighted,keyword_weight=0.75",
    "weighted_kw1.5:fusion=weighted,keyword_weight=1.5",
    "candidates100:candidates=100",
]


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, body = text.partition(":")
    overrides = {}
    for part in filter(None, body.split(",")):
        key, _, value = part.partition("=")
        overrides[key.strip()] = value.strip()
    return name, overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--k", default="1,3,5,10")
    parser.add_argument("--variant", action="append", help="NAME:key=value,... (repeatable)")
    parser.add_argument("--out", type=Path, help="write every variant's summary as JSON here")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rich.console import Console

    from paperlens.config import RetrieveSettings, load_settings
    from paperlens.engine import Engine
    from paperlens.eval.datasets import load_dataset
    from paperlens.eval.evaluate import summarise
    from paperlens.eval.runner import (
        SystemRetriever,
        bench_data_dir,
        cache_key,
        evaluate_retriever,
        parse_ks,
        recoverability,
    )
    from paperlens.models import document_id_for

    console = Console(stderr=True)
    ks = parse_ks(args.k)
    settings = load_settings(args.config)
    dataset = load_dataset(args.dataset)
    hashes = {pdf.name: document_id_for(pdf.read_bytes()) for pdf in dataset.pdfs}
    data_dir = bench_data_dir(settings, dataset.name, cache_key(settings, list(hashes.values())))
    if not (data_dir / "paperlens.sqlite3").is_file():
        sys.exit(
            f"no bench index for these settings at {data_dir}: run `paperlens bench {args.dataset}` first"
        )
    engine = Engine(settings.model_copy(update={"data_dir": data_dir}))
    ids = {name: doc for name, doc in hashes.items() if engine.store.has_document(doc)}
    console.print(f"{dataset.name}: {len(ids)}/{len(hashes)} documents in {data_dir}")
    recoverable = recoverability(dataset)
    results = {}
    k5 = "5" if 5 in ks else str(ks[-1])
    try:
        for spec in args.variant or DEFAULT_GRID:
            name, overrides = parse_variant(spec)
            # Validated like a config file would be: a typo in a key or value fails here, not silently.
            merged = {**settings.retrieve.model_dump(), **overrides}
            engine.retriever.settings = RetrieveSettings.model_validate(merged)
            rows = evaluate_retriever(SystemRetriever(engine), dataset, ids, ks, recoverable, console)
            summary = summarise(rows, ks)
            results[name] = {"overrides": overrides, "summary": summary}
            line = [f"{name:<18}"]
            if summary["counts"]["page_questions"]:
                recall = summary["page_recall"]
                sources = {s: v["page_recall"][k5] for s, v in summary["by_source"].items()}
                weakest = min(sources, key=sources.get) if sources else "-"
                line += [" ".join(f"R@{k}={recall[str(k)]:.3f}" for k in ks),
                         f"MRR@{k5}={summary['mrr'][k5]:.3f}",
                         f"min source@{k5}={sources.get(weakest, 0):.3f} ({weakest})"]  # fmt: skip
            if summary["counts"]["passage_questions"]:
                hit = summary["passage_hit"]
                line.append(" ".join(f"H@{k}={hit[str(k)]:.3f}" for k in ks))
            line.append(f"p50={summary['latency_ms']['p50']:.0f}ms")
            print("  ".join(line), flush=True)
    finally:
        engine.close()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
