"""The Ray executor: OCR, parse and describe as Ray tasks with their CPUs declared, embedding in actors that
load the model once; results come back to this process, the library's single writer.

Nothing a task does is visible until the writer commits the whole document in one transaction, so a worker
that dies mid-document loses nothing: Ray runs the task again (``ingest.ray_max_retries`` times), and past
that the job fails with ``IngestTaskFailedError``. The PDF travels as bytes through the object store and the
crops come back as bytes, so the cluster's nodes need no shared disk. On each node the untrusted PDF is still
parsed in a warm isolated worker process (memory and time limits, see ``isolate.py``), one per Ray task.

Ray pitfalls met on small machines (2.60): a pool of actors plus tasks that together want every CPU waits
forever, so a local instance declares the actors' CPUs on top of the cores; the object store is sized
explicitly (it defaults to 30 % of RAM); every wait has a time limit.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperlens import errors
from paperlens.config import DescribeSettings, EmbedSettings, IngestSettings, Settings
from paperlens.index.embed.base import Embedder
from paperlens.ingest.describe.base import Describer
from paperlens.ingest.executors.base import CountProgress
from paperlens.ingest.executors.tasks import can_describe_in_workers, shares_of
from paperlens.ingest.parse import ParsedDocument, parse_pdf
from paperlens.models import Element

log = logging.getLogger(__name__)

#: CPUs each parse, OCR and describe task declares. Its OCR engines run on as many threads: a task that let
#: ONNX Runtime take every core of the node would fight the node's other tasks for them.
TASK_CPUS = 1
#: Object store of a local instance: documents and crops pass through it one at a time.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024

_init_lock = threading.Lock()


# -- what runs on the cluster (module-level, so workers import it by name) --------------------------------


def _node_settings(settings_json: str) -> IngestSettings:
    # One isolated parser process per Ray task: the task holds one CPU, its child uses it.
    return IngestSettings.model_validate_json(settings_json).model_copy(update={"workers": 1})


def _as_result(call: Callable[[], Any], folder: str) -> tuple:
    """("ok", value) or ("error", class name, message, code): typed errors keep their code across the wire
    (an exception pickled by Ray would come back with its class's default code). Paths on the worker are
    taken out of messages: the client only knows its upload."""
    try:
        return ("ok", call())
    except errors.PaperlensError as exc:
        message = exc.message.replace(str(Path(folder) / "document.pdf"), "the PDF").replace(
            folder, "<worker>"
        )
        return ("error", type(exc).__name__, message, exc.code)


def _pdf_file(folder: str, data: bytes) -> Path:
    path = Path(folder) / "document.pdf"
    path.write_bytes(data)
    return path


def ocr_task(data: bytes, pages: list[int] | None, settings_json: str) -> tuple:
    """OCR of ``pages`` (None: find the image-only pages first and return their numbers)."""
    from paperlens.ingest.isolate import worker_pool
    from paperlens.ingest.ocr import ocr_pages, page_dpi, pages_needing_ocr

    settings = _node_settings(settings_json)
    pool = worker_pool(settings, ocr_threads=TASK_CPUS)
    with tempfile.TemporaryDirectory(prefix="paperlens-ray-") as folder:
        path = _pdf_file(folder, data)
        if pages is None:
            return _as_result(
                lambda: pool.run(pages_needing_ocr, path, settings, timeout_s=settings.parse_timeout_s),
                folder,
            )
        return _as_result(
            lambda: pool.run(
                ocr_pages,
                pages,
                path,
                page_dpi(settings),
                settings,
                timeout_s=settings.parse_timeout_s,
                per_unit_timeout_s=settings.parse_timeout_per_page_s,
                progress=lambda _done, _total: None,
            ),
            folder,
        )


def parse_task(
    data: bytes,
    document_id: str,
    crops_name: str,
    settings_json: str,
    title: str,
    ocr_results: dict[int, list],
    parse_fn: Callable[..., ParsedDocument] = parse_pdf,
) -> tuple:
    """The parsed document and its crops as {path relative to the data directory: PNG bytes}."""
    from paperlens.ingest.isolate import parse_pdf_isolated

    settings = _node_settings(settings_json)
    with tempfile.TemporaryDirectory(prefix="paperlens-ray-") as folder:
        path = _pdf_file(folder, data)
        crops_dir = Path(folder) / crops_name

        def parse() -> tuple[ParsedDocument, dict[str, bytes]]:
            parsed = parse_pdf_isolated(
                path,
                document_id,
                crops_dir,
                settings,
                fallback_title=title,
                parse_fn=parse_fn,
                ocr_results=ocr_results or None,
                ocr_threads=TASK_CPUS,
            )
            crops = {
                str(p.relative_to(folder)): p.read_bytes()
                for p in sorted(crops_dir.rglob("*"))
                if p.is_file()
            }
            return parsed, crops

        return _as_result(parse, folder)


def describe_task(elements: list[Element], crops: dict[str, bytes], settings_json: str) -> tuple:
    """Descriptions of one share of a document's visuals, with the crops it needs sent along."""
    from paperlens.ingest import ocr
    from paperlens.ingest.executors.tasks import describe_share

    ocr.set_threads(TASK_CPUS)  # the offline describer OCRs its crops here, in the Ray worker itself
    with tempfile.TemporaryDirectory(prefix="paperlens-ray-") as folder:
        for relative, data in crops.items():
            target = Path(folder) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return _as_result(
            lambda: describe_share(elements, Path(folder), settings_json, Path(folder) / "describe-cache"),
            folder,
        )


class EmbedActor:
    """Holds one embedding model for its life: the model loads once per actor, not once per batch."""

    def __init__(self, settings_json: str) -> None:
        from paperlens.index.embed import build_embedder

        self.embedder = build_embedder(EmbedSettings.model_validate_json(settings_json))

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed_passages(texts)


# -- the driver side ------------------------------------------------------------------------------------


class RayExecutor:
    name = "ray"

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        describer: Describer | None,
        parse_fn: Callable[..., ParsedDocument] = parse_pdf,
    ) -> None:
        self.settings = settings
        self.ingest = settings.ingest
        self.embedder = embedder
        self.describer = describer
        self.parse_fn = parse_fn  # tests hand in a parser that kills its Ray worker once
        self._started_here = False
        self._actors: list[Any] = []
        self._next_actor = 0
        self._remote: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Connect now: Ray wants its driver started from the main thread, where engines are built (the CLI,
        # the service's start-up); a first connection from a job thread leaves Ray unable to stop cleanly.
        if threading.current_thread() is threading.main_thread():
            self._ray()

    # -- connection ----------------------------------------------------------------------------------
    def _ray(self):
        try:
            import ray
        except ImportError as exc:
            raise errors.BackendUnavailableError(
                "ingest.executor = 'ray' needs Ray installed (pip install 'paperlens[ray]')"
            ) from exc
        with _init_lock:
            if not ray.is_initialized():
                self._start(ray)
        with self._lock:
            if not self._remote:
                retries = self.ingest.ray_max_retries
                cpu = {"num_cpus": TASK_CPUS, "max_retries": retries, "retry_exceptions": False}
                self._remote = {
                    "ocr": ray.remote(**cpu)(ocr_task),
                    "parse": ray.remote(**cpu)(parse_task),
                    "describe": ray.remote(**cpu)(describe_task),
                }
                actor = ray.remote(num_cpus=1, max_restarts=retries, max_task_retries=retries)(EmbedActor)
                self._actors = [
                    actor.remote(self.settings.embed.model_dump_json())
                    for _ in range(self.ingest.ray_embed_actors)
                ]
        return ray

    def _start(self, ray) -> None:
        address = self.ingest.ray_address
        if address:
            # The cluster's nodes run the same image (or the same installed paperlens and Ray versions).
            log.info("connecting to the Ray cluster at %s", address)
            ray.init(address=address, log_to_driver=False)
            return
        # Local workers import paperlens the way this process does (a source checkout included).
        runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in _import_roots() if p)}}
        cores = self.ingest.ray_num_cpus or len(os.sched_getaffinity(0))
        # The embedding actors hold their CPU for their whole life: declared on top of the cores, so parse
        # and OCR tasks can never be left waiting for a CPU an idle actor holds (ray #44687).
        ray.init(
            num_cpus=cores + self.ingest.ray_embed_actors,
            include_dashboard=False,
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            runtime_env=runtime_env,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",  # a local instance talks to itself only
        )
        self._started_here = True

    def warm_up(self) -> None:
        ray = self._ray()
        # An embedding on each actor: the model is loaded (and any failure to load it is seen) now.
        self._get(ray, [a.embed.remote(["paperlens"]) for a in self._actors])
        self.embedder.embed_query("paperlens")

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False
        self._remote, self._actors = {}, []

    # -- waiting -------------------------------------------------------------------------------------
    def _get(self, ray, refs: list, progress: Callable[[int], None] | None = None) -> list:
        """The results of ``refs`` in order, each wait bounded; a task that kept failing becomes a typed
        error, an error the task reported itself keeps its class and code."""
        from ray.exceptions import GetTimeoutError, RayError, RayTaskError

        pending = list(refs)
        done_count = 0
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=self.ingest.ray_timeout_s)
                if not ready:
                    raise GetTimeoutError("no task finished in time")
                done_count += len(ready)
                if progress:
                    progress(done_count)
            values = ray.get(list(refs), timeout=self.ingest.ray_timeout_s)
        except GetTimeoutError as exc:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise errors.IngestTaskFailedError(
                f"a Ray task did not finish within {self.ingest.ray_timeout_s:g} s", code="ingest_timeout"
            ) from exc
        except RayTaskError as exc:  # the task raised something that is not one of our typed errors
            raise errors.IngestTaskFailedError(
                f"a Ray task failed: {type(exc.cause).__name__ if exc.cause else type(exc).__name__}"
            ) from exc
        except RayError as exc:  # its worker or node died, every retry included
            raise errors.IngestTaskFailedError(
                f"a Ray task's worker died {self.ingest.ray_max_retries + 1} times ({type(exc).__name__})"
            ) from exc
        return [_unwrap(v) for v in values]

    # -- stages --------------------------------------------------------------------------------------
    def ocr(self, path: Path, document_id: str, progress: CountProgress) -> dict[int, list]:
        if not self.ingest.ocr:
            return {}
        ray = self._ray()
        data = ray.put(Path(path).read_bytes())
        settings_json = self.ingest.model_dump_json()
        (pages,) = self._get(ray, [self._remote["ocr"].remote(data, None, settings_json)])
        if not pages:
            return {}
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) - len(self._actors))
        shares = shares_of(pages, cpus)
        refs = [self._remote["ocr"].remote(data, share, settings_json) for share in shares]
        sizes = [len(s) for s in shares]
        found: dict[int, list] = {}
        for part in self._get(ray, refs, lambda n: progress(sum(sizes[:n]), len(pages))):
            found.update(part)
        return found

    def parse(
        self, path: Path, document_id: str, ocr_results: dict[int, list], title: str, progress: CountProgress
    ) -> ParsedDocument:
        ray = self._ray()
        crops_dir = self.settings.crops_dir
        ref = self._remote["parse"].remote(
            Path(path).read_bytes(),
            document_id,
            crops_dir.name,
            self.ingest.model_dump_json(),
            title,
            ocr_results,
            self.parse_fn,
        )
        ((parsed, crops),) = self._get(ray, [ref])
        # The crops land in this machine's data directory, where the writer serves them from.
        for relative, data in crops.items():
            target = crops_dir.parent / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        progress(parsed.pages, parsed.pages)
        return parsed

    def describe(self, elements: list[Element], progress: CountProgress) -> list[Element]:
        if not can_describe_in_workers(self.settings.describe):
            # A VLM loaded in this process (or an API client) describes here, as the local executor does.
            from paperlens.ingest.describe import describe_elements

            assert self.describer is not None
            return describe_elements(
                elements,
                self.settings.data_dir,
                self.describer,
                self.settings.cache_dir / "describe",
                progress,
            )
        visuals = [e for e in elements if e.is_visual and e.crop_path]
        if not visuals:
            return elements
        ray = self._ray()
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) - len(self._actors))
        shares = shares_of(visuals, cpus)
        data_dir = self.settings.data_dir
        settings_json = _describe_settings(self.settings.describe)
        refs = [
            self._remote["describe"].remote(
                share, {e.crop_path: (data_dir / e.crop_path).read_bytes() for e in share}, settings_json
            )
            for share in shares
        ]
        sizes = [len(s) for s in shares]
        described: dict[str, Element] = {}
        for part in self._get(ray, refs, lambda n: progress(sum(sizes[:n]), len(visuals))):
            described.update((e.id, e) for e in part)
        return [described.get(e.id, e) for e in elements]

    def embed(self, texts: Sequence[str], progress: Callable[[float], None]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        ray = self._ray()
        step = max(self.settings.embed.batch_size * 4, 64)
        refs = []
        for start in range(0, len(texts), step):
            with self._lock:
                actor = self._actors[self._next_actor % len(self._actors)]
                self._next_actor += 1
            refs.append(actor.embed.remote(list(texts[start : start + step])))
        parts = self._get(ray, refs, lambda n: progress(n / len(refs)))
        return np.concatenate(parts).astype(np.float32)


def _unwrap(value: Any) -> Any:
    """A task's ("ok", value) or the typed error it reported; actors return their values as they are."""
    if isinstance(value, tuple) and value and value[0] == "ok":
        return value[1]
    if isinstance(value, tuple) and value and value[0] == "error":
        _, name, message, code = value
        raise errors.error_class_named(name, errors.ParseFailedError)(message, code=code)
    return value


def _describe_settings(settings: DescribeSettings) -> str:
    return settings.model_dump_json()


def _import_roots() -> list[str]:
    """Where this process imports paperlens from, followed by any PYTHONPATH it was given."""
    import paperlens

    root = str(Path(paperlens.__file__).resolve().parent.parent)
    extra = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    return list(dict.fromkeys([root, *extra]))
