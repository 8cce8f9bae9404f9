"""Parse untrusted PDFs in warm, isolated worker processes with a time limit and a memory limit.

PyMuPDF is not thread-safe and a hostile PDF can hang it, crash it or eat all memory. Parsing therefore runs
in ``spawn``ed worker processes with ``RLIMIT_AS`` set; the parent waits with a deadline and kills the worker
if needed. Whatever the PDF does, the caller gets either the result or a typed ``PaperlensError``.

Workers are kept warm between documents: a fresh interpreter costs 2-5 s of imports (PyMuPDF, the layout and
OCR models) per job. A worker is replaced after a crash, after a time-out, after running out of memory, and
after ``ingest.worker_max_tasks`` tasks (so slow leaks in native code cannot pile up).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paperlens import errors
from paperlens.config import IngestSettings
from paperlens.ingest.parse import ParsedDocument, ProgressFn, parse_pdf

#: ``parse_pdf``'s signature. Tests pass a module-level function that hangs or eats memory, so the limits are
#: exercised for real; it must be importable by name in the worker (tasks are pickled by reference).
ParseFn = Callable[..., ParsedDocument]


def _prepare_worker(settings: IngestSettings, ocr_threads: int) -> None:
    import resource

    from paperlens.ingest import ocr

    ocr.set_threads(ocr_threads)
    if settings.layout != "pymupdf" and "pymupdf" not in sys.modules:
        # ``import pymupdf`` (2.0) also loads its ONNX layout model when pymupdf-layout is installed: ~2 s and
        # a few hundred MB per worker that the other backends never use. A None entry makes that optional
        # import fail fast, which PyMuPDF handles.
        sys.modules["pymupdf.layout"] = None  # type: ignore[assignment]
        # ... and PyMuPDF would then print a tip to install pymupdf-layout for every PDF: it is installed.
        os.environ["PYMUPDF_SUGGEST_LAYOUT_ANALYZER"] = "0"
    limit = settings.parse_memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):  # a platform without the limit parses unlimited
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _worker_main(conn, settings_json: str, ocr_threads: int) -> None:
    """A worker's life: run tasks until told to stop (None) or the parent goes away."""
    settings = IngestSettings.model_validate_json(settings_json)
    _prepare_worker(settings, ocr_threads)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args, kwargs, wants_progress = task
        if wants_progress:
            kwargs["progress"] = lambda done, total: conn.send(("progress", done, total))
        try:
            conn.send(("ok", fn(*args, **kwargs)))
        except errors.PaperlensError as exc:
            conn.send(("error", type(exc).__name__, exc.message, exc.code))
        except MemoryError:
            message = f"the PDF needed more memory than the parser is allowed ({settings.parse_memory_mb} MB)"
            conn.send(("error", "ParseFailedError", message, "parse_out_of_memory"))
            return  # a heap that hit its limit is not worth keeping: the parent starts a fresh worker
        except Exception as exc:  # anything else is a parser failure on this file, not a crash of ours
            message = f"the PDF could not be parsed: {type(exc).__name__}: {exc}"
            conn.send(("error", "ParseFailedError", message, "parse_failed"))


