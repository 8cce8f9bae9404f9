"""The Gemini describer through the real google-genai client, against a fake generateContent server on
127.0.0.1 that answers from a script: success, rate limits, overload, a bad key, malformed output."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from paperlens.config import DescribeSettings
from paperlens.errors import BackendUnavailableError, RetryableError
from paperlens.ingest.describe import DescribeRequest, build_describer
from paperlens.ingest.describe.gemini import GeminiDescriber, GeminiRequestError
from paperlens.models import Element, ElementKind

GOOD_KEY = "test-key-123"
TABLE_ANSWER = json.dumps(
    {
        "kind": "table",
        "summary": "Ablation of the retriever.",
        "markdown": "| setting | recall@5 |\n|---|---|\n| hybrid | 0.81 |\n| dense | 0.74 |",
        "values": ["hybrid recall@5: 0.81"],
    }
)


def _ok(text: str) -> tuple[int, dict, dict]:
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-test",
    }
    return 200, {}, body


def _error(code: int, status: str, message: str, headers: dict | None = None, reason: str | None = None):
    error: dict = {"code": code, "message": message, "status": status}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return code, headers or {}, {"error": error}


class FakeGemini:
    """Speaks POST /v1beta/models/{model}:generateContent; answers from ``script`` in order."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict, dict]] = []
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if self.headers.get("x-goog-api-key") != GOOD_KEY:
                    status, headers, payload = _error(
                        400,
                        "INVALID_ARGUMENT",
                        "API key not valid. Please pass a valid API key.",
                        reason="API_KEY_INVALID",
                    )
                elif fake.script:
                    status, headers, payload = fake.script.pop(0)
                else:
                    status, headers, payload = _error(500, "INTERNAL", "script exhausted")
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
    fake.script = [_ok(TABLE_ANSWER)]
    describer = build_describer(
        DescribeSettings(backend="gemini", model="gemini-test", api_key=GOOD_KEY, base_url=fake.url)
    )
    assert isinstance(describer, GeminiDescriber) and describer.model == "gemini-test"
    (description,) = describer.describe([_request(crop)])
    assert description.structured is True
    assert description.markdown.splitlines()[2] == "| hybrid | 0.81 |"
    assert "Ablation of the retriever." in description.text

    (sent,) = fake.requests
    assert sent["path"] == "/v1beta/models/gemini-test:generateContent"
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
        _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"),
        _error(503, "UNAVAILABLE", "The model is overloaded"),
        _ok(TABLE_ANSWER),
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
        _error(429, "RESOURCE_EXHAUSTED", "slow down", headers={"Retry-After": "7"}),
        _ok(TABLE_ANSWER),
    ]
    describer, slept = _describer(fake)
    describer.describe([_request(crop)])
    assert slept == [7.0]


def test_persistent_rate_limit_gives_up_with_a_retryable_error(fake, crop):
    fake.script = [_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded")] * 3
    describer, slept = _describer(fake, max_attempts=3)
    with pytest.raises(RetryableError, match="429 after 3 attempts"):
        describer.describe([_request(crop)])
    assert len(fake.requests) == 3 and len(slept) == 2


def test_a_bad_key_fails_at_once_with_a_clear_error(fake, crop):
    describer, slept = _describer(fake, key="wrong-key")
    with pytest.raises(BackendUnavailableError, match="rejected the API key"):
        describer.describe([_request(crop)])
    assert len(fake.requests) == 1 and slept == []  # no retries on a bad key

    fake.script = [_error(403, "PERMISSION_DENIED", "Permission denied on resource")]
    describer, _ = _describer(fake)
    with pytest.raises(BackendUnavailableError, match="HTTP 403"):
        describer.describe([_request(crop)])


def test_other_refusals_are_a_typed_error_not_a_retry_loop(fake, crop):
    fake.script = [_error(400, "INVALID_ARGUMENT", "Unable to process input image")]
    describer, slept = _describer(fake)
    with pytest.raises(GeminiRequestError, match="Unable to process input image"):
        describer.describe([_request(crop)])
    assert slept == [] and len(fake.requests) == 1


def test_malformed_output_is_retried_once_with_a_reminder(fake, crop):
    fake.script = [_ok("Here is a table about retrievers."), _ok("```json\n" + TABLE_ANSWER + "\n```")]
    describer, _ = _describer(fake)
    (description,) = describer.describe([_request(crop)])
    assert description.structured is True
    assert len(fake.requests) == 2
    second_prompt = next(p["text"] for p in fake.requests[1]["body"]["contents"][0]["parts"] if "text" in p)
    assert "not valid JSON" in second_prompt

    fake.script = [_ok("plain words"), _ok("still plain words, longer")]
    (description,) = describer.describe([_request(crop)])
    assert description.structured is False
    assert description.text == "still plain words, longer"
