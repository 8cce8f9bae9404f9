"""Shared transformers plumbing for the local generators: decoding options, one-at-a-time generation, and
streaming through ``TextIteratorStreamer`` in a worker thread that stops when the reader goes away."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from paperlens.errors import GenerationFailedError


def torch_dtype(name: str):
    import torch

    if name == "auto":
        return "auto"
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
    except KeyError:
        from paperlens.errors import ConfigError

        raise ConfigError(f"unknown dtype {name!r}: use auto, float32, bfloat16 or float16") from None


def decoding_options(
    max_new_tokens: int, temperature: float, top_p: float, repetition_penalty: float, pad_token_id: int | None
) -> dict[str, Any]:
    """Greedy by default (the same question gives the same answer); sampling only when asked for."""
    options: dict[str, Any] = {"max_new_tokens": max_new_tokens, "repetition_penalty": repetition_penalty}
    if temperature > 0:
        options |= {"do_sample": True, "temperature": temperature, "top_p": top_p}
    else:
        options |= {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    if pad_token_id is not None:
        options["pad_token_id"] = pad_token_id
    return options


class HFRunner:
    """Runs ``model.generate`` for one request at a time: on CPU, two at once are each slower than one after the
    other, and a model's KV cache is not meant to be shared across threads."""

    def __init__(self, model, tokenizer) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.lock = threading.Lock()

    def generate(self, inputs: dict[str, Any], options: dict[str, Any]) -> str:
        import torch

        with self.lock, torch.inference_mode():
            output = self.model.generate(**inputs, **options)
        prompt_length = inputs["input_ids"].shape[1]
        return self.tokenizer.decode(output[0][prompt_length:], skip_special_tokens=True)

    def stream(
        self, inputs: dict[str, Any], options: dict[str, Any], timeout_s: float = 600.0
    ) -> Iterator[str]:
        """Yield text as the model writes it. Closing the iterator early stops generation at the next token."""
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        stop = threading.Event()

        class _StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):  # noqa: ARG002 - transformers' signature
                return stop.is_set()

        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout_s
        )
        failure: list[BaseException] = []

        def work() -> None:
            import torch

            try:
                with self.lock, torch.inference_mode():
                    self.model.generate(
                        **inputs,
                        **options,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_StopWhenAsked()]),
                    )
            except BaseException as exc:  # reported to the reader below, never lost in the thread
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, name="paperlens-generate", daemon=True)
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
            if failure:
                raise GenerationFailedError(f"generation failed: {failure[0]}") from failure[0]
        finally:
            stop.set()
            thread.join(timeout=timeout_s)


def check_hub_model(name: str, filename: str = "config.json") -> None:
    """A model given by hub name must already be in the local cache when the hub is offline; say so at
    start-up rather than on the first question."""
    import os

    from huggingface_hub import try_to_load_from_cache

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    cached = try_to_load_from_cache(name, filename)
    if offline and not isinstance(cached, str):
        from paperlens.errors import BackendUnavailableError

        raise BackendUnavailableError(
            f"model {name!r} is not in the local Hugging Face cache and the hub is offline (HF_HUB_OFFLINE=1): "
            "download it first, or give a local folder"
        )
