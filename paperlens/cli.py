"""``paperlens serve | ingest | search | ask | bench | documents | delete | reembed``."""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from paperlens.config import Settings, load_settings
from paperlens.errors import PaperlensError

app = typer.Typer(
    help="paperlens: ask questions over scientific papers, answered with citations to page and figure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML settings file, or a preset's name: offline, ollama, vllm-gpu, gemini (configs/NAME.toml); "
        "default from PAPERLENS_CONFIG. Env PAPERLENS_* still wins",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON on stdout")]
DocOpt = Annotated[list[str] | None, typer.Option("--doc", "-d", help="restrict to these document ids")]


def _settings(config: Path | None, **overrides) -> Settings:
    try:
        return load_settings(config, **overrides)
    except PaperlensError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc


def _engine(settings: Settings):
    from paperlens.engine import Engine

    with console.status("loading models…"):
        try:
            return Engine(settings)
        except PaperlensError as exc:
            console.print(f"[red]error ({exc.code}):[/red] {exc.message}")
            raise typer.Exit(2) from exc


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default from settings: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from settings: 8000)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Start the HTTP service (REST API under /v1, docs at /docs, web page at /)."""
    import uvicorn

    from paperlens.service.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = _settings(config, **overrides)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not settings.api_keys and not _is_loopback(settings.host):
        console.print(
            f"[bold red]WARNING:[/bold red] binding to {settings.host} with no API keys: anyone who can reach "
            "this port can read, upload and delete documents. Set PAPERLENS_API_KEYS."
        )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


def _pdfs(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            console.print(f"[yellow]skipped:[/yellow] {path} does not exist")
    return found


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="PDF files or folders (searched recursively)")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    executor: Annotated[
        str | None, typer.Option("--executor", help="local (warm worker processes) or ray (a Ray cluster)")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster address; empty: start a local Ray")
    ] = None,
) -> None:
    """Ingest PDFs into the data directory: stored ones are skipped (so a stopped run resumes), failures are
    listed at the end, with pages/s and the seconds each stage took."""
    from paperlens.index.writer_lock import WriterLock

    ingest_overrides = {k: v for k, v in {"executor": executor, "ray_address": ray_address}.items() if v}
    settings = _settings(config, **({"ingest": ingest_overrides} if ingest_overrides else {}))
    files = _pdfs(paths)
    if not files:
        console.print("[red]error:[/red] no PDF files found")
        raise typer.Exit(2)
    lock = WriterLock(settings.data_dir)
    try:
        lock.acquire("paperlens ingest")
    except PaperlensError as exc:
        console.print(f"[red]error ({exc.code}):[/red] {exc.message}")
        raise typer.Exit(2) from exc
    try:
        engine = _engine(settings)
        try:
            if len(files) > 1:
                # Several PDFs spend far more on multilingual passages than the ONNX graph's one-off export
                # (9 papers: 342 -> 183 stage-seconds), so it is built while the first ones parse.
                engine.allow_onnx(build_now=True)
            results = _ingest_files(engine, files)
        finally:
            engine.close()
    finally:
        lock.release()
    failures = [r for r in results if "error" in r]
    if as_json:
        out.print_json(json.dumps(results))
    else:
        _print_ingest_table(results)
        _print_timings(results)
        for r in failures:
            # One line per failure, never wrapped: the path can be copied from it.
            out.print(
                f"[red]failed:[/red] {r['file']}: {r['error']['code']}: {r['error']['message']}",
                soft_wrap=True,
            )
    raise typer.Exit(1 if failures else 0)


def _ingest_files(engine, files: list[Path]) -> list[dict]:
    """Ingest ``files``, ``ingest.documents_in_flight`` at once (one parses while another embeds); one row
    per file, in the files' order.

    Every file is made searchable first (the pages/s shown); the deferred stages (descriptions, multilingual
    vectors) then run over the new documents, so a long run's library is searchable as early as it can be."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    rows: dict[Path, dict] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} PDFs"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
    )
    started, pages, lock = time.perf_counter(), [0], threading.Lock()
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("ingesting", total=len(files), stage="", rate="")

        def one(path: Path) -> None:
            def show(stage: str, fraction: float) -> None:
                progress.update(overall, stage=f"{path.name[:40]}: {stage} {fraction:.0%}")

            try:
                result = engine.ingest_path(path, progress=show, deferred=False)
                status = "done" if result.created else "already ingested"
                row = {"file": str(path), **result.__dict__}
            except PaperlensError as exc:
                status = f"failed: {exc.code}"
                row = {"file": str(path), "error": {"code": exc.code, "message": exc.message}}
            with lock:
                rows[path] = row
                pages[0] += row.get("pages", 0) if row.get("created") else 0
                rate = pages[0] / max(time.perf_counter() - started, 1e-9)
                progress.update(overall, advance=1, rate=f"{rate:.2f} pages/s", stage=status)
                if not console.is_terminal:
                    # No live bar in a log file or CI: a line per PDF shows a long run is moving.
                    console.print(f"{path.name}: {status}", markup=False)

        with ThreadPoolExecutor(max_workers=engine.settings.ingest.documents_in_flight) as pool:
            for future in [pool.submit(one, path) for path in files]:
                future.result()
        created = [rows[path] for path in files if rows[path].get("created")]
        if created and engine.pipeline.defers_work:
            late = progress.add_task("deferred stages", total=len(created), stage="", rate="")
            for row in created:
                progress.update(late, stage=Path(row["file"]).name[:40])
                try:
                    seconds = engine.enrich(row["document_id"])
                except PaperlensError as exc:  # the document is stored and searchable all the same
                    row["deferred_error"] = {"code": exc.code, "message": exc.message}
                    console.print(
                        f"{Path(row['file']).name}: a deferred stage failed: {exc.code}: {exc.message}",
                        markup=False,
                    )
                else:
                    row["timings"].update(seconds)
                    row["seconds"] = round(row["seconds"] + sum(seconds.values()), 4)
                progress.update(late, advance=1)
    return [rows[path] for path in files]


