"""Qwen2.5-VL as the answerer: the top figure/table crops go to the model as images beside the text evidence,
so it reads the chart itself instead of only its caption.

Which images: either passed per call (``generate(q, evidence, images={n: path})``, keyed by evidence number),
or found by the ``image_resolver(hit) -> Path | None`` given at construction (the engine maps a hit's
element to its crop under ``data_dir``). Up to ``max_images`` visual hits are shown, highest-ranked first.
Loading follows the real checkpoint's path: ``AutoProcessor`` + ``Qwen2_5_VLForConditionalGeneration``,
``apply_chat_template`` + ``qwen_vl_utils.process_vision_info`` (local files only: it would fetch URLs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from paperlens.config import GenerateSettings
from paperlens.errors import BackendUnavailableError
from paperlens.generate.base import StreamingGenerator
from paperlens.generate.hf import HFRunner, check_hub_model, decoding_options, torch_dtype
from paperlens.generate.prompts import SYSTEM_PROMPT, user_prompt
from paperlens.models import VISUAL_KINDS, Hit

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"


class QwenVLGenerator(StreamingGenerator):
    name = "qwen-vl"

    def __init__(
        self,
        model: str = "",
        *,
        image_resolver: Callable[[Hit], Path | None] | None = None,
        max_images: int = 2,
        min_pixels: int = 64 * 28 * 28,
        max_pixels: int = 512 * 28 * 28,
        max_new_tokens: int = 384,
        temperature: float = 0.0,
        top_p: float = 1.0,
        repetition_penalty: float = 1.0,
        max_evidence_chars: int = 1500,
        device: str = "cpu",
        dtype: str = "auto",
    ) -> None:
        self.model = model or DEFAULT_MODEL
        path = Path(self.model).expanduser()
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise BackendUnavailableError(f"{path} holds no config.json: not a Qwen2.5-VL model folder")
        elif path.is_absolute() or self.model.startswith("."):
            raise BackendUnavailableError(f"Qwen2.5-VL model not found: {path}")
        else:
            check_hub_model(self.model)
        self.image_resolver = image_resolver
        self.max_images = max_images
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.max_new_tokens = max_new_tokens
        self.temperature, self.top_p, self.repetition_penalty = temperature, top_p, repetition_penalty
        self.max_evidence_chars = max_evidence_chars
        self.device, self.dtype = device, dtype
        self._loaded: tuple[Any, HFRunner] | None = None
        self._load_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: GenerateSettings, image_resolver: Callable[[Hit], Path | None] | None = None
    ) -> QwenVLGenerator:
        local = settings.local
        return cls(
            settings.model,
            image_resolver=image_resolver,
            max_images=local.max_images,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            repetition_penalty=local.repetition_penalty,
            max_evidence_chars=settings.max_evidence_chars,
            device=local.device,
            dtype=local.dtype,
        )

    def load(self) -> tuple[Any, HFRunner]:
        with self._load_lock:
            if self._loaded is None:
                from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

                kwargs: dict[str, Any] = {"dtype": torch_dtype(self.dtype)}
                if self.device == "auto":
                    kwargs["device_map"] = "auto"
                try:
                    processor = AutoProcessor.from_pretrained(self.model)
                    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(self.model, **kwargs)
                except (OSError, ValueError) as exc:
                    raise BackendUnavailableError(
                        f"cannot load Qwen2.5-VL model {self.model!r}: {exc}"
                    ) from exc
                if self.device != "auto":
                    model = model.to(self.device)
                log.info("loaded Qwen2.5-VL answer model %s", self.model)
                self._loaded = (processor, HFRunner(model.eval(), processor.tokenizer))
            return self._loaded

    def select_images(
        self, evidence: Sequence[Hit], images: Mapping[int, Path] | None = None
    ) -> list[tuple[int, Path]]:
        """(evidence number, crop path) of the visual hits to show, best-ranked first, files that exist."""
        chosen: list[tuple[int, Path]] = []
        for n, hit in enumerate(evidence, start=1):
            if len(chosen) >= self.max_images:
                break
            if images is not None:
                path = images.get(n)
            elif self.image_resolver is not None and hit.kind in VISUAL_KINDS:
                path = self.image_resolver(hit)
            else:
                path = None
            if path is not None and Path(path).is_file():
                chosen.append((n, Path(path)))
        return chosen

    def messages(
        self, question: str, evidence: Sequence[Hit], images: Mapping[int, Path] | None = None
    ) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        for n, path in self.select_images(evidence, images):
            hit = evidence[n - 1]
            content.append(
                {"type": "text", "text": f"Image of evidence [{n}] ({hit.kind}, page {hit.page}):"}
            )
            content.append(
                {
                    "type": "image",
                    "image": str(path),
                    "min_pixels": self.min_pixels,
                    "max_pixels": self.max_pixels,
                }
            )
        content.append({"type": "text", "text": user_prompt(question, evidence, self.max_evidence_chars)})
        system = SYSTEM_PROMPT + "\nImages are part of the evidence they are labelled with; cite that number."
        return [
            {"role": "system", "content": [{"type": "text", "text": system}]},
            {"role": "user", "content": content},
        ]

    def _inputs(self, messages: list[dict[str, Any]]) -> tuple[HFRunner, dict[str, Any]]:
        from qwen_vl_utils import process_vision_info

        processor, runner = self.load()
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        image_inputs, _ = process_vision_info(messages)
        encoded = processor(text=[text], images=image_inputs or None, padding=True, return_tensors="pt")
        return runner, {key: value.to(runner.model.device) for key, value in dict(encoded).items()}

    def _options(self, runner: HFRunner, max_new_tokens: int | None = None) -> dict[str, Any]:
        tokenizer = runner.tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        return decoding_options(
            max_new_tokens or self.max_new_tokens, self.temperature, self.top_p, self.repetition_penalty, pad
        )

    def generate(
        self, question: str, evidence: Sequence[Hit], images: Mapping[int, Path] | None = None
    ) -> str:
        return "".join(self.stream(question, evidence, images)).strip()

    def stream(
        self, question: str, evidence: Sequence[Hit], images: Mapping[int, Path] | None = None
    ) -> Iterator[str]:
        runner, inputs = self._inputs(self.messages(question, evidence, images))
        yield from runner.stream(inputs, self._options(runner))

    def chat(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> str:
        """Text-only chat (multiple-choice answering); plain string contents become text blocks."""
        typed = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in messages]
        runner, inputs = self._inputs(typed)
        return runner.generate(inputs, self._options(runner, max_new_tokens)).strip()
