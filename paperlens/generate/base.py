"""Answer generators: one Protocol, one implementation per file, chosen by name in config.

A generator writes answer text from numbered evidence, citing it as ``[n]``. Turning that text into an
``Answer`` with checked citations is shared code (``paperlens.generate.citations``), the same for every backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from paperlens.models import Hit

NOT_FOUND = "The provided papers do not answer this question."


@runtime_checkable
class Generator(Protocol):
    name: str
    model: str

    def generate(self, question: str, evidence: Sequence[Hit]) -> str: ...

    def stream(self, question: str, evidence: Sequence[Hit]) -> Iterator[str]: ...
