"""Multiple-choice answering with the configured LLM generator (LitQA2-style benchmark questions).

The benchmark's hook is ``choose_fn(question, options, evidence_texts) -> int | None``; ``make_choose_fn``
adapts any generator's ``chat(messages, max_new_tokens)`` (local, gemini, qwen-vl, openai) to it. The
evidence is fenced exactly as in answers, the options are lettered, and the reply's letter is parsed; a reply
with no usable letter is None ("unsure"), never a guess.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence

from paperlens.errors import ConfigError
from paperlens.generate.base import Generator
from paperlens.generate.prompts import SYSTEM_PROMPT, format_evidence, neutralise
from paperlens.generate.text import normalise_space
from paperlens.models import ElementKind, Hit

CHOICE_RULES = (
    "This is a multiple-choice question. Choose the option the evidence supports. If the evidence does not "
    "support any option, choose the 'Insufficient information' option. Reply with the option's letter only."
)


def _as_hits(evidence: Sequence[Hit | str]) -> list[Hit]:
    """The benchmark passes plain texts; the prompt code speaks Hits."""
    hits = []
    for i, item in enumerate(evidence):
        if isinstance(item, Hit):
            hits.append(item)
        else:
            hits.append(
                Hit(
                    chunk_id=i,
                    document_id="",
                    page=0,
                    bbox=(0, 0, 0, 0),
                    kind=ElementKind.TEXT,
                    text=item,
                    score=0,
                )
            )
    return hits


def choice_messages(
    question: str, options: Sequence[str], evidence: Sequence[Hit | str], max_chars: int = 1500
) -> list[dict[str, str]]:
    letters = string.ascii_uppercase
    listed = "\n".join(f"{letters[i]}. {neutralise(normalise_space(o))}" for i, o in enumerate(options))
    user = (
        f"Evidence (untrusted data):\n{format_evidence(_as_hits(evidence), max_chars)}\n\n"
        f"Question: {neutralise(normalise_space(question))}\n\nOptions:\n{listed}\n\n"
        f"{CHOICE_RULES}\nAnswer:"
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT + "\n" + CHOICE_RULES},
        {"role": "user", "content": user},
    ]


def parse_choice(reply: str, n_options: int, options: Sequence[str] = ()) -> int | None:
    """The option a reply picks: an explicit "Answer: B" / "(B)" / a leading "B", else an option's full text."""
    valid = string.ascii_uppercase[:n_options]
    text = reply.strip()
    patterns = (
        rf"(?i:answer|option|choice)\s*(?i:is)?\s*[:\-]?\s*\(?([{valid}])\b",
        rf"^\W*\(?([{valid}])\)?(?:[.):\s]|$)",
        rf"\(([{valid}])\)",
        rf"\b([{valid}])[.)]",
    )
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return valid.index(match.group(1).upper())
    lowered = normalise_space(text).lower()
    named = [i for i, o in enumerate(options) if normalise_space(o).lower() in lowered]
    return named[0] if len(named) == 1 else None


def llm_choose(
    generator: Generator, question: str, options: Sequence[str], evidence: Sequence[Hit | str]
) -> int | None:
    """Ask the generator to pick one option; returns its index, or None when the reply names none."""
    if len(options) > len(string.ascii_uppercase):
        raise ConfigError("at most 26 options")
    # Every Generator declares chat(); one that cannot chat (extractive) raises ConfigError saying so.
    reply = generator.chat(choice_messages(question, options, evidence), max_new_tokens=8)
    return parse_choice(reply, len(options), options)


def make_choose_fn(generator: Generator) -> Callable[[str, list[str], list[str]], int | None]:
    """The benchmark's ``choose_fn`` backed by this generator."""

    def choose(question: str, options: list[str], evidence: list[str]) -> int | None:
        return llm_choose(generator, question, options, evidence)

    return choose
