"""Multiple-choice answering for key-passage sets (LitQA2 style).

The options are the right answer, its distractors and an "insufficient information" option, shuffled with a
seed taken from the question id so every run (and every system) sees the same order. A chooser is any
``choose_fn(question, options, evidence) -> int | None`` (None means "unsure"), so an LLM generator can plug
in later; ``lexical_choose`` is the offline one: it picks the option best supported by the retrieved text.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence

from paperlens.eval.metrics import INSUFFICIENT_OPTION, numbers_in, numbers_match, words
from paperlens.text import tokens

ChooseFn = Callable[[str, list[str], list[str]], int | None]


def build_options(question_id: str, answer: str, distractors: Sequence[str]) -> tuple[list[str], int, int]:
    """Shuffled options plus the index of the right one and of "insufficient information" (always last)."""
    choices = [answer, *distractors]
    order = list(range(len(choices)))
    seed = int.from_bytes(hashlib.sha256(question_id.encode()).digest()[:8], "big")
    random.Random(seed).shuffle(order)
    options = [choices[i] for i in order] + [INSUFFICIENT_OPTION]
    return options, order.index(0), len(options) - 1


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in tokens.STOPWORDS]


def _support(option: str, evidence_words: set[str], evidence_numbers: list[float]) -> float:
    """Share of the option's content words (numbers matched within 1 %) that the evidence text holds."""
    tokens = content_words(option)
    if not tokens:
        return 0.0
    option_numbers = numbers_in(option)
    found = 0
    for token in tokens:
        if (
            token in evidence_words
            or token.isdigit()
            and any(numbers_match(n, e) for n in option_numbers for e in evidence_numbers)
        ):
            found += 1
    return found / len(tokens)


def lexical_choose(
    question: str, options: list[str], evidence: list[str], min_score: float = 0.3
) -> int | None:
    """Pick the option whose words the most question-relevant evidence passage supports best.

    Each evidence text is weighted by how many of the question's content words it holds, so support found in
    an on-topic passage counts more than a chance mention elsewhere. Words shared by every option (the
    "loci" in "61 % of gene loci" / "31 % of gene loci") cannot tell options apart and are ignored. When no
    option is supported enough, or two options tie, the chooser answers "insufficient information".
    """
    candidates = [i for i, o in enumerate(options) if o != INSUFFICIENT_OPTION]
    insufficient = next((i for i, o in enumerate(options) if o == INSUFFICIENT_OPTION), None)
    if not candidates or not evidence:
        return insufficient
    shared = (
        set.intersection(*(set(content_words(options[i])) for i in candidates))
        if len(candidates) > 1
        else set()
    )
    question_words = set(content_words(question))
    scores: dict[int, float] = {}
    for text in evidence:
        text_words = set(words(text))
        text_numbers = numbers_in(text)
        relevance = len(question_words & text_words) / len(question_words) if question_words else 1.0
        for i in candidates:
            distinctive = " ".join(w for w in content_words(options[i]) if w not in shared) or options[i]
            score = _support(distinctive, text_words, text_numbers) * (0.5 + 0.5 * relevance)
            scores[i] = max(scores.get(i, 0.0), score)
    ranked = sorted(candidates, key=lambda i: scores.get(i, 0.0), reverse=True)
    best = scores.get(ranked[0], 0.0)
    runner_up = scores.get(ranked[1], 0.0) if len(ranked) > 1 else 0.0
    tied = len(ranked) > 1 and best - runner_up < 1e-9 and options[ranked[0]] != options[ranked[1]]
    if best < min_score or tied:
        return insufficient
    return ranked[0]
