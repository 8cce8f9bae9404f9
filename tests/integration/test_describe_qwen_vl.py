"""The Qwen2.5-VL describer, run for real on a tiny random Qwen2.5-VL saved to a folder and loaded through the
same ``from_pretrained`` path a downloaded checkpoint takes. Random weights write gibberish, so the output
checks are about the plain-text fallback; the JSON parsing itself is tested on well-formed text elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from tiny_models import build_tiny_qwen2_5_vl

from paperlens.config import DescribeSettings
from paperlens.errors import BackendUnavailableError, ConfigError
from paperlens.ingest.describe import DescribeRequest, build_describer, describe_elements
from paperlens.ingest.describe.qwen_vl import TransformersVLMDescriber
from paperlens.models import Element, ElementKind

PATCH = 14  # Qwen2.5-VL vision patch; one grid cell of image_grid_thw is PATCH x PATCH pixels
MIN_PIXELS, MAX_PIXELS = 8 * 28 * 28, 32 * 28 * 28


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory) -> Path:
    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny-qwen2.5-vl"))


@pytest.fixture(scope="module")
def describer(tiny_qwen_dir) -> TransformersVLMDescriber:
    settings = DescribeSettings(
        backend="qwen-vl",
        model=str(tiny_qwen_dir),
        min_pixels=MIN_PIXELS,
        max_pixels=MAX_PIXELS,
        batch_size=2,
        max_new_tokens=8,
        dtype="float32",
    )
    built = build_describer(settings)
    assert isinstance(built, TransformersVLMDescriber)
    return built


def _crop(path: Path, size: tuple[int, int], label: str) -> Path:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([10, 10, size[0] - 10, size[1] - 10], outline="black", width=3)
    draw.text((20, 20), label, fill="black")
    image.save(path)
    return path


def _request(
    tmp_path: Path, name: str, kind: ElementKind, size: tuple[int, int], caption: str
) -> DescribeRequest:
    element = Element(
        id=f"doc-0001-{name}", document_id="doc", page=1, bbox=(0, 0, 100, 100), kind=kind, caption=caption
    )
    return DescribeRequest(
        element=element, image_path=_crop(tmp_path / f"{name}.png", size, name), context=caption
    )


def test_messages_carry_the_local_image_with_pixel_limits_and_a_per_kind_instruction(describer, tmp_path):
    request = _request(tmp_path, "t1", ElementKind.TABLE, (300, 120), "Table 2: F1 by model")
    (message,) = describer.messages_for(request)
    assert message["role"] == "user"
    image, text = message["content"]
    assert image["type"] == "image"
    assert Path(image["image"]).is_absolute() and Path(image["image"]).is_file()
    assert not image["image"].startswith(("http://", "https://"))
    assert (image["min_pixels"], image["max_pixels"]) == (MIN_PIXELS, MAX_PIXELS)
    assert text["type"] == "text"
    assert "Markdown table" in text["text"] and "Table 2: F1 by model" in text["text"]
    (formula_message,) = describer.messages_for(_request(tmp_path, "f1", ElementKind.FORMULA, (200, 60), ""))
    assert "LaTeX" in formula_message["content"][1]["text"]
    retry_text = describer.messages_for(request, retry=True)[0]["content"][1]["text"]
    assert "not valid JSON" in retry_text


def test_images_are_resized_inside_the_pixel_limits_and_batched_with_left_padding(describer, tmp_path):
    big = _request(tmp_path, "big", ElementKind.FIGURE, (1600, 1200), "Figure 1: a large chart")
    small = _request(tmp_path, "small", ElementKind.FORMULA, (60, 30), "")
    inputs = describer.prepare_inputs([describer.messages_for(big), describer.messages_for(small)])
    grid = inputs["image_grid_thw"].tolist()
    assert len(grid) == 2
    for t, h, w in grid:
        pixels = h * w * PATCH * PATCH
        assert MIN_PIXELS <= pixels <= MAX_PIXELS, (t, h, w)
    # The large image hit the max cap, the tiny one was scaled up to the min.
    assert grid[0][1] * grid[0][2] * PATCH * PATCH > MAX_PIXELS // 2
    assert grid[1][1] * grid[1][2] * PATCH * PATCH < MAX_PIXELS // 2
    # Aspect ratio survives the resize (4:3 in, about 4:3 out).
    assert grid[0][2] / grid[0][1] == pytest.approx(4 / 3, rel=0.2)
    # Prompts differ in length; the shorter one is padded on the left so generation continues from the end.
    mask = inputs["attention_mask"]
    assert mask[:, -1].tolist() == [1, 1]
    assert 0 in mask[1].tolist() or 0 in mask[0].tolist()
    image_token = describer.processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # Each image expands to (h*w)/merge^2 placeholder tokens, which the vision tower's output replaces.
    for row, (_t, h, w) in zip(inputs["input_ids"], grid, strict=True):
        assert int((row == image_token).sum()) == h * w // 4


def test_generation_runs_and_unparseable_output_is_retried_once_then_kept_as_plain_text(describer, tmp_path):
    requests = [
        _request(tmp_path, "a", ElementKind.FIGURE, (400, 300), "Figure 1: loss curve"),
        _request(tmp_path, "b", ElementKind.TABLE, (500, 150), "Table 1: results"),
        _request(tmp_path, "c", ElementKind.FORMULA, (200, 50), ""),
    ]
    calls: list[tuple[int, bool]] = []
    real_generate = describer.generate

    def counting_generate(batch, retry=False):
        calls.append((len(batch), retry))
        return real_generate(batch, retry)

    describer.generate = counting_generate
    try:
        descriptions = describer.describe(requests)
    finally:
        del describer.generate
    assert len(descriptions) == 3
    # batch_size=2: [a, b] then [c]; every random answer is malformed, so each batch is retried once.
    assert calls == [(2, False), (2, True), (1, False), (1, True)]
    for request, description in zip(requests, descriptions, strict=True):
        assert description.structured is False
        assert "---retry---" in description.raw
        assert description.raw.replace("---retry---", "").strip()  # the model did write something
        assert description.kind == str(request.element.kind)
    # Greedy decoding: the same crop gives the same text again.
    again = describer.describe(requests[:1])
    assert again[0].raw == descriptions[0].raw


def test_describe_stage_fills_elements_and_caches_through_the_real_model(describer, tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "crops").mkdir(parents=True)
    _crop(data_dir / "crops" / "fig.png", (320, 240), "fig")
    element = Element(
        id="d-0001-000",
        document_id="d",
        page=1,
        bbox=(0, 0, 10, 10),
        kind=ElementKind.FIGURE,
        caption="Figure 3: accuracy",
        crop_path="crops/fig.png",
    )
    describe_elements([element], data_dir, describer, tmp_path / "cache")
    assert element.meta["describe"]["backend"] == "qwen-vl"
    assert element.meta["describe"]["model"] == describer.model
    assert element.meta["describe"]["structured"] is False
    first = element.description
    fresh = element.model_copy(update={"description": None, "meta": {}})
    describer_calls = []
    real_describe = describer.describe
    describer.describe = lambda reqs: describer_calls.append(reqs) or real_describe(reqs)
    try:
        describe_elements([fresh], data_dir, describer, tmp_path / "cache")
    finally:
        del describer.describe
    assert describer_calls == []  # served from the cache
    assert fresh.description == first


def test_other_chat_vlms_share_the_path_through_the_processors_own_chat_template(tiny_qwen_dir, tmp_path):
    """Gemma 3 / Llama 3.2 Vision go through apply_chat_template(tokenize=True) with PIL images; exercise
    that branch on the tiny model by treating it as a non-Qwen model type."""
    settings = DescribeSettings(
        backend="qwen-vl",
        model=str(tiny_qwen_dir),
        min_pixels=MIN_PIXELS,
        max_pixels=MAX_PIXELS,
        max_new_tokens=8,
        batch_size=2,
    )
    generic = TransformersVLMDescriber(settings)
    generic.load()
    generic.model_type = "some_other_vlm"
    requests = [
        _request(tmp_path, "g1", ElementKind.FIGURE, (900, 700), "Figure 9"),
        _request(tmp_path, "g2", ElementKind.TABLE, (300, 100), "Table 9"),
    ]
    conversations = [generic._with_pil_images(generic.messages_for(r)) for r in requests]
    for conversation in conversations:
        image = conversation[0]["content"][0]["image"]
        assert isinstance(image, Image.Image)
        assert image.width * image.height <= MAX_PIXELS
        assert set(conversation[0]["content"][0]) == {"type", "image"}
    outputs = generic.generate(requests)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)


def test_missing_weights_are_reported_not_replaced(tmp_path):
    with pytest.raises(BackendUnavailableError, match="not a model folder"):
        build_describer(DescribeSettings(backend="qwen-vl", model=str(tmp_path / "nowhere")))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BackendUnavailableError):
        build_describer(DescribeSettings(backend="qwen-vl", model=str(empty)))
    # A hub name that is not in the local cache (the tests run with HF_HUB_OFFLINE=1).
    with pytest.raises(BackendUnavailableError, match="not available"):
        build_describer(DescribeSettings(backend="qwen-vl", model="nobody/no-such-vlm-3b"))
    with pytest.raises(ConfigError):
        TransformersVLMDescriber(DescribeSettings(backend="qwen-vl", min_pixels=100_000, max_pixels=50_000))
