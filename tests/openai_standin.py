"""A protocol stand-in for an OpenAI-compatible model server (vLLM, Ollama, llama.cpp's llama-server, LM Studio)
and a TEI-style reranker, on 127.0.0.1. It is not a mock of paperlens: paperlens talks to it through the real
``openai`` client and httpx, over real HTTP, exactly as it would talk to a served model.

Wire format, as documented in the OpenAI API reference (and TEI's / Cohere's rerank docs):
- ``GET  /v1/models`` -> ``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``
- ``POST /v1/chat/completions`` -> ``{"id", "object": "chat.completion", "created", "model", "choices":
  [{"index", "message": {"role": "assistant", "content"}, "finish_reason": "stop"}], "usage"}``; with
  ``"stream": true`` data-only server-sent events, each ``data: {"object": "chat.completion.chunk", "choices":
  [{"index", "delta": {...}, "finish_reason"}]}``, the first delta carrying the role, the last an empty delta
  with ``finish_reason``, and the stream ended by ``data: [DONE]``.
- ``POST /v1/embeddings`` -> ``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
  "model", "usage"}`` (float vectors; base64 is refused here, so a client must ask for floats).
- ``POST /rerank`` (TEI) ``{"query", "texts"}`` -> ``[{"index", "score"}]`` best first; the Cohere shape that
  Infinity and vLLM speak, ``{"model", "query", "documents"}`` -> ``{"results": [{"index", "relevance_score"}]}``.

What it answers: ``replies`` (a queue of chat texts) when set, else a deterministic reader of the prompt: the
first evidence passage's first sentence cited as [1]; for a multiple-choice prompt, the option sharing most
words with the evidence; for a describe prompt with an image, a JSON description echoing the paper's context. Embeddings are hashed bags of words (texts sharing words are close); rerank scores are
word overlap. Failures are queued per path with ``fail``: an HTTP status (429 with ``Retry-After``, 500), a
delay past the client's timeout, malformed JSON, or a stream cut off mid-way. Every request is logged in
``requests`` (method, path, lower-cased headers, JSON body, arrival time) for the tests to assert on.

Run it alone for a manual or benchmark check: ``python tests/openai_standin.py --port 8011``; with
``--translations ../shared/bench/fa_litqa_dev/questions.jsonl`` it translates that set's questions perfectly
(their English originals), the upper bound of ``retrieve.translate_queries`` in ``paperlens bench``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHAT_MODEL = "standin-chat"
EMBED_MODEL = "standin-embed"
RERANK_MODEL = "standin-rerank"
EMBED_DIM = 48


@dataclass
class Fault:
    """One failure to produce instead of the next normal reply on a path."""

    status: int = 0  # an HTTP error status with an OpenAI-style error body
    headers: dict = field(default_factory=dict)  # e.g. {"Retry-After": "1"}
    delay_s: float = 0.0  # sleep before answering (past the client's timeout: a timeout)
    malformed: bool = False  # 200 with a body that is not JSON (or, streaming, a chunk that is not)
    cut_stream: bool = False  # streaming: two chunks, then the connection closes without [DONE]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def hashed_vector(text: str, dim: int = EMBED_DIM) -> list[float]:
    vector = [0.0] * dim
    for word in _words(text):
        bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
        vector[bucket % dim] += 1.0
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


_EVIDENCE = re.compile(r"<evidence id=(\d+)[^>]*>\s*(.*?)\s*</evidence>", re.DOTALL)
_OPTION = re.compile(r"^([A-Z])\. (.+)$", re.MULTILINE)


def read_prompt(messages: list[dict]) -> str:
    """A deterministic answer from the prompt itself, so the stand-in can serve a benchmark run."""
    text = "\n".join(
        m["content"]
        if isinstance(m.get("content"), str)
        else "\n".join(p.get("text", "") for p in m.get("content") or [] if p.get("type") == "text")
        for m in messages
    )
    has_image = any(
        p.get("type") == "image_url"
        for m in messages
        if isinstance(m.get("content"), list)
        for p in m["content"]
    )
    if has_image and "Answer with one JSON object" in text:  # a describe prompt: JSON echoing the context
        kind = re.search(r"The image is (?:a|an) (\w+)", text)
        context = text.split("cite it):", 1)[1].strip().split("\n\n")[0] if "cite it):" in text else ""
        summary = f"A {kind.group(1) if kind else 'figure'} read by the stand-in. {context}".strip()
        return json.dumps({"kind": kind.group(1) if kind else "figure", "summary": summary, "values": []})
    evidence = _EVIDENCE.findall(text)
    options = _OPTION.findall(text.split("Options:", 1)[1]) if "Options:" in text else []
    if options:
        seen = set(_words(" ".join(body for _, body in evidence)))
        overlap = {letter: len(set(_words(text)) & seen) for letter, text in options}
        # "Insufficient information..." shares common words with any evidence: it is the answer only when no
        # other option shares a word.
        unsure = [letter for letter, text in options if text.lower().startswith("insufficient")]
        named = [letter for letter, _ in options if letter not in unsure and overlap[letter]]
        best = max(named, key=lambda letter: overlap[letter]) if named else (unsure or [options[0][0]])[0]
        return f"Answer: {best}"
    if not evidence:
        return "Not found in the provided papers."
    number, body = evidence[0]
    sentence = re.split(r"(?<=[.!?])\s+", re.sub(r"^\[[^\]]*\]\s*", "", body.strip()))[0]
    return f"{sentence.rstrip('.')} [{number}]."


class OpenAIStandIn:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, dim: int = EMBED_DIM, echo: bool = False
    ) -> None:
        self.echo = echo  # print one line per request (the stand-alone server's request log)
        self.replies: list[str] = []
        # A user message found here is answered with its value: a bench set's translated questions mapped to
        # their English originals (``--translations``), a perfect translator for the translated-query path.
        self.translations: dict[str, str] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.requests: list[dict] = []
        self.dim = dim
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                standin._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                standin._handle(self, "POST")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        """What a user puts in ``base_url``: the OpenAI-compatible API root."""
        return self.url + "/v1"

    def fail(self, path: str, *faults: Fault) -> None:
        with self._lock:
            self.faults.setdefault(path, []).extend(faults)

    def requests_to(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- request handling ---------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "headers": {k.lower(): v for k, v in handler.headers.items()},
                    "body": body,
                    "at": time.time(),
                }
            )
            if self.echo:
                model = (body or {}).get("model", "") if isinstance(body, dict) else ""
                streamed = " stream" if isinstance(body, dict) and body.get("stream") else ""
                print(f"{time.strftime('%H:%M:%S')} {method} {path} {model}{streamed}", flush=True)
            queue = self.faults.get(path) or []
            fault = queue.pop(0) if queue else None
        if fault is not None and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault is not None and fault.status:
            message = {429: "Rate limit reached", 500: "The server had an error"}.get(fault.status, "error")
            kind = "rate_limit_error" if fault.status == 429 else "server_error"
            error = {"error": {"message": message, "type": kind, "param": None, "code": None}}
            return self._json(handler, fault.status, error, fault.headers)
        if fault is not None and fault.malformed and not (body or {}).get("stream"):
            return self._raw(handler, 200, b'{"id": "broken", "choices": [', "application/json")
        routes = {
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/embeddings"): self._embeddings,
            ("POST", "/rerank"): self._rerank,
            ("POST", "/v1/rerank"): self._rerank,
        }
        route = routes.get((method, path))
        if route is None:
            return self._json(handler, 404, {"error": {"message": f"no route {path}", "type": "not_found"}})
        return route(handler, body or {}, fault)

    def _models(self, handler, body, fault) -> None:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "standin"}
            for name in (CHAT_MODEL, EMBED_MODEL, RERANK_MODEL)
        ]
        self._json(handler, 200, {"object": "list", "data": data})

    def _chat(self, handler, body, fault) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not body.get("model"):
            error = {"error": {"message": "model and messages are required", "type": "invalid_request_error"}}
            return self._json(handler, 400, error)
        with self._lock:
            last = messages[-1].get("content") if messages and isinstance(messages[-1], dict) else None
            if self.replies:
                text = self.replies.pop(0)
            elif isinstance(last, str) and last in self.translations:
                text = self.translations[last]
            else:
                text = read_prompt(messages)
        created = int(time.time())
        if body.get("stream"):
            return self._chat_stream(handler, body["model"], text, created, fault)
        reply = {
            "id": "chatcmpl-standin",
            "object": "chat.completion",
            "created": created,
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 10},
        }
        self._json(handler, 200, reply)

    def _chat_stream(self, handler, model: str, text: str, created: int, fault: Fault | None) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("connection", "close")
        handler.end_headers()

        def chunk(delta: dict, finish: str | None = None) -> bytes:
            event = {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(event)}\n\n".encode()

        pieces = re.findall(r"\S+\s*", text) or [text]
        frames = [chunk({"role": "assistant", "content": ""})]
        frames += [chunk({"content": piece}) for piece in pieces]
        if fault is not None and fault.malformed:
            frames.insert(2, b'data: {"id": "chatcmpl-standin", "choices": [\n\n')
        if fault is not None and fault.cut_stream:
            frames = frames[:2]
        else:
            frames += [chunk({}, "stop"), b"data: [DONE]\n\n"]
        handler.close_connection = True
        try:
            for frame in frames:
                handler.wfile.write(frame)
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (a malformed chunk, or a reader that went away)

    def _embeddings(self, handler, body, fault) -> None:
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not body.get("model"):
            error = {"error": {"message": "model and input are required", "type": "invalid_request_error"}}
            return self._json(handler, 400, error)
        if body.get("encoding_format", "float") != "float":
            error = {"error": {"message": "only float encoding is served", "type": "invalid_request_error"}}
            return self._json(handler, 400, error)
        data = [
            {"object": "embedding", "index": i, "embedding": hashed_vector(t, self.dim)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(_words(t)) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._json(handler, 200, {"object": "list", "data": data, "model": body["model"], "usage": usage})

    def _rerank(self, handler, body, fault) -> None:
        query = body.get("query")
        texts = body.get("texts", body.get("documents"))
        if not isinstance(query, str) or not isinstance(texts, list):
            return self._json(
                handler, 422, {"error": "query and texts are required", "error_type": "Validation"}
            )
        asked = set(_words(query))
        scores = [len(asked & set(_words(t))) / (1 + len(asked)) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: -scores[i])
        if "texts" in body:  # TEI: a bare list, best first
            return self._json(handler, 200, [{"index": i, "score": scores[i]} for i in order])
        results = [{"index": i, "relevance_score": scores[i]} for i in order]
        self._json(handler, 200, {"id": "rerank-standin", "model": body.get("model", ""), "results": results})

    # -- writing --------------------------------------------------------------------------------------------
    @staticmethod
    def _json(handler, status: int, body, headers: dict | None = None) -> None:
        OpenAIStandIn._raw(handler, status, json.dumps(body).encode(), "application/json", headers)

    @staticmethod
    def _raw(handler, status: int, data: bytes, content_type: str, headers: dict | None = None) -> None:
        try:
            handler.send_response(status)
            handler.send_header("content-type", content_type)
            handler.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer


def english_originals(path: str) -> dict[str, str]:
    """{question as paperlens sends it to be translated: its English original} for a translated bench set."""
    from paperlens.text.normalize import normalize_query

    lines = Path(path).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return {normalize_query(r["question"]): r["question_en"] for r in rows if r.get("question_en")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument(
        "--translations",
        nargs="*",
        default=[],
        metavar="QUESTIONS_JSONL",
        help="bench question files whose rows keep question_en (../shared/bench/fa_*/questions.jsonl): a "
        "translation request for one of their questions is answered with its English original, so "
        "`paperlens bench` with retrieve.translate_queries measures that path with a perfect translator",
    )
    args = parser.parse_args()
    standin = OpenAIStandIn(port=args.port, echo=True)
    for path in args.translations:
        standin.translations.update(english_originals(path))
    print(f"OpenAI-compatible stand-in on {standin.base_url} (rerank on {standin.url}/rerank)", flush=True)
    try:
        standin.thread.join()
    except KeyboardInterrupt:
        standin.close()


if __name__ == "__main__":
    main()
