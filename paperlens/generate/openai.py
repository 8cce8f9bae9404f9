"""Answers from any OpenAI-compatible chat server: vLLM, Ollama, llama.cpp's ``llama-server``, LM Studio, TGI.

The prompt is the one every backend uses (fenced, numbered evidence; the same refusal phrase), and what the
model writes goes through the same stream guard and citation checks (``generate/answer.py``). With
``generate.openai.max_images > 0`` the top figure/table crops go along as image parts (base64 data URLs), so a
served VLM (``vllm serve Qwen/Qwen2.5-VL-7B-Instruct``) reads the chart itself, as the in-process qwen-vl
answerer does. Failures become typed errors (``openai_compat.typed_error``): down or busy 503, timeout 504,
garbage 502; never a 500 and never a silent switch to another backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from paperlens.config import GenerateSettings
from paperlens.errors import ConfigError
from paperlens.generate.base import Messages, StreamingGenerator
from paperlens.generate.prompts import SYSTEM_PROMPT, build_messages
from paperlens.models import VISUAL_KINDS, Hit
from paperlens.openai_compat import (
    ModelsProbe,
    api_key,
    auth_headers,
    image_part,
    make_client,
    public_url,
    require_url,
    typed_error,
)

log = logging.getLogger(__name__)

ImageResolver = Callable[[Hit], Path | None]


class OpenAIGenerator(StreamingGenerator):
    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        max_new_tokens: int = 384,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_evidence_chars: int = 1500,
        max_images: int = 0,
        image_resolver: ImageResolver | None = None,
    ) -> None:
        if not model:
            raise ConfigError("the openai answer backend needs generate.model: the name the server serves")
        self.model = model
        self.base_url = require_url(base_url, "generate.base_url")
        self.server = public_url(self.base_url)
        self.max_new_tokens = max_new_tokens
        self.temperature, self.top_p = temperature, top_p
        self.max_evidence_chars = max_evidence_chars
        self.max_images = max_images
        self.image_resolver = image_resolver
        self.client = make_client(self.base_url, key=key, timeout_s=timeout_s, max_retries=max_retries)
        self.extra_headers = auth_headers(key)
        self.probe = ModelsProbe(self.base_url, key, model)

    @classmethod
    def from_settings(
        cls, settings: GenerateSettings, image_resolver: ImageResolver | None = None
    ) -> OpenAIGenerator:
        return cls(
            settings.model,
            base_url=settings.base_url,
            key=api_key(settings.openai.api_key_env, settings.api_key),
            timeout_s=settings.timeout_s,
            max_retries=settings.max_retries,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_evidence_chars=settings.max_evidence_chars,
            max_images=settings.openai.max_images,
            image_resolver=image_resolver,
        )

    # -- health ----------------------------------------------------------------------------------------
    def load(self) -> None:
        """Called at service start-up: say now, in the log, when the server does not answer (the service
        still starts; questions fail with model_server_unavailable until it does)."""
        report = self.probe()
        if not report["models_answered"]:
            log.warning(
                "answer model server %s does not answer /models: %s", self.server, report.get("error")
            )
        elif report.get("model_listed") is False:
            log.warning("answer model server %s does not list the model %r", self.server, self.model)

    def health(self) -> dict:
        return self.probe()

    # -- prompting -------------------------------------------------------------------------------------
    def messages(self, question: str, evidence: Sequence[Hit]) -> Messages:
        messages: Messages = build_messages(question, evidence, self.max_evidence_chars)
        images = self._images(evidence)
        if images:
            content: list[dict[str, Any]] = []
            for n, path in images:
                hit = evidence[n - 1]
                content.append(
                    {"type": "text", "text": f"Image of evidence [{n}] ({hit.kind}, page {hit.page}):"}
                )
                content.append(image_part(path))
            content.append({"type": "text", "text": messages[1]["content"]})
            system = (
                SYSTEM_PROMPT + "\nImages are part of the evidence they are labelled with; cite that number."
            )
            messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
        return messages

    def _images(self, evidence: Sequence[Hit]) -> list[tuple[int, Path]]:
        if not self.max_images or self.image_resolver is None:
            return []
        chosen: list[tuple[int, Path]] = []
        for n, hit in enumerate(evidence, start=1):
            if len(chosen) >= self.max_images:
                break
            path = self.image_resolver(hit) if hit.kind in VISUAL_KINDS else None
            if path is not None and Path(path).is_file():
                chosen.append((n, Path(path)))
        return chosen

    # -- the Generator protocol ------------------------------------------------------------------------
    def _options(self, max_new_tokens: int | None) -> dict[str, Any]:
        # max_tokens rather than OpenAI's newer max_completion_tokens: every compatible server reads it.
        return {
            "model": self.model,
            "max_tokens": max_new_tokens or self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }

    def stream(self, question: str, evidence: Sequence[Hit]) -> Iterator[str]:
        yield from self.stream_chat(self.messages(question, evidence))

    def stream_chat(self, messages: Messages, max_new_tokens: int | None = None) -> Iterator[str]:
        """Text deltas as the server streams them. The client's retries cover the request until the stream
        starts; a failure mid-stream is raised as a typed error (the SSE route turns it into an error event)."""
        try:
            response = self.client.chat.completions.create(
                messages=messages,
                stream=True,
                extra_headers=self.extra_headers,
                **self._options(max_new_tokens),
            )
            finished = False
            with response:
                for chunk in response:
                    for choice in chunk.choices or ():
                        if choice.index != 0:
                            continue
                        if choice.delta and choice.delta.content:
                            yield choice.delta.content
                        finished = finished or choice.finish_reason is not None
            if not finished:
                # The connection closed before the chunk carrying finish_reason: half an answer is not one.
                raise ValueError("the stream ended before the reply was finished")
        except GeneratorExit:
            raise
        except Exception as exc:
            raise typed_error(exc, self.server) from exc

    def chat(self, messages: Messages, max_new_tokens: int | None = None) -> str:
        try:
            completion = self.client.chat.completions.create(
                messages=messages,
                stream=False,
                extra_headers=self.extra_headers,
                **self._options(max_new_tokens),
            )
            content = completion.choices[0].message.content
        except Exception as exc:
            raise typed_error(exc, self.server) from exc
        if content is None:
            raise typed_error(ValueError("the reply holds no message content"), self.server)
        return content.strip()
