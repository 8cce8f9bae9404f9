"""Run the real app under uvicorn on 127.0.0.1 in a background thread, for tests that speak real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from paperlens.config import Settings


def upload(client: httpx.Client, data: bytes, name: str = "paper.pdf", **kwargs) -> httpx.Response:
    """POST a PDF's bytes to /v1/documents."""
    return client.post("/v1/documents", files={"file": (name, data, "application/pdf")}, **kwargs)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: object

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kwargs)

    def wait_for_job(self, client: httpx.Client, job_id: str, timeout: float = 180.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed"):
                return job
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} did not finish in {timeout} s")

    def upload(self, pdf: Path) -> dict:
        """POST ``pdf`` to /v1/documents and wait for its job; the finished job."""
        with self.client() as client:
            r = upload(client, pdf.read_bytes(), pdf.name)
            assert r.status_code == 202, r.text
            return self.wait_for_job(client, r.json()["job_id"])


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    import uvicorn

    from paperlens.service.app import create_app

    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, app)
    finally:
        server.should_exit = True
        thread.join(30)
