"""The ``Store`` protocol: everything paperlens keeps, behind one interface with two implementations.

- ``embedded`` (the default, one machine): SQLite rows + FTS5 + jobs in one file, FAISS vector files, blobs as
  files, all under the data directory (``paperlens.index.store.embedded``).
- ``postgres`` (several API replicas): rows, pgvector vectors, full text, jobs and blobs in one PostgreSQL
  database (``paperlens.index.store.postgres``).

The protocol is split the way the data is: rows (documents, elements, chunks), keyword search, vectors, jobs
and blobs. A document and everything it owns (elements, chunks, vectors, keyword rows, and on Postgres its
crops and original PDF) are written by ONE call in ONE transaction, so no reader ever sees half a document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np

from paperlens.models import Chunk, Document, Element

if TYPE_CHECKING:
    from paperlens.config import RetrieveSettings

#: (chunk id, score), higher = better.
Ranked = list[tuple[int, float]]
JobStatus = Literal["queued", "running", "succeeded", "failed"]


def upload_key(document_id: str) -> str:
    """The blob key of a document's original PDF (its path relative to the data directory)."""
    return f"uploads/{document_id}.pdf"


@dataclass(frozen=True)
class Job:
    id: str
    document_id: str
    status: str
    stage: str
    progress: float
    error_code: str | None
    error_message: str | None
    upload_path: str
    filename: str
    collection: str
    attempts: int
    created_at: float
    updated_at: float
    timings: str | None = None  # JSON {stage: seconds} of the ingestion
    # When the document's text became searchable (its write committed), and when every deferred stage (the
    # visuals' descriptions, the multilingual vectors) was done too. Both None until then; equal when nothing
    # was deferred. Statuses, in order: queued, running, searchable (stored, its deferred stages waiting for a
    # worker with nothing more urgent), enriching (a worker runs them), succeeded; or failed.
    searchable_at: float | None = None
    finished_at: float | None = None


class VectorSearch(Protocol):
    """Nearest chunks by inner product (= cosine on normalised vectors); ids = chunk ids.

    FAISS (``index/vectors.py``) is a derived view the engine keeps in step with the rows; pgvector is the
    rows themselves, so there ``add``/``remove``/``save`` have nothing left to do."""

    @property
    def ntotal(self) -> int: ...

    @property
    def kind(self) -> str: ...

    def load_or_rebuild(
        self, expected_ids: np.ndarray, batches: Iterable[tuple[np.ndarray, np.ndarray]]
    ) -> str: ...

    def add(self, ids: Iterable[int], vectors: np.ndarray | Sequence[np.ndarray]) -> None: ...

    def remove(self, ids: Iterable[int]) -> int: ...

    def save(self) -> None: ...

    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> Ranked: ...