class _Worker:
    def __init__(self, settings: IngestSettings, ocr_threads: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(
            target=_worker_main,
            args=(child, settings.model_dump_json(), ocr_threads),
            daemon=True,
            name="paperlens-parser",
        )
        self.proc.start()
        child.close()
        self.tasks = 0

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.proc.join(2)
        self.kill()


class WorkerPool:
    """Up to ``size`` warm worker processes with one memory limit; ``run`` sends a task to an idle one."""

    def __init__(
        self, settings: IngestSettings, size: int, max_tasks: int, ocr_threads: int | None = None
    ) -> None:
        self.settings = settings
        self.size = max(1, size)
        self.max_tasks = max(1, max_tasks)
        # Threads of each worker's OCR engines (-1: all cores). Workers OCR side by side: one thread each, or
        # they only take turns on the same cores. A caller that holds fewer cores than the machine has (a Ray
        # task) says how many.
        self.ocr_threads = ocr_threads if ocr_threads is not None else (1 if self.size > 1 else -1)
        self._idle: list[_Worker] = []
        self._busy = 0
        self._cond = threading.Condition()
        self.started = 0  # workers started over the pool's life (tests check reuse and replacement)

    def _acquire(self) -> _Worker:
        with self._cond:
            while not self._idle and self._busy >= self.size:
                self._cond.wait()
            self._busy += 1
            if self._idle:
                return self._idle.pop()
        try:
            worker = _Worker(self.settings, self.ocr_threads)
        except BaseException:
            with self._cond:
                self._busy -= 1
                self._cond.notify()
            raise
        with self._cond:
            self.started += 1
        return worker

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if healthy and worker.tasks < self.max_tasks and worker.proc.is_alive():
            with self._cond:
                self._idle.append(worker)
                self._busy -= 1
                self._cond.notify()
            return
        worker.stop() if healthy else worker.kill()
        with self._cond:
            self._busy -= 1
            self._cond.notify()

    def warm_up(self, count: int | None = None) -> None:
        """Start workers now (their imports take seconds), so the first document does not wait on them."""
        workers = [self._acquire() for _ in range(min(count or self.size, self.size))]
        for worker in workers:
            self._release(worker, healthy=True)

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        timeout_s: float,
        per_unit_timeout_s: float = 0.0,
        progress: ProgressFn | None = None,
        **kwargs: Any,
    ) -> Any:
        """``fn(*args, **kwargs)`` in a worker. With ``progress``, ``fn`` gets a ``progress(done, total)``
        argument; once it reports ``total`` units, the time limit grows by ``per_unit_timeout_s`` each."""
        worker = self._acquire()
        healthy = False
        try:
            worker.tasks += 1
            worker.conn.send((fn, args, kwargs, progress is not None))
            result = self._wait(worker, timeout_s, per_unit_timeout_s, progress)
            healthy = True
            return result
        except errors.PaperlensError as exc:
            # A typed error the worker reported itself leaves it usable; a time-out or a crash does not.
            healthy = exc.code not in ("parse_timeout", "parser_crashed", "parse_out_of_memory")
            raise
        finally:
            self._release(worker, healthy)

    @staticmethod
    def _wait(worker: _Worker, timeout_s: float, per_unit_s: float, progress: ProgressFn | None) -> Any:
        started = time.monotonic()
        limit_s = timeout_s
        deadline = started + limit_s
        conn, proc = worker.conn, worker.proc
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.ParseFailedError(
                    f"parsing took longer than {limit_s:g} s and was stopped", code="parse_timeout"
                )
            if not conn.poll(min(remaining, 0.5)):
                if not proc.is_alive() and not conn.poll(0):
                    raise errors.ParseFailedError(
                        f"the parser process died (exit code {proc.exitcode}) on this PDF",
                        code="parser_crashed",
                    )
                continue
            try:
                message = conn.recv()
            except (EOFError, OSError):
                proc.join(5)
                raise errors.ParseFailedError(
                    f"the parser process died (exit code {proc.exitcode}) on this PDF", code="parser_crashed"
                ) from None
            if message[0] == "progress":
                # Once the page count is known, long documents get their per-page allowance: a 100-page
                # scanned deck needs minutes of OCR, a hang on page 1 of it is still stopped.
                limit_s = timeout_s + per_unit_s * message[2]
                deadline = started + limit_s
                if progress:
                    progress(message[1], message[2])
            elif message[0] == "ok":
                return message[1]
            else:
                code = message[3] if len(message) > 3 else None
                raise errors.error_class_named(message[1], errors.ParseFailedError)(message[2], code=code)

    def map_shares(
        self,
        fn: Callable[..., Any],
        shares: list[Any],
        *args: Any,
        timeout_s: float,
        per_unit_timeout_s: float = 0.0,
        progress: ProgressFn | None = None,
    ) -> list[Any]:
        """``fn(share, *args, progress=...)`` for each share, side by side in the pool's workers; results in
        share order. ``progress(done, total)`` sums the shares' own counts. The first error is raised."""
        done = [0] * len(shares)
        totals = [0] * len(shares)
        lock = threading.Lock()
        results: list[Any] = [None] * len(shares)
        failures: list[BaseException] = []

        def run(index: int) -> None:
            def report(count: int, total: int) -> None:
                with lock:
                    done[index], totals[index] = count, total
                    if progress:
                        progress(sum(done), sum(totals))

            try:
                results[index] = self.run(
                    fn,
                    shares[index],
                    *args,
                    timeout_s=timeout_s,
                    per_unit_timeout_s=per_unit_timeout_s,
                    progress=report,
                )
            except BaseException as exc:  # re-raised in the caller's thread below
                failures.append(exc)

        threads = [
            threading.Thread(target=run, args=(i,), name=f"paperlens-share-{i}") for i in range(len(shares))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        return results

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()


_pools: dict[tuple, WorkerPool] = {}
_pools_lock = threading.Lock()


def worker_pool(settings: IngestSettings, ocr_threads: int | None = None) -> WorkerPool:
    """The process-wide pool for these limits (workers are shared by every engine in the process).
    ``ocr_threads``: see ``WorkerPool``; None lets the pool choose from its size."""
    key = (
        settings.parse_memory_mb,
        settings.layout == "pymupdf",
        settings.workers,
        settings.worker_max_tasks,
        ocr_threads,
    )
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = WorkerPool(
                settings, effective_workers(settings), settings.worker_max_tasks, ocr_threads
            )
        return pool


def effective_workers(settings: IngestSettings) -> int:
    """``ingest.workers``, or one per core this process may use when it is 0."""
    if settings.workers > 0:
        return settings.workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def close_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


def parse_pdf_isolated(
    path: Path,
    document_id: str,
    crops_dir: Path,
    settings: IngestSettings,
    progress: ProgressFn | None = None,
    fallback_title: str = "",
    parse_fn: ParseFn = parse_pdf,
    ocr_results: dict[int, list] | None = None,
    ocr_threads: int | None = None,
) -> ParsedDocument:
    """``parse_fn`` (``parse_pdf``) on ``path`` in a warm worker; ``ocr_results`` are pages OCR'd already."""
    extra = {"ocr_results": ocr_results} if ocr_results else {}
    return worker_pool(settings, ocr_threads).run(
        parse_fn,
        Path(path),
        document_id,
        Path(crops_dir),
        settings,
        timeout_s=settings.parse_timeout_s,
        per_unit_timeout_s=settings.parse_timeout_per_page_s,
        progress=progress or (lambda _done, _total: None),
        fallback_title=fallback_title,
        **extra,
    )
