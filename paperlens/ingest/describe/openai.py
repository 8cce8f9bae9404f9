"""A served VLM describes crops: one chat completion per crop, the crop as an image content part.

This is the in-process Qwen2.5-VL describer's model behind a server (``vllm serve Qwen/Qwen2.5-VL-7B-Instruct``,
or any vision model Ollama / llama-server / LM Studio serve). The prompts are today's (``instruction_for``),
the crop goes as a base64 data URL (the server needs no access to our disk), and the reply goes through the
same JSON parsing, validation and one stricter retry (``describe_with_retry``). Transport failures are typed
errors (``openai_compat``); a few crops are in flight at once to hide the network latency.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from paperlens.config import DescribeSettings
from paperlens.errors import ConfigError
from paperlens.ingest.describe.base import DescribeRequest, Description
from paperlens.ingest.describe.prompts import PROMPT_VERSION, describe_with_retry, instruction_for
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


class OpenAIDescriber:
    name = "openai"
    prompt_version = PROMPT_VERSION

    def __init__(self, settings: DescribeSettings) -> None:
        if not settings.model:
            raise ConfigError("the openai describer needs describe.model: the name the server serves")
        self.settings = settings
        self.model = settings.model
        self.batch_size = settings.batch_size
        self.base_url = require_url(settings.base_url, "describe.base_url")
        self.server = public_url(self.base_url)
        key = api_key(settings.openai.api_key_env, settings.api_key)
        # The client retries 429/5xx and connection errors with backoff honouring Retry-After.
        self.client = make_client(
            self.base_url, key=key, timeout_s=settings.timeout_s, max_retries=settings.max_attempts - 1
        )
        self.extra_headers = auth_headers(key)
        self.probe = ModelsProbe(self.base_url, key, self.model)

    def health(self) -> dict:
        return self.probe()

    def messages_for(self, request: DescribeRequest, retry: bool = False) -> list[dict[str, Any]]:
        text = instruction_for(str(request.element.kind), request.context, retry=retry)
        return [{"role": "user", "content": [image_part(request.image_path), {"type": "text", "text": text}]}]

    def _call(self, request: DescribeRequest, retry: bool) -> str:
        options: dict[str, Any] = {"temperature": 0.0, "max_tokens": self.settings.max_new_tokens}
        if self.settings.openai.json_mode:
            options["response_format"] = {"type": "json_object"}
        try:
            completion = self.client.chat.completions.create(
                model=self.model,
                messages=self.messages_for(request, retry),
                extra_headers=self.extra_headers,
                **options,
            )
            return completion.choices[0].message.content or ""
        except Exception as exc:
            raise typed_error(exc, self.server) from exc

    def generate(self, requests: list[DescribeRequest], retry: bool = False) -> list[str]:
        if len(requests) <= 1 or self.batch_size <= 1:
            return [self._call(r, retry) for r in requests]
        with ThreadPoolExecutor(max_workers=min(self.batch_size, len(requests))) as pool:
            return list(pool.map(lambda r: self._call(r, retry), requests))

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        results: list[Description] = []
        for start in range(0, len(requests), self.batch_size):
            results += describe_with_retry(requests[start : start + self.batch_size], self.generate)
        return results