class DocumentRows(Protocol):
    """Documents, their elements and chunks (with the chunks' stored vectors), and index metadata."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def has_document(self, document_id: str) -> bool: ...

    def add_document(
        self,
        document: Document,
        elements: Sequence[Element],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        image_vectors: Mapping[int, np.ndarray] | None = None,
    ) -> list[int]: ...

    def revise_document(
        self,
        document_id: str,
        elements: Sequence[Element],
        changed: Mapping[int, tuple[str, np.ndarray]],
        added: Sequence[Chunk],
        added_vectors: np.ndarray,
    ) -> list[int]:
        """A deferred stage's additions to a stored document, in one transaction: ``elements`` replace the
        stored ones with their ids, ``changed`` sets chunks' text and vector (keyword index included), ``added``
        chunks are inserted; returns their ids. NotFoundError when the document is gone."""
        ...

    def delete_document(self, document_id: str) -> list[int]: ...

    def get_document(self, document_id: str) -> Document: ...

    def list_documents(self, collections: Iterable[str] | None = None) -> list[Document]: ...

    def element_counts(self, document_id: str) -> dict[str, int]: ...

    def titles(self, document_ids: Iterable[str]) -> dict[str, str]: ...

    def get_element(self, element_id: str) -> Element: ...

    def list_elements(
        self, document_id: str, kind: str | None = None, page: int | None = None
    ) -> list[Element]: ...

    def chunk_count(self) -> int: ...

    def chunk_ids(self) -> np.ndarray: ...

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def iter_chunk_texts(self, batch: int = 256) -> Iterator[tuple[np.ndarray, list[str]]]: ...

    def replace_vectors(self, ids: np.ndarray, vectors: np.ndarray, meta: Mapping[str, str]) -> None: ...

    def image_vector_ids(self) -> np.ndarray: ...

    def iter_image_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def visual_chunks_without_image_vectors(self) -> list[tuple[int, str]]: ...

    def add_image_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...

    def clear_image_vectors(self) -> None: ...

    def filtered_chunk_ids(
        self,
        document_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        pages: tuple[int, int] | None = None,
        collections: Sequence[str] | None = None,
    ) -> np.ndarray: ...

    def get_chunks(self, ids: Sequence[int]) -> dict[int, Chunk]: ...


class KeywordSearch(Protocol):
    def keyword_search(
        self,
        query: str,
        limit: int,
        document_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        pages: tuple[int, int] | None = None,
        collections: Sequence[str] | None = None,
    ) -> Ranked:
        """Chunks ranked by keyword match (BM25: FTS5's, or written in SQL on Postgres); higher score = better."""
        ...


class JobQueue(Protocol):
    """Ingestion jobs. ``claim_job`` hands each queued job to exactly one worker; on Postgres a claim is a
    lease that the worker renews (``renew_lease``) and that another replica takes over once it runs out."""

    def create_job(
        self, job_id: str, document_id: str, upload_path: str, filename: str, collection: str
    ) -> Job: ...

    def get_job(self, job_id: str) -> Job: ...

    def latest_job_for(self, document_id: str) -> Job | None: ...

    def active_job_for(self, document_id: str) -> Job | None: ...

    def update_job(self, job_id: str, **fields: object) -> None: ...

    def claim_job(self, worker: str, lease_s: float, max_attempts: int) -> Job | None: ...

    def claim_enrichment(self, worker: str, lease_s: float) -> Job | None:
        """The oldest ``searchable`` job (or, on a shared store, an ``enriching`` one whose lease ran out), now
        ``enriching`` and this worker's; None when there is none."""
        ...

    def renew_lease(self, job_id: str, worker: str, lease_s: float) -> bool: ...

    def list_jobs(self, statuses: Sequence[str]) -> list[Job]: ...

    def count_jobs(self, statuses: Sequence[str]) -> int: ...

    def requeue_interrupted_jobs(self, max_attempts: int) -> int: ...


class BlobStore(Protocol):
    """Crops and original PDFs, keyed by their path relative to the data directory
    (``crops/<document>/<element>.png``, ``uploads/<document>.pdf``)."""

    def put_blob(self, key: str, document_id: str, source: Path) -> None: ...

    def read_blob(self, key: str) -> bytes: ...

    def blob_path(self, key: str) -> Path | None:
        """A local file holding the blob (fetched into the data directory when it lives elsewhere)."""
        ...

    def delete_blob(self, key: str) -> None: ...


class DerivedVectors(Protocol):
    """Vectors of the chunks made by a second embedder (the multilingual index), with the identity of the model
    that made them: derived data, kept where every reader of the store finds it (a file beside the embedded
    store; a table of the shared one, so a replica searches what another one embedded)."""

    def identity(self) -> str | None: ...

    def reset(self, identity: str) -> None:
        """Forget every vector; the ones to come are ``identity``'s."""
        ...

    def ids(self) -> np.ndarray: ...

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def present(self, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` have a vector."""
        ...

    def insert(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...

    def delete(self, ids: Iterable[int]) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Store(DocumentRows, KeywordSearch, JobQueue, BlobStore, Protocol):
    #: "embedded" or "postgres" (shown in /v1/health)
    backend: str
    #: whether several processes may share it (jobs are leased, vectors live in the store)
    shared: bool

    def vector_index(self, name: str, dim: int, retrieve: RetrieveSettings) -> VectorSearch:
        """The vector search over ``name`` ("text": chunk vectors, "image": CLIP vectors of crops)."""
        ...

    def derived_vectors(
        self, name: str, dim: int, retrieve: RetrieveSettings
    ) -> tuple[DerivedVectors, VectorSearch]:
        """The ``name`` vectors made by a second embedder ("multilingual"), and the search over them."""
        ...

    def ping(self) -> None:
        """Raise ``StoreUnavailableError`` when the store cannot be reached."""
        ...

    def describe(self) -> dict[str, object]:
        """What /v1/health shows about the store (backend, reachable, ...)."""
        ...

    def close(self) -> None: ...
