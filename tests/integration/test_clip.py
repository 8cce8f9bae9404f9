"""CLIP backend end to end on a tiny open_clip model trained in the test: weights saved as a checkpoint and as a
local-dir folder, loaded through the backend's real loading path, crops cut from a real PDF page embedded into a
real FAISS index, and text and image queries that must come back with the right crop."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from tiny_clip import TINY_CLIP_NAME, draw_pattern, shared_tiny_clip

from paperlens.config import ImageEmbedSettings
from paperlens.errors import BackendUnavailableError, BadInputError
from paperlens.index.embed.base import ImageEmbedder
from paperlens.index.embed.clip import build_image_embedder, resolve_source


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return shared_tiny_clip(tmp_path_factory, steps=80, seed=0)


@pytest.fixture(scope="module")
def from_checkpoint(tiny_clip) -> ImageEmbedder:
    settings = ImageEmbedSettings(
        enabled=True,
        model=TINY_CLIP_NAME,
        pretrained=str(tiny_clip.checkpoint),
        config_path=tiny_clip.config_json,
        batch_size=3,  # smaller than the crop count, so batching is exercised
    )
    return build_image_embedder(settings)


@pytest.fixture(scope="module")
def page_crops(tiny_clip, tmp_path_factory) -> list[Path]:
    """One PDF page with the four patterns placed as figures, cut out again as PNG crops the way ingestion
    renders them (page.get_pixmap with a clip rectangle)."""
    import pymupdf

    folder = tmp_path_factory.mktemp("crops")
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    # Four figure boxes in a 2 x 2 grid, each 220 x 170 points.
    rects = [pymupdf.Rect(0, 0, 220, 170) + (60 + 250 * (i % 2), 80 + 300 * (i // 2)) * 2 for i in range(4)]
    for caption, rect in zip(tiny_clip.captions, rects, strict=True):
        buffer = io.BytesIO()
        draw_pattern(caption, 220, 170, shift=2).save(buffer, format="PNG")
        page.insert_image(rect, stream=buffer.getvalue())
        page.insert_text((rect.x0, rect.y1 + 14), f"Figure: {caption}", fontsize=9)
    paths = []
    for i, rect in enumerate(rects):
        path = folder / f"crop_{i}.png"
        page.get_pixmap(clip=rect, dpi=72).save(path)
        paths.append(path)
    doc.close()
    return paths


@pytest.mark.slow
def test_checkpoint_and_local_dir_load_the_trained_weights(tiny_clip, from_checkpoint, page_crops):
    import torch

    from_folder = build_image_embedder(
        ImageEmbedSettings(enabled=True, pretrained=f"local-dir:{tiny_clip.local_dir}", batch_size=8)
    )
    assert isinstance(from_checkpoint, ImageEmbedder) and isinstance(from_folder, ImageEmbedder)
    assert from_checkpoint.dim == from_folder.dim == 32
    assert str(tiny_clip.checkpoint) in from_checkpoint.model
    assert str(tiny_clip.local_dir) in from_folder.model

    vectors = from_checkpoint.embed_images(page_crops)
    assert vectors.shape == (4, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(from_folder.embed_images(page_crops), vectors, atol=1e-5)

    # The loaded weights are the trained ones, not a fresh random model: same vectors as the model in memory.
    from PIL import Image

    with torch.no_grad():
        expected = tiny_clip.model.encode_image(
            torch.stack([tiny_clip.preprocess(Image.open(p).convert("RGB")) for p in page_crops])
        )
        expected_text = tiny_clip.model.encode_text(tiny_clip.tokenizer(tiny_clip.captions))
    expected = expected.numpy() / np.linalg.norm(expected.numpy(), axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    texts = from_folder.embed_texts(tiny_clip.captions)
    expected_text = expected_text.numpy() / np.linalg.norm(expected_text.numpy(), axis=1, keepdims=True)
    np.testing.assert_allclose(texts, expected_text, atol=1e-5)

    assert from_checkpoint.embed_images([]).shape == (0, 32)
    assert from_checkpoint.embed_texts([]).shape == (0, 32)


@pytest.mark.slow
def test_text_and_image_queries_find_the_right_crop_in_faiss(tiny_clip, from_checkpoint, page_crops):
    import faiss

    crop_ids = np.array([101, 202, 303, 404], dtype=np.int64)  # chunk ids, as the image index keys them
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(from_checkpoint.dim))
    index.add_with_ids(from_checkpoint.embed_images(page_crops), crop_ids)

    # Text queries through the CLIP text tower.
    _, found = index.search(from_checkpoint.embed_texts(tiny_clip.captions), 1)
    assert found[:, 0].tolist() == crop_ids.tolist()

    # Image queries: a differently sized, shifted, noisy rendering of each pattern, uploaded as PNG bytes.
    uploads = []
    for n, caption in enumerate(tiny_clip.captions):
        buffer = io.BytesIO()
        draw_pattern(caption, 140, 100, shift=5, noise=12.0, seed=n).save(buffer, format="PNG")
        uploads.append(buffer.getvalue())
    scores, found = index.search(from_checkpoint.embed_images(uploads), 2)
    assert found[:, 0].tolist() == crop_ids.tolist()
    assert np.all(scores[:, 0] > scores[:, 1])

    # Removing a crop by id removes it from the answers.
    index.remove_ids(np.array([303], dtype=np.int64))
    _, found = index.search(from_checkpoint.embed_texts(["a green checkerboard"]), 3)
    assert 303 not in found[0].tolist()


@pytest.mark.slow
def test_unreadable_image_is_bad_input(from_checkpoint, tmp_path):
    bogus = tmp_path / "not_an_image.png"
    bogus.write_bytes(b"this is not a PNG")
    with pytest.raises(BadInputError) as info:
        from_checkpoint.embed_images([bogus])
    assert info.value.code == "bad_image"
    with pytest.raises(BadInputError):
        from_checkpoint.embed_images([b"\x89PNG\r\n\x1a\n truncated"])
    with pytest.raises(BadInputError):
        from_checkpoint.embed_images([tmp_path / "missing.png"])


def test_disabled_means_no_backend():
    assert build_image_embedder(ImageEmbedSettings()) is None


def test_enabled_without_weights_is_refused_not_random():
    with pytest.raises(BackendUnavailableError, match="no weights"):
        build_image_embedder(ImageEmbedSettings(enabled=True, model="ViT-B-32"))


def test_missing_checkpoint_or_folder_is_refused(tmp_path):
    with pytest.raises(BackendUnavailableError, match="not found"):
        build_image_embedder(ImageEmbedSettings(enabled=True, pretrained=str(tmp_path / "nope.pt")))
    with pytest.raises(BackendUnavailableError, match="open_clip_config.json"):
        build_image_embedder(ImageEmbedSettings(enabled=True, pretrained=f"local-dir:{tmp_path}"))
    with pytest.raises(BackendUnavailableError, match="config not found"):
        build_image_embedder(
            ImageEmbedSettings(enabled=True, pretrained=str(tmp_path), config_path=tmp_path / "none.json")
        )


def test_local_dir_on_either_setting_means_the_same_folder(tmp_path):
    (tmp_path / "open_clip_config.json").write_text("{}")
    assert resolve_source(f"local-dir:{tmp_path}", None) == (f"local-dir:{tmp_path}", None)
    assert resolve_source("ViT-B-32", f"local-dir:{tmp_path}") == (f"local-dir:{tmp_path}", None)
    assert resolve_source("ViT-B-32", "laion2b_s34b_b79k") == ("ViT-B-32", "laion2b_s34b_b79k")


@pytest.mark.slow
def test_pretrained_tag_without_a_hub_is_a_clear_error(tmp_path, monkeypatch):
    # A tag means "download these weights"; with no hub (tests block the network) that must be reported as an
    # unavailable backend, not turn into a randomly initialised model.
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(BackendUnavailableError, match="could not load CLIP model"):
        build_image_embedder(ImageEmbedSettings(enabled=True, model="RN50", pretrained="openai"))


def test_unknown_architecture_is_refused(tmp_path):
    checkpoint = tmp_path / "weights.pt"
    checkpoint.write_bytes(b"")
    with pytest.raises(BackendUnavailableError, match="could not load CLIP model"):
        build_image_embedder(
            ImageEmbedSettings(enabled=True, model="No-Such-CLIP", pretrained=str(checkpoint))
        )
