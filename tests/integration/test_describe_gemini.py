"""The Gemini describer through the real google-genai client, against a fake generateContent server on
127.0.0.1 that answers from a script: success, rate limits, overload, a bad key, malformed output."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fake_gemini import GOOD_KEY, FakeGemini, error, ok
from PIL import Image

from paperlens.config import DescribeSettings
from paperlens.errors import BackendUnavailableError, RetryableError
from paperlens.ingest.describe import DescribeRequest, build_describer
from paperlens.ingest.describe.gemini import GeminiDescriber, GeminiRequestError
from paperlens.models import Element, ElementKind

TABLE_ANSWER = json.dumps(
    {
        "kind": "table",
        "summary": "Ablation of the retriever.",
        "markdown": "| setting | recall@5 |\n|---|---|\n| hybrid | 0.81 |\n| dense | 0.74 |",
        "values": ["hybrid recall@5: 0.81"],
    }
)


@pytest.fixture
def fake():
    server = FakeGemini()
    yield server
    server.close()


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
        caption="Table 3: retriever ablation",
    )
    return DescribeRequest(element=element, image_path=crop, context="Table 3: retriever ablation")


def _describer(fake: FakeGemini, key: str = GOOD_KEY, **overrides) -> tuple[GeminiDescriber, list[float]]:
    settings = DescribeSettings(
        backend="gemini", model="gemini-test", api_key=key, base_url=fake.url, retry_delay_s=0.5, **overrides
    )
    slept: list[float] = []
    return GeminiDescriber(settings, sleep=slept.append), slept


def test_success_sends_the_crop_and_prompt_and_parses_the_json(fake, crop):
    fake.script = [ok(TABLE_ANSWER)]
    describer = build_describer(
        DescribeSettings(backend="gemini", model="gemini-test", api_key=GOOD_KEY, base_url=fake.url)
    )
    assert isinstance(describer, GeminiDescriber) and describer.model == "gemini-test"
    (description,) = describer.describe([_request(crop)])
    assert description.structured is True
    assert description.markdown.splitlines()[2] == "| hybrid | 0.81 |"
    assert "Ablation of the retriever." in description.text

    (sent,) = fake.requests
    assert sent["endpoint"] == "models/gemini-test:generateContent"
    assert sent["headers"]["x-goog-api-key"] == GOOD_KEY
    parts = sent["body"]["contents"][0]["parts"]
    image = next(p["inlineData"] for p in parts if "inlineData" in p)
    assert image.get("mimeType", image.get("mime_type")) == "image/png"  # the SDK sends the snake_case alias
    # The SDK sends URL-safe base64 (which the API accepts); urlsafe_b64decode reads both alphabets.
    assert base64.urlsafe_b64decode(image["data"]) == crop.read_bytes()
    prompt = next(p["text"] for p in parts if "text" in p)
    assert "Markdown table" in prompt and "Table 3: retriever ablation" in prompt
    assert sent["body"]["generationConfig"]["responseMimeType"] == "application/json"


def test_rate_limits_and_overload_are_retried_with_exponential_backoff(fake, crop):
    fake.script = [
        error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"),
        error(503, "UNAVAILABLE", "The model is overloaded"),
        ok(TABLE_ANSWER),
    ]
    describer, slept = _describer(fake)
    (description,) = describer.describe([_request(crop)])
    assert description.structured is True
    assert len(fake.requests) == 3
    assert len(slept) == 2
    assert 0.5 <= slept[0] <= 0.5 * 1.25
    assert 1.0 <= slept[1] <= 1.0 * 1.25  # doubled


def test_retry_after_from_the_server_is_honoured(fake, crop):
    fake.script = [
        error(429, "RESOURCE_EXHAUSTED", "slow down", headers={"Retry-After": "7"}),
        ok(TABLE_ANSWER),
    ]
    describer, slept = _describer(fake)
    describer.describe([_request(crop)])
    assert slept == [7.0]


def test_persistent_rate_limit_gives_up_with_a_retryableerror(fake, crop):
    fake.script = [error(429, "RESOURCE_EXHAUSTED", "Quota exceeded")] * 3
    describer, slept = _describer(fake, max_attempts=3)
    with pytest.raises(RetryableError, match="429 after 3 attempts"):
        describer.describe([_request(crop)])
    assert len(fake.requests) == 3 and len(slept) == 2


def test_a_bad_key_fails_at_once_with_a_clearerror(fake, crop):
    describer, slept = _describer(fake, key="wrong-key")
    with pytest.raises(BackendUnavailableError, match="rejected the API key"):
        describer.describe([_request(crop)])
    assert len(fake.requests) == 1 and slept == []  # no retries on a bad key

    fake.script = [error(403, "PERMISSION_DENIED", "Permission denied on resource")]
    describer, _ = _describer(fake)
    with pytest.raises(BackendUnavailableError, match="HTTP 403"):
        describer.describe([_request(crop)])


def test_other_refusals_are_a_typed_error_not_a_retry_loop(fake, crop):
    fake.script = [error(400, "INVALID_ARGUMENT", "Unable to process input image")]
    describer, slept = _describer(fake)
    with pytest.raises(GeminiRequestError, match="Unable to process input image"):
        describer.describe([_request(crop)])
    assert slept == [] and len(fake.requests) == 1


def test_malformed_output_is_retried_once_with_a_reminder(fake, crop):
    fake.script = [ok("Here is a table about retrievers."), ok("```json\n" + TABLE_ANSWER + "\n```")]
    describer, _ = _describer(fake)
    (description,) = describer.describe([_request(crop)])
    assert description.structured is True
    assert len(fake.requests) == 2
    second_prompt = next(p["text"] for p in fake.requests[1]["body"]["contents"][0]["parts"] if "text" in p)
    assert "not valid JSON" in second_prompt

    fake.script = [ok("plain words"), ok("still plain words, longer")]
    (description,) = describer.describe([_request(crop)])
    assert description.structured is False
    assert description.text == "still plain words, longer"
