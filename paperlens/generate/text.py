"""Small pure text helpers shared by answer generation and citation checking."""

from __future__ import annotations

import re

from paperlens.text import tokens

_SECTION_PREFIX = re.compile(r"^\[[^\]\n]{1,200}\]\s*")
# Split after . ! ? when followed by a capital, digit or bracket; avoid common abbreviations in papers.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
_ABBREVIATIONS = (
    "et al.",
    "e.g.",
    "i.e.",
    "Fig.",
    "Figs.",
    "Eq.",
    "Eqs.",
    "cf.",
    "vs.",
    "No.",
    "Sec.",
    "Tab.",
)


def strip_section_prefix(text: str) -> str:
    """Chunks carry their section title as "[Title] ..." for retrieval; quotes must not include it."""
    return _SECTION_PREFIX.sub("", text, count=1)


def split_sentences(text: str) -> list[str]:
    """Sentences, never across a line break: chunk text puts each element (paragraph, caption, a
    description's "Text in image:" line) on its own line, and a sentence does not run from one into the next."""
    sentences: list[str] = []
    for line in text.splitlines():
        start = len(sentences)
        for piece in _SENTENCE_END.split(" ".join(line.split())):
            if len(sentences) > start and sentences[-1].endswith(_ABBREVIATIONS):
                sentences[-1] += " " + piece
            else:
                sentences.append(piece)
    return [s.strip() for s in sentences if s.strip()]


def content_words(text: str) -> set[str]:
    return set(tokens.content_words(text, lone_digits=False))


def overlap(question: str, sentence: str) -> float:
    """Share of the question's content words found in the sentence (0..1)."""
    q = content_words(question)
    if not q:
        return 0.0
    return len(q & content_words(sentence)) / len(q)


def normalise_space(text: str) -> str:
    return " ".join(text.split())
