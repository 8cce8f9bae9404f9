"""Loading benchmark folders of both question formats, and rejecting malformed ones with a clear error."""

from __future__ import annotations

import json

import pytest

from paperlens.errors import BadInputError
from paperlens.eval.datasets import PageQuestion, PassageQuestion, load_dataset, sample_questions

PAGE = {
    "id": "q1",
    "doc": "a.pdf",
    "doc_type": "Research report / Introduction",
    "question": "How many?",
    "answer": "8",
    "answer_format": "Int",
    "evidence_pages": [2, 3],
    "evidence_sources": ["Table"],
}
PASSAGE = {
    "id": "q2",
    "doc": "b.pdf",
    "question": "Which?",
    "answer": "x",
    "distractors": ["y", "z"],
    "key_passage": "x is the one",
}


def _folder(tmp_path, records, pdfs=("a.pdf", "b.pdf")):
    (tmp_path / "pdfs").mkdir()
    for name in pdfs:
        (tmp_path / "pdfs" / name).write_bytes(b"%PDF-1.4 placeholder " + name.encode())
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    return tmp_path


def test_loads_both_formats_in_file_order(tmp_path):
    unanswerable = {
        **PAGE,
        "id": "q3",
        "evidence_pages": [],
        "answer": "Not answerable",
        "answer_format": "None",
    }
    ds = load_dataset(_folder(tmp_path, [PAGE, PASSAGE, unanswerable]))
    assert [q.id for q in ds.questions] == ["q1", "q2", "q3"]
    assert isinstance(ds.questions[0], PageQuestion) and isinstance(ds.questions[1], PassageQuestion)
    assert [q.id for q in ds.page_questions] == ["q1", "q3"]
    assert ds.page_questions[0].answerable and not ds.page_questions[1].answerable
    assert ds.passage_questions[0].distractors == ["y", "z"]
    assert [p.name for p in ds.pdfs] == ["a.pdf", "b.pdf"]


def test_list_answers_given_as_json_become_text(tmp_path):
    ds = load_dataset(_folder(tmp_path, [{**PAGE, "answer": [1500, 8000], "answer_format": "List"}]))
    assert ds.questions[0].answer == "[1500, 8000]"


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{**PAGE, "doc": "missing.pdf"}], "not in pdfs"),
        ([{"id": "x", "doc": "a.pdf", "question": "?"}], "evidence_pages"),
        ([PAGE, PAGE], "not unique"),
        ([], "no questions"),
    ],
)
def test_rejects_bad_folders(tmp_path, records, message):
    with pytest.raises(BadInputError, match=message):
        load_dataset(_folder(tmp_path, records))


def test_rejects_folder_without_layout(tmp_path):
    with pytest.raises(BadInputError, match="pdfs/ and questions.jsonl"):
        load_dataset(tmp_path)


def test_reports_line_of_broken_json(tmp_path):
    folder = _folder(tmp_path, [PAGE])
    with (folder / "questions.jsonl").open("a") as fh:
        fh.write("{not json\n")
    with pytest.raises(BadInputError, match=r"questions.jsonl:3"):
        load_dataset(folder)


def test_reads_the_shared_dev_sets(shared_bench):
    mmlb = load_dataset(shared_bench / "mmlb_dev")
    assert len(mmlb.pdfs) == 37 and len(mmlb.page_questions) == 318
    assert sum(1 for q in mmlb.page_questions if not q.answerable) == 77
    litqa = load_dataset(shared_bench / "litqa_dev")
    assert len(litqa.passage_questions) == 40 and len(litqa.pdfs) == 42


def test_a_sample_is_seeded_keeps_file_order_and_all_pdfs(tmp_path):
    records = [{**PAGE, "id": f"q{n}"} for n in range(20)]
    ds = load_dataset(_folder(tmp_path, records))
    first = sample_questions(ds, 5, seed=0)
    ids = [q.id for q in first.questions]
    assert len(ids) == 5 and len(set(ids)) == 5
    assert ids == sorted(ids, key=lambda i: int(i[1:]))  # the dataset's order, not the draw's
    assert [q.id for q in sample_questions(ds, 5, seed=0).questions] == ids  # reproducible
    assert [q.id for q in sample_questions(ds, 5, seed=1).questions] != ids
    assert first.pdfs == ds.pdfs and len(ds.questions) == 20  # the original is left whole
    assert sample_questions(ds, None) is ds and sample_questions(ds, 50) is ds
    with pytest.raises(ValueError):
        sample_questions(ds, 0)
