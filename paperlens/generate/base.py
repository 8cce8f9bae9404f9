"""Answer generators: one Protocol, one implementation per file, chosen by name in config.

A generator writes answer text from numbered evidence, citing it as ``[n]``. Turning that text into an
``Answer`` with checked citations is shared code (``paperlens.generate.citations``), the same for every backend.
``StreamingGenerator`` is the small base class backends build on (txtai's ``Generation`` shape): a backend
writes ``stream()``, and ``generate()`` is that stream joined, so whole and streamed answers cannot drift apart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from paperlens.errors import ConfigError
from paperlens.models import Hit

NOT_FOUND = "The provided papers do not answer this question."

#: Chat messages in the role/content form every chat template, LangChain and the OpenAI API understand.
Messages = list[dict]


@runtime_checkable
class Generator(Protocol):
    name: str
    model: str

    def generate(self, question: str, evidence: Sequence[Hit]) -> str: ...

    def stream(self, question: str, evidence: Sequence[Hit]) -> Iterator[str]: ...

    def chat(self, messages: Messages, max_new_tokens: int | None = None) -> str:
        """A reply to free-form messages (multiple-choice answering builds its own prompt). Backends that
        cannot chat raise ``ConfigError``."""
        ...


class StreamingGenerator(ABC):
    """Base class: implement ``stream``; ``generate`` joins it; ``chat`` says the backend cannot chat unless
    overridden."""

    name: str
    model: str

    @abstractmethod
    def stream(self, question: str, evidence: Sequence[Hit]) -> Iterator[str]: ...

    def generate(self, question: str, evidence: Sequence[Hit]) -> str:
        return "".join(self.stream(question, evidence)).strip()

    def chat(self, messages: Messages, max_new_tokens: int | None = None) -> str:
        raise ConfigError(
            f"the {self.name!r} answer backend cannot answer free-form chat or multiple choice: use an LLM "
            "backend (local, gemini, qwen-vl, openai), or paperlens.eval.choose.lexical_choose"
        )
