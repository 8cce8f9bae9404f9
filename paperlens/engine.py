"""The Engine: the one object the service, the CLI and the benchmark share.

It owns the store, the vector index and the models (loaded once, here), and runs the ingestion pipeline:
parse (isolated process) -> describe visuals -> chunk -> embed -> one SQLite transaction -> FAISS.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from paperlens import __version__
from paperlens.config import Settings
from paperlens.errors import EmptyUploadError, IndexMismatchError, NotAPdfError
from paperlens.generate import build_generator
from paperlens.generate.citations import build_answer
from paperlens.index.embed import build_embedder
from paperlens.index.store import Store
from paperlens.index.vectors import VectorIndex
from paperlens.ingest.chunk import chunk_elements
from paperlens.ingest.isolate import parse_pdf_isolated
from paperlens.ingest.parse import PARSER_VERSION
from paperlens.models import Answer, Document, ElementKind, Hit, document_id_for
from paperlens.retrieve.search import Filters, Retriever

log = logging.getLogger(__name__)

#: progress(stage, fraction of the whole job in 0..1)
StageProgress = Callable[[str, float], None]

# Share of a job's progress bar each stage takes (parsing dominates on real papers).
_STAGES = {"parse": (0.0, 0.6), "describe": (0.6, 0.8), "embed": (0.8, 0.97), "index": (0.97, 1.0)}


@dataclass
class IngestResult:
    document_id: str
    created: bool
    pages: int
    title: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def check_pdf_bytes(head: bytes) -> None:
    """Cheap checks before any parsing: empty file, and the PDF magic number in the first KiB."""
    if not head:
        raise EmptyUploadError("the file is empty")
    if b"%PDF-" not in head[:1024]:
        raise NotAPdfError("the file is not a PDF (no %PDF- header)")


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.db_path)
        self.embedder = build_embedder(settings.embed)
        self._check_identity()
        self.vectors = VectorIndex(settings.vectors_dir / "text.faiss", self.embedder.dim)
        state = self.vectors.load_or_rebuild(self.store.chunk_ids(), self.store.iter_vectors())
        if state == "rebuilt":
            log.warning("text vectors rebuilt from the store (%d vectors)", self.vectors.ntotal)
        self.retriever = Retriever(
            store=self.store,
            vectors=self.vectors,
            embedder=self.embedder,
            settings=settings.retrieve,
            rerank_settings=settings.rerank,
        )
        self.generator = build_generator(settings.generate, self.embedder)
        self.describer = self._build_describer()
        # One writer at a time: ingestion commits and deletions are serialised; searches never wait on parsing.
        self._write_lock = threading.Lock()

    # -- set-up ----------------------------------------------------------------------------------------
    def identity(self) -> dict:
        return {
            "embedder": self.embedder.name,
            "model": self.embedder.model,
            "dim": self.embedder.dim,
        }

    def _check_identity(self) -> None:
        stored = self.store.get_meta("index_identity")
        current = self.identity()
        if stored is None:
            self.store.set_meta("index_identity", json.dumps(current, sort_keys=True))
            return
        if json.loads(stored) != current:
            raise IndexMismatchError(
                f"the index in {self.settings.data_dir} was built with {stored}, but the configured embedder is"
                f" {json.dumps(current, sort_keys=True)}. Use the same embedder, or a new data directory."
            )

    def _build_describer(self):
        if self.settings.describe.backend == "none":
            return None
        try:
            from paperlens.ingest.describe import build_describer
        except ImportError:  # describe backends not present in this build
            return None
        return build_describer(self.settings.describe)

    def close(self) -> None:
        self.store.close()

    # -- ingestion -------------------------------------------------------------------------------------
    def ingest_path(
        self,
        path: Path,
        progress: StageProgress | None = None,
        collection: str = "default",
        filename: str | None = None,
    ) -> IngestResult:
        """Ingest one PDF file. Re-ingesting the same bytes is a no-op (``created=False``)."""
        data = Path(path).read_bytes()
        check_pdf_bytes(data[:1024])
        document_id = document_id_for(data)
        name = filename or Path(path).name
        if self.store.has_document(document_id):
            doc = self.store.get_document(document_id)
            return IngestResult(
                document_id, False, doc.pages, doc.title, self.store.element_counts(document_id)
            )
        return self._ingest(Path(path), document_id, name, len(data), collection, progress)

    def _ingest(
        self,
        path: Path,
        document_id: str,
        filename: str,
        size: int,
        collection: str,
        progress: StageProgress | None,
    ) -> IngestResult:
        started = time.perf_counter()

        def report(stage: str, fraction: float) -> None:
            if progress:
                lo, hi = _STAGES[stage]
                progress(stage, lo + (hi - lo) * max(0.0, min(1.0, fraction)))

        report("parse", 0.0)
        crops_dir = self.settings.crops_dir
        try:
            parsed = parse_pdf_isolated(
                path,
                document_id,
                crops_dir,
                self.settings.ingest,
                progress=lambda done, total: report("parse", done / max(total, 1)),
                fallback_title=Path(filename).stem,
            )
            elements = parsed.elements
            if self.describer is not None:
                from paperlens.ingest.describe import describe_elements

                report("describe", 0.0)
                elements = describe_elements(
                    elements,
                    self.settings.data_dir,
                    self.describer,
                    self.settings.cache_dir / "describe",
                    progress=lambda done, total: report("describe", done / max(total, 1)),
                )
            chunks = chunk_elements(elements, self.settings.chunk)
            report("embed", 0.0)
            vectors = self._embed_chunks([c.text for c in chunks], lambda f: report("embed", f))
            report("index", 0.0)
            document = Document(
                id=document_id,
                title=parsed.title,
                pages=parsed.pages,
                filename=filename,
                size_bytes=size,
                collection=collection,
                created_at=time.time(),
            )
            with self._write_lock:
                if self.store.has_document(document_id):  # a concurrent ingest of the same bytes won
                    return IngestResult(document_id, False, parsed.pages, parsed.title)
                self._keep_original(path, document_id)
                ids = self.store.add_document(document, elements, chunks, vectors)
                self.vectors.add(ids, vectors)
                self.vectors.save()
        except BaseException:
            if not self.store.has_document(document_id):
                shutil.rmtree(crops_dir / document_id, ignore_errors=True)
            raise
        report("index", 1.0)
        counts: dict[str, int] = {}
        for element in elements:
            counts[element.kind.value] = counts.get(element.kind.value, 0) + 1
        counts["chunks"] = len(chunks)
        return IngestResult(
            document_id, True, parsed.pages, parsed.title, counts, seconds=time.perf_counter() - started
        )

    def _keep_original(self, path: Path, document_id: str) -> None:
        """Keep the PDF (under a generated name) so pages can be rendered for citations later."""
        dest = self.settings.uploads_dir / f"{document_id}.pdf"
        if dest.exists() or path.resolve() == dest.resolve():
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".pdf.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)

    def _embed_chunks(self, texts: Sequence[str], progress: Callable[[float], None]):
        import numpy as np

        batch = max(self.settings.embed.batch_size * 4, 64)
        parts = []
        for start in range(0, len(texts), batch):
            parts.append(self.embedder.embed_passages(texts[start : start + batch]))
            progress(min(1.0, (start + batch) / max(len(texts), 1)))
        if not parts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.concatenate(parts)

    def delete_document(self, document_id: str) -> None:
        """Remove a document from the store, the keyword index, the vectors and the crops."""
        with self._write_lock:
            ids = self.store.delete_document(document_id)
            self.vectors.remove(ids)
            self.vectors.save()
        shutil.rmtree(self.settings.crops_dir / document_id, ignore_errors=True)
        upload = self.settings.uploads_dir / f"{document_id}.pdf"
        upload.unlink(missing_ok=True)

    # -- reading ---------------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        document_ids: Sequence[str] | None = None,
        kinds: Sequence[ElementKind | str] | None = None,
        pages: tuple[int, int] | None = None,
        collections: Sequence[str] | None = None,
    ) -> list[Hit]:
        filters = Filters(
            document_ids=list(document_ids) if document_ids is not None else None,
            kinds=[str(k_) for k_ in kinds] if kinds is not None else None,
            pages=pages,
            collections=list(collections) if collections is not None else None,
        )
        return self.retriever.retrieve(query, k=k, filters=filters)

    def ask(
        self,
        question: str,
        k: int | None = None,
        document_ids: Sequence[str] | None = None,
        collections: Sequence[str] | None = None,
    ) -> Answer:
        evidence = self.search(question, k=k, document_ids=document_ids, collections=collections)
        text = self.generator.generate(question, evidence)
        return build_answer(text, evidence, backend=self.generator.name)

    def health(self) -> dict:
        ingest = self.settings.ingest
        backends = {
            "embed": {"name": self.embedder.name, "model": self.embedder.model, "active": True},
            "keyword": {"name": "sqlite-fts5", "model": "bm25", "active": True},
            "image_embed": {
                "name": "open_clip",
                "model": self.settings.image_embed.model,
                "active": False,
                "reason": "disabled in config (no CLIP weights ship offline)",
            },
            "layout": {"name": ingest.layout, "model": f"parser v{PARSER_VERSION}", "active": True},
            "ocr": {"name": "rapidocr-onnxruntime", "model": "PP-OCR (bundled)", "active": ingest.ocr},
            "describe": {
                "name": self.settings.describe.backend,
                "model": getattr(self.describer, "model", "") if self.describer else "",
                "active": self.describer is not None,
            },
            "rerank": {
                "name": self.settings.rerank.backend,
                "model": self.settings.rerank.model,
                "active": self.retriever.reranker is not None,
            },
            "generate": {"name": self.generator.name, "model": self.generator.model, "active": True},
        }
        return {
            "status": "ok",
            "version": __version__,
            "documents": len(self.store.list_documents()),
            "chunks": self.store.chunk_count(),
            "vectors": self.vectors.ntotal,
            "backends": backends,
        }
