"""Benchmark datasets: a folder with ``pdfs/`` and ``questions.jsonl`` (see the bench README).

Two kinds of question share one file format family and may even be mixed in one file:

* page-evidence questions (MMLongBench-Doc): ``id, doc, doc_type, question, answer, answer_format,
  evidence_pages, evidence_sources``; retrieval is scored on pages inside the question's own document.
* key-passage questions (LitQA2): ``id, doc, question, answer, distractors, key_passage``; retrieval is
  scored on chunks over the whole corpus.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from paperlens.errors import BadInputError


class PageQuestion(BaseModel):
    kind: Literal["page"] = "page"
    id: str
    doc: str
    question: str
    answer: str = ""
    answer_format: str = "Str"
    doc_type: str = "unknown"
    evidence_pages: list[int] = Field(default_factory=list)
    evidence_sources: list[str] = Field(default_factory=list)
    #: a translated set's row keeps its original (``fa_*`` sets: ``question`` in Persian, this in English)
    question_en: str | None = None
    lang: str | None = None

    @field_validator("answer", mode="before")
    @classmethod
    def _answer_as_text(cls, value: object) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    @property
    def answerable(self) -> bool:
        return bool(self.evidence_pages)


class PassageQuestion(BaseModel):
    kind: Literal["passage"] = "passage"
    id: str
    doc: str
    question: str
    answer: str
    distractors: list[str] = Field(default_factory=list)
    key_passage: str
    question_en: str | None = None
    lang: str | None = None


Question = PageQuestion | PassageQuestion


class BenchDataset(BaseModel):
    name: str
    root: Path
    pdfs: list[Path]  # sorted by file name: the order documents are ingested in
    questions: list[Question]

    @property
    def page_questions(self) -> list[PageQuestion]:
        return [q for q in self.questions if isinstance(q, PageQuestion)]

    @property
    def passage_questions(self) -> list[PassageQuestion]:
        return [q for q in self.questions if isinstance(q, PassageQuestion)]


def parse_question(record: dict) -> Question:
    """One JSON record -> a typed question; the presence of ``key_passage`` / ``evidence_pages`` decides."""
    if "key_passage" in record:
        return PassageQuestion.model_validate({**record, "kind": "passage"})
    if "evidence_pages" in record:
        return PageQuestion.model_validate({**record, "kind": "page"})
    raise ValueError("a question needs either 'evidence_pages' (page evidence) or 'key_passage' (passage)")


def load_dataset(root: Path) -> BenchDataset:
    """Read a benchmark folder, checking that every question names a PDF that is there."""
    root = Path(root)
    pdf_dir = root / "pdfs"
    questions_file = root / "questions.jsonl"
    if not pdf_dir.is_dir() or not questions_file.is_file():
        raise BadInputError(f"{root} is not a benchmark folder: it needs pdfs/ and questions.jsonl")
    pdfs = sorted(p for p in pdf_dir.iterdir() if p.is_file() and p.suffix.lower() == ".pdf")
    names = {p.name for p in pdfs}
    questions: list[Question] = []
    with questions_file.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                question = parse_question(json.loads(line))
            except (json.JSONDecodeError, ValidationError, ValueError) as exc:
                raise BadInputError(f"{questions_file}:{lineno}: {exc}") from exc
            if question.doc not in names:
                raise BadInputError(f"{questions_file}:{lineno}: document {question.doc!r} is not in pdfs/")
            questions.append(question)
    if not questions:
        raise BadInputError(f"{questions_file} holds no questions")
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise BadInputError(f"{questions_file}: question ids are not unique")
    return BenchDataset(name=root.resolve().name, root=root, pdfs=pdfs, questions=questions)


def english_twin(dataset: BenchDataset) -> BenchDataset | None:
    """The rows of a translated set that keep their English original, asked in English (same ids and gold);
    None when no row does. ``paperlens bench`` scores both in one run, so the cross-lingual gap is one ratio."""
    rows = [
        q.model_copy(update={"question": q.question_en, "lang": "en"})
        for q in dataset.questions
        if q.question_en
    ]
    return dataset.model_copy(update={"questions": rows}) if rows else None


def sample_questions(dataset: BenchDataset, n: int | None, seed: int = 0) -> BenchDataset:
    """``n`` questions drawn at random with a fixed seed, in the dataset's own order; all of them when ``n`` is
    None or not smaller. The PDFs stay: passage questions search the whole corpus."""
    if n is None or n >= len(dataset.questions):
        return dataset
    if n < 1:
        raise ValueError("a sample needs at least one question")
    keep = sorted(random.Random(seed).sample(range(len(dataset.questions)), n))
    return dataset.model_copy(update={"questions": [dataset.questions[i] for i in keep]})
