"""Run ``paperlens serve`` as a real child process (so a test can ``kill -9`` it) against a shared store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from live_server import free_port

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Replica:
    name: str
    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 240.0) -> Replica:
        self.log = self.data_dir.parent / f"{self.name}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "PAPERLENS_DATA_DIR": str(self.data_dir)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "paperlens.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica {self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"replica {self.name} did not come up: {self.log.read_text()[-3000:]}")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120)

    def kill(self) -> None:
        """``kill -9``: no shutdown hook runs, the lease is simply no longer renewed."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def replica_env(store_url: str, lease_s: float = 3.0) -> dict[str, str]:
    return {
        "PAPERLENS_STORE__BACKEND": "postgres",
        "PAPERLENS_STORE__URL": store_url,
        "PAPERLENS_STORE__JOB_LEASE_S": str(lease_s),
        "PAPERLENS_DESCRIBE__BACKEND": "none",  # keeps each replica's start and each ingest short
    }


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.3)
    raise TimeoutError(f"job {job_id} did not finish in {timeout} s")
