"""Extractive answers quote evidence sentences; a quoted sentence's own reference markers must not become
citations (found on S2ORC: "... as in [15]" read as citation [15], which was then flagged as invalid)."""

from __future__ import annotations

import numpy as np

from paperlens.generate import answer_question
from paperlens.generate.extractive import ExtractiveGenerator
from paperlens.models import ElementKind, Hit


class BagOfWords:
    """A deterministic stand-in embedder (the extractive ranking, not the embedding, is under test)."""

    name = "bow"
    model = "bow"
    dim = 64

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in text.lower().split():
            v[sum(map(ord, word.strip(".,()[]"))) % self.dim] += 1
        return v / (np.linalg.norm(v) or 1.0)

    def embed_passages(self, texts):
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text):
        return self._vector(text)


def test_quoted_reference_markers_do_not_become_citations():
    evidence = [
        Hit(
            chunk_id=1,
            document_id="d",
            page=4,
            bbox=(0, 0, 1, 1),
            kind=ElementKind.TEXT,
            text="The field deployment study recruited six participants [15, 2]. Unrelated words follow here.",
            score=1.0,
        ),
        Hit(
            chunk_id=2, document_id="d", page=5, bbox=(0, 0, 1, 1), kind=ElementKind.TEXT, text="x", score=0.5
        ),
    ]
    generator = ExtractiveGenerator(BagOfWords(), max_sentences=1)
    answer = answer_question("How many participants were in the field deployment study?", evidence, generator)
    assert answer.answer == "The field deployment study recruited six participants (ref. 15, 2). [1]"
    assert [c.n for c in answer.citations] == [1] and answer.warnings == []
    assert answer.citations[0].quote == evidence[0].text.split(" Unrelated")[0]
