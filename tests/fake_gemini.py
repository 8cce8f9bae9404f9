"""A fake Gemini API on 127.0.0.1 for the describer and answerer tests, so both talk to it through the real
google-genai client: POST /{version}/models/{model}:generateContent (and :streamGenerateContent?alt=sse), each
request answered from ``script`` in order, any request without ``GOOD_KEY`` refused as the real API does.

The API version in the path is the client's choice (google-genai 1.x sent v1beta, 3.x sends v1), so each
request is recorded with ``endpoint``, its path after the version, which is what the tests assert on."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD_KEY = "test-key-123"


@dataclass
class Reply:
    status: int
    body: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    stream: list[str] | None = None  # texts sent as server-sent events instead of one JSON body


def candidate(text: str, finish: bool = True) -> dict:
    part: dict = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        part["finishReason"] = "STOP"
    return {
        "candidates": [part],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-test",
    }


def ok(text: str) -> Reply:
    return Reply(200, candidate(text))


def sse_reply(texts: list[str]) -> Reply:
    return Reply(200, stream=texts)


def error(
    code: int, status: str, message: str, reason: str | None = None, headers: dict | None = None
) -> Reply:
    detail: dict = {"code": code, "message": message, "status": status}
    if reason:
        detail["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return Reply(code, {"error": detail}, headers or {})


def _endpoint(path: str) -> str:
    """``/v1beta/models/m:generateContent`` -> ``models/m:generateContent``; a path without a version is kept."""
    match = re.fullmatch(r"/v1(?:alpha|beta)?\d*/(.*)", path)
    return match.group(1) if match else path


class FakeGemini:
    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(
                    {
                        "path": self.path,
                        "endpoint": _endpoint(self.path),
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                if self.headers.get("x-goog-api-key") != GOOD_KEY:
                    reply = error(
                        400,
                        "INVALID_ARGUMENT",
                        "API key not valid. Please pass a valid API key.",
                        reason="API_KEY_INVALID",
                    )
                elif fake.script:
                    reply = fake.script.pop(0)
                else:
                    reply = error(500, "INTERNAL", "script exhausted")
                if reply.stream is not None:
                    self._send_stream(reply.stream)
                else:
                    self._send_json(reply)

            def _send_stream(self, texts: list[str]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for i, text in enumerate(texts):
                    event = json.dumps(candidate(text, finish=i == len(texts) - 1))
                    self.wfile.write(f"data: {event}\r\n\r\n".encode())
                    self.wfile.flush()

            def _send_json(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
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