def _print_timings(results: list[dict]) -> None:
    """Seconds per stage for each newly ingested PDF (where ingestion time goes)."""
    timed = [r for r in results if r.get("created") and r.get("timings")]
    if not timed:
        return
    # Stages as rows, documents as columns: eight stage names never fit side by side in a terminal.
    stages = list(timed[0]["timings"])
    table = Table(title="seconds per stage")
    table.add_column("stage")
    for r in timed:
        table.add_column(Path(r["file"]).name, justify="right")
    for stage in stages:
        table.add_row(stage, *[f"{r['timings'].get(stage, 0.0):.2f}" for r in timed])
    table.add_row("total", *[f"{r['seconds']:.2f}" for r in timed])
    out.print(table)


def _print_ingest_table(results: list[dict]) -> None:
    kinds = ["text", "title", "figure", "table", "formula", "caption", "list", "footnote"]
    table = Table(title="ingested")
    for col in ["file", "pages", *kinds, "chunks", "status"]:
        table.add_column(col, justify="left" if col in ("file", "status") else "right")
    for r in results:
        if "error" in r:
            table.add_row(
                Path(r["file"]).name, *[""] * (len(kinds) + 2), f"[red]{r['error']['message']}[/red]"
            )
            continue
        counts = r.get("counts", {})
        status = "new" if r["created"] else "already ingested"
        table.add_row(
            Path(r["file"]).name,
            str(r["pages"]),
            *[str(counts.get(k, 0)) for k in kinds],
            str(counts.get("chunks", "")),
            status,
        )
    out.print(table)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("--k", "-k", help="number of hits")] = 8,
    doc: DocOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid search (dense + keyword) over everything ingested."""
    engine = _engine(_settings(config))
    hits = engine.search(query, k=k, document_ids=doc)
    engine.close()
    if as_json:
        out.print_json(json.dumps({"hits": [h.model_dump(mode="json") for h in hits]}))
        return
    for i, hit in enumerate(hits, start=1):
        out.print(f"[bold]{i}.[/bold] {hit.title} — p.{hit.page} ({hit.kind.value}) score {hit.score:.4f}")
        out.print("   " + " ".join(hit.text.split())[:300])


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="your question")],
    k: Annotated[int | None, typer.Option("--k", "-k", help="evidence passages to use")] = None,
    doc: DocOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the ingested papers, citing page and figure."""
    engine = _engine(_settings(config))
    with console.status("thinking…"):
        answer = engine.ask(question, k=k, document_ids=doc)
    engine.close()
    if as_json:
        out.print_json(answer.model_dump_json())
        return
    out.print(answer.answer, markup=False)
    if answer.citations:
        out.print("\n[bold]Sources[/bold]")
    for c in answer.citations:
        extra = f" {c.image_url}" if c.image_url else ""
        out.print(f"[{c.n}] {c.title}, page {c.page} ({c.kind.value}){extra}", markup=False)
        out.print(f'    "{c.quote}"', markup=False)
    for warning in answer.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


