"""Served embeddings, rerank and figure descriptions over real HTTP against the protocol stand-in
(tests/openai_standin.py): the request shapes the servers document, batching and prefixes, the dimension read
off the first reply and kept in the index identity, and failures as typed errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from openai_standin import EMBED_MODEL, RERANK_MODEL, Fault, OpenAIStandIn, hashed_vector
from PIL import Image

from paperlens.config import DescribeSettings, EmbedSettings, RerankSettings, load_settings
from paperlens.errors import (
    IndexMismatchError,
    ModelServerBadReplyError,
    ModelServerTimeoutError,
    ModelServerUnavailableError,
)
from paperlens.index.embed import build_embedder
from paperlens.index.embed.openai import OpenAIEmbedder
from paperlens.ingest.describe import DescribeRequest, build_describer
from paperlens.ingest.describe.openai import OpenAIDescriber
from paperlens.ingest.describe.prompts import instruction_for
from paperlens.models import Element, ElementKind
from paperlens.retrieve.rerank import build_reranker
from paperlens.retrieve.rerank.http import HttpReranker

EMBEDDINGS = "/v1/embeddings"
CHAT = "/v1/chat/completions"


@pytest.fixture
def standin():
    server = OpenAIStandIn()
    yield server
    server.close()


def _embedder(standin: OpenAIStandIn, **openai) -> OpenAIEmbedder:
    options = {"base_url": standin.base_url} | openai
    embedder = build_embedder(
        EmbedSettings(backend="openai", model=EMBED_MODEL, batch_size=2, openai=options)
    )
    assert isinstance(embedder, OpenAIEmbedder)
    return embedder


# -- embeddings ---------------------------------------------------------------------------------------------
def test_passages_are_batched_prefixed_and_normalised(standin):
    embedder = _embedder(standin, query_prefix="query: ", passage_prefix="passage: ")
    texts = [
        "SciBERT is trained on papers",
        "BERT has 24 layers",
        "tables of results",
        "a fourth text",
        "fifth",
    ]
    vectors = embedder.embed_passages(texts)

    sent = [r["body"] for r in standin.requests_to(EMBEDDINGS)]
    assert [b["input"] for b in sent] == [
        ["passage: SciBERT is trained on papers", "passage: BERT has 24 layers"],
        ["passage: tables of results", "passage: a fourth text"],
        ["passage: fifth"],
    ]  # batch_size 2: three requests, in order
    assert all(b["model"] == EMBED_MODEL and b["encoding_format"] == "float" for b in sent)
    assert vectors.shape == (5, 48) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[1], hashed_vector("passage: BERT has 24 layers"), atol=1e-6)

    query = embedder.embed_query("How many layers has BERT?")
    assert standin.requests_to(EMBEDDINGS)[-1]["body"]["input"] == ["query: How many layers has BERT?"]
    assert int(np.argmax(vectors @ query)) == 1


def test_the_dimension_is_read_off_the_first_reply(standin):
    embedder = _embedder(standin)
    assert standin.requests_to(EMBEDDINGS) == []  # nothing asked before it is needed
    assert embedder.dim == 48
    assert len(standin.requests_to(EMBEDDINGS)) == 1
    embedder.embed_passages(["one", "two"])
    assert embedder.dim == 48 and len(standin.requests_to(EMBEDDINGS)) == 2  # no second probe


def test_a_changed_served_model_refuses_to_open_the_old_index(tmp_path):
    first, second = OpenAIStandIn(dim=48), OpenAIStandIn(dim=32)
    try:
        from paperlens.engine import Engine

        def settings(server: OpenAIStandIn):
            return load_settings(
                data_dir=tmp_path,
                describe={"backend": "none"},
                embed={"backend": "openai", "model": EMBED_MODEL, "openai": {"base_url": server.base_url}},
            )

        engine = Engine(settings(first))
        assert engine.identity() == {"embedder": "openai", "model": EMBED_MODEL, "dim": 48}
        engine.close()
        # Same model name, other server, other size: the stored vectors cannot be searched with it.
        with pytest.raises(IndexMismatchError, match='"dim": 32'):
            Engine(settings(second))
    finally:
        first.close()
        second.close()


def test_an_index_of_a_served_model_opens_while_its_server_is_down(tmp_path):
    from paperlens.engine import Engine

    server = OpenAIStandIn()
    settings = load_settings(
        data_dir=tmp_path,
        describe={"backend": "none"},
        embed={
            "backend": "openai",
            "model": EMBED_MODEL,
            "openai": {"base_url": server.base_url, "max_retries": 0},
        },
    )
    Engine(settings).close()
    server.close()
    engine = Engine(
        settings
    )  # the recorded dimension, not a probe: the service can start and say what is down
    try:
        assert engine.identity()["dim"] == 48
        assert engine.health()["backends"]["embed"]["models_answered"] is False
        with pytest.raises(ModelServerUnavailableError):
            engine.search("anything")
    finally:
        engine.close()


def test_embedding_failures_are_typed(standin):
    embedder = _embedder(standin, max_retries=0, timeout_s=0.5)
    standin.fail(EMBEDDINGS, Fault(status=500))
    with pytest.raises(ModelServerUnavailableError):
        embedder.embed_query("x")
    standin.fail(EMBEDDINGS, Fault(malformed=True))
    with pytest.raises(ModelServerBadReplyError):
        embedder.embed_query("x")
    standin.fail(EMBEDDINGS, Fault(delay_s=1.5))
    with pytest.raises(ModelServerTimeoutError):
        embedder.embed_query("x")


def test_an_embedding_429_is_retried_honouring_retry_after(standin):
    embedder = _embedder(standin, max_retries=2)
    standin.fail(EMBEDDINGS, Fault(status=429, headers={"Retry-After": "1"}))
    assert embedder.embed_query("retried").shape == (48,)
    first, second = standin.requests_to(EMBEDDINGS)
    assert second["at"] - first["at"] >= 0.9


# -- rerank -------------------------------------------------------------------------------------------------
TEXTS = ["nothing relevant here", "SciBERT is trained on Semantic Scholar papers", "papers"]


def test_tei_shape_query_and_texts_in_scores_out_in_input_order(standin):
    reranker = build_reranker(RerankSettings(backend="http", http={"base_url": standin.url}))
    assert isinstance(reranker, HttpReranker)
    scores = reranker.rerank("What is SciBERT trained on? papers", TEXTS)
    (sent,) = standin.requests_to("/rerank")
    assert sent["body"] == {"query": "What is SciBERT trained on? papers", "texts": TEXTS, "truncate": True}
    # The server answers best first; the scores come back in the order the texts were given.
    assert scores[1] > scores[2] > scores[0]
    assert reranker.rerank("q", []) == [] and len(standin.requests_to("/rerank")) == 1


def test_cohere_shape_for_infinity_and_vllm(standin):
    settings = RerankSettings(
        backend="http", model=RERANK_MODEL, http={"base_url": standin.url, "api": "cohere"}
    )
    scores = build_reranker(settings).rerank("SciBERT papers", TEXTS)
    (sent,) = standin.requests_to("/rerank")
    assert sent["body"] == {"model": RERANK_MODEL, "query": "SciBERT papers", "documents": TEXTS, "top_n": 3}
    assert scores[1] > scores[0]


def test_rerank_retries_then_fails_typed(standin):
    reranker = HttpReranker("", base_url=standin.url, max_retries=1, timeout_s=0.5)
    standin.fail("/rerank", Fault(status=429, headers={"Retry-After": "1"}))
    assert len(reranker.rerank("papers", TEXTS)) == 3
    first, second = standin.requests_to("/rerank")
    assert second["at"] - first["at"] >= 0.9
    standin.fail("/rerank", Fault(status=503), Fault(status=503))
    with pytest.raises(ModelServerUnavailableError, match="HTTP 503"):
        reranker.rerank("papers", TEXTS)
    standin.fail("/rerank", Fault(malformed=True))
    with pytest.raises(ModelServerBadReplyError):
        reranker.rerank("papers", TEXTS)
    standin.fail("/rerank", Fault(delay_s=1.5), Fault(delay_s=1.5))
    with pytest.raises(ModelServerTimeoutError):
        reranker.rerank("papers", TEXTS)
    standin.close()
    with pytest.raises(ModelServerUnavailableError):
        reranker.rerank("papers", TEXTS)


# -- describe -----------------------------------------------------------------------------------------------
TABLE_ANSWER = json.dumps(
    {
        "kind": "table",
        "summary": "Ablation of the retriever.",
        "markdown": "| setting | recall@5 |\n|---|---|\n| hybrid | 0.81 |",
        "values": ["hybrid recall@5: 0.81"],
    }
)


@pytest.fixture
def crop(tmp_path) -> Path:
    path = tmp_path / "table.png"
    Image.new("RGB", (60, 40), "white").save(path)
    return path


def _request(crop: Path) -> DescribeRequest:
    element = Element(
        id="d-0001-002",
        document_id="d",
        page=1,
        bbox=(0, 0, 10, 10),
        kind=ElementKind.TABLE,
        caption="Table 3",
    )
    return DescribeRequest(element=element, image_path=crop, context="Table 3: retriever ablation")


def _describer(standin: OpenAIStandIn, **overrides) -> OpenAIDescriber:
    options = {"backend": "openai", "model": "Qwen/Qwen2.5-VL-7B-Instruct", "base_url": standin.base_url}
    describer = build_describer(DescribeSettings(**(options | overrides)))
    assert isinstance(describer, OpenAIDescriber)
    return describer


def test_a_crop_goes_as_a_data_url_with_today_s_prompt_and_the_json_is_parsed(standin, crop):
    standin.replies = ["```json\n" + TABLE_ANSWER + "\n```"]
    (description,) = _describer(standin, max_new_tokens=300).describe([_request(crop)])
    assert description.structured and description.markdown.splitlines()[2] == "| hybrid | 0.81 |"
    assert "Ablation of the retriever." in description.text

    (sent,) = standin.requests_to(CHAT)
    body = sent["body"]
    assert body["model"] == "Qwen/Qwen2.5-VL-7B-Instruct" and body["max_tokens"] == 300
    assert "response_format" not in body  # json_mode is off by default: not every server takes it
    image, text = body["messages"][0]["content"]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png;base64,")
    assert base64.b64decode(image["image_url"]["url"].split(",", 1)[1]) == crop.read_bytes()
    assert text == {"type": "text", "text": instruction_for("table", "Table 3: retriever ablation")}


def test_prose_is_asked_again_once_with_the_stricter_reminder(standin, crop):
    standin.replies = ["This table shows an ablation.", TABLE_ANSWER]
    (description,) = _describer(standin, openai={"json_mode": True}).describe([_request(crop)])
    assert description.structured
    first, second = standin.requests_to(CHAT)
    assert first["body"]["response_format"] == {"type": "json_object"}
    assert "not valid JSON" in second["body"]["messages"][0]["content"][1]["text"]


def test_several_crops_are_described_in_order_concurrently(standin, crop):
    requests = [_request(crop) for _ in range(3)]
    for n, request in enumerate(requests):
        request.context = f"Table {n}: ablation number {n}"
    descriptions = _describer(standin, batch_size=3).describe(requests)
    assert len(standin.requests_to(CHAT)) == 3
    # The stand-in echoes each crop's context: every description belongs to its own request.
    assert [d.structured for d in descriptions] == [True] * 3
    assert [f"ablation number {n}" in d.summary for n, d in enumerate(descriptions)] == [True] * 3


def test_a_describe_server_that_fails_is_a_typed_error(standin, crop):
    describer = _describer(standin, max_attempts=1, timeout_s=0.5)
    standin.fail(CHAT, Fault(status=500))
    with pytest.raises(ModelServerUnavailableError):
        describer.describe([_request(crop)])
    standin.fail(CHAT, Fault(delay_s=1.5))
    with pytest.raises(ModelServerTimeoutError):
        describer.describe([_request(crop)])