@app.command()
def documents(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List ingested documents."""
    from paperlens.index.store import open_store

    settings = _settings(config)
    store = open_store(settings)
    docs = store.list_documents()
    rows = [{**d.model_dump(), "counts": store.element_counts(d.id)} for d in docs]
    store.close()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} document(s)")
    for col in ("id", "title", "pages", "elements"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"][:16], r["title"][:60], str(r["pages"]), str(sum(r["counts"].values())))
    out.print(table)


@app.command()
def delete(document_id: Annotated[str, typer.Argument()], config: ConfigOpt = None) -> None:
    """Delete a document from every index."""
    engine = _engine(_settings(config))
    try:
        engine.delete_document(document_id)
    except PaperlensError as exc:
        console.print(f"[red]error ({exc.code}):[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        engine.close()
    out.print(f"deleted {document_id}")


@app.command()
def reembed(config: ConfigOpt = None) -> None:
    """Embed every stored chunk again with the configured embedder (after changing embed.model), without
    ingesting the PDFs again. Stop the service on this data directory first."""
    from paperlens.index.reembed import reembed as run_reembed

    settings = _settings(config)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"embedding with {settings.embed.model}", total=None)
        next_line = 0

        def report(done: int, total: int) -> None:
            nonlocal next_line
            progress.update(task, completed=done, total=total)
            if not console.is_terminal and (done >= next_line or done == total):  # a log has no live bar
                console.print(f"embedded {done}/{total} chunks", markup=False)
                next_line = done + max(1, total // 20)

        try:
            result = run_reembed(settings, report)
        except PaperlensError as exc:
            console.print(f"[red]error ({exc.code}):[/red] {exc.message}")
            raise typer.Exit(2) from exc
    before = (result["before"] or {}).get("model", "nothing")
    out.print(f"re-embedded {result['chunks']} chunks: {before} -> {result['after']['model']}")


@app.command()
def bench(
    dataset_dir: Annotated[Path, typer.Argument(help="folder with pdfs/ and questions.jsonl")],
    k: Annotated[str, typer.Option("--k", help="comma-separated cut-offs")] = "1,3,5,10",
    out_dir: Annotated[Path, typer.Option("--out", help="where report.json/.md and plots go")] = Path(
        "bench-out"
    ),
    config: ConfigOpt = None,
    baseline: Annotated[bool, typer.Option("--baseline", help="also run the plain baseline")] = False,
    answers: Annotated[bool, typer.Option("--answers", help="also measure answer accuracy (slow)")] = False,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=1, help="ask only N questions, drawn with a fixed seed (quick runs)"),
    ] = None,
) -> None:
    """Measure retrieval (and answer) accuracy on a question set, beside the plain baseline."""
    from paperlens.eval.runner import run_bench

    if not (dataset_dir / "questions.jsonl").is_file() or not (dataset_dir / "pdfs").is_dir():
        console.print(f"[red]error:[/red] {dataset_dir} must hold pdfs/ and questions.jsonl")
        raise typer.Exit(2)
    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
    except ValueError as exc:
        console.print("[red]error:[/red] --k takes integers like 1,3,5,10")
        raise typer.Exit(2) from exc
    settings = _settings(config)
    choose_fn = None
    if answers and settings.generate.backend != "extractive":
        # Multiple choice with the configured LLM; the extractive backend uses the offline lexical chooser.
        from paperlens.generate import build_generator
        from paperlens.generate.choose import llm_choose
        from paperlens.index.embed import build_embedder

        generator = build_generator(settings.generate, build_embedder(settings.embed))
        choose_fn = functools.partial(llm_choose, generator)
    run_bench(
        dataset_dir, out_dir, settings, ks, baseline, answers=answers, choose_fn=choose_fn, sample=sample
    )


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
