"""Prompts and the tolerant parser of model output: pure functions over strings."""

from __future__ import annotations

import json
from pathlib import Path

from paperlens.ingest.describe import DescribeRequest, parse_model_output
from paperlens.ingest.describe.prompts import describe_with_retry, flatten, instruction_for
from paperlens.models import Element, ElementKind

TABLE_JSON = {
    "kind": "table",
    "summary": "SciBERT beats BERT-Base on all five tasks.",
    "markdown": "| Task | BERT | SciBERT |\n|---|---|---|\n| NER | 85.1 | 87.3 |\n| PICO | 71.2 | 72.9 |",
    "values": [{"row": "NER", "column": "SciBERT", "value": 87.3}, "PICO / SciBERT: 72.9"],
    "visible_text": "Best results in bold.",
}


def test_well_formed_json_becomes_a_structured_description_with_every_field():
    description = parse_model_output(json.dumps(TABLE_JSON))
    assert description.structured is True
    assert description.kind == "table"
    assert description.summary.startswith("SciBERT beats")
    assert "| NER | 85.1 | 87.3 |" in description.markdown
    assert description.values == ["row=NER, column=SciBERT, value=87.3", "PICO / SciBERT: 72.9"]
    # The flattened text holds the words people search with and every table cell.
    for needle in ("SciBERT beats", "| PICO | 71.2 | 72.9 |", "87.3", "Best results in bold."):
        assert needle in description.text
    assert description.raw == json.dumps(TABLE_JSON)


def test_fenced_json_with_chatter_around_it_is_accepted():
    text = "Sure! Here is the description:\n```json\n" + json.dumps(TABLE_JSON) + "\n```\nHope this helps."
    description = parse_model_output(text)
    assert description.structured and description.kind == "table"
    assert "87.3" in description.text


def test_chart_fields_in_other_shapes_are_normalised():
    chart = {
        "kind": "chart",
        "summary": "Accuracy rises with model size.",
        "axes": {"x": "parameters (M)", "y": "accuracy (%)"},
        "series": ["ours", "baseline"],
        "values": {"ours @ 110M": "91.2", "baseline @ 110M": 88},
        "markdown": [["size", "ours"], ["110M", "91.2"]],
        "confidence": "high",
    }
    description = parse_model_output(json.dumps(chart))
    assert description.axes == ["x: parameters (M)", "y: accuracy (%)"]
    assert description.series == ["ours", "baseline"]
    assert "ours @ 110M: 91.2" in description.values
    assert description.markdown.splitlines()[0] == "| size | ours |"
    assert description.extra == {"confidence": "high"}
    assert "Axes: x: parameters (M); y: accuracy (%)" in description.text


def test_formula_latex_survives_with_backslashes():
    description = parse_model_output(
        '{"kind": "formula", "latex": "\\\\mathcal{L} = -\\\\sum_i y_i \\\\log p_i", "summary": "Cross-entropy."}'
    )
    assert description.latex == "\\mathcal{L} = -\\sum_i y_i \\log p_i"
    assert "$$ \\mathcal{L}" in flatten(description)


def test_malformed_output_is_kept_as_plain_text_and_never_raises():
    for text in [
        "The figure shows a bar chart of F1 scores.",
        '{"kind": "table", "summary": "cut off',
        "[1, 2]",
    ]:
        description = parse_model_output(text)
        assert description.structured is False
        assert description.raw == text
        assert description.text  # nothing lost
    garbage = parse_model_output("ab\x1d\x00c\ufffd d")
    assert garbage.structured is False and garbage.text == "ab c d"
    assert parse_model_output("").text == ""


def _request(kind: ElementKind, caption: str = "") -> DescribeRequest:
    element = Element(id="e", document_id="d", page=1, bbox=(0, 0, 1, 1), kind=kind, caption=caption)
    return DescribeRequest(element=element, image_path=Path("/nonexistent.png"), context=caption)


def test_instructions_differ_by_kind_and_carry_the_context():
    table = instruction_for("table", "Table 2: ablations")
    formula = instruction_for("formula")
    figure = instruction_for("figure", "Figure 4: loss vs. steps")
    assert "EVERY row and cell" in table and "Table 2: ablations" in table
    assert "LaTeX" in formula and "Context from the paper" not in formula
    assert '"axes"' in figure and '"series"' in figure and "Figure 4" in figure
    assert "not valid JSON" in instruction_for("table", retry=True)
    assert "not valid JSON" not in table


def test_malformed_answers_are_retried_once_and_only_those():
    answers = {
        False: ["not json at all", json.dumps({"kind": "figure", "summary": "A line chart."})],
        True: [json.dumps({"kind": "table", "summary": "Fixed on retry."})],
    }
    calls: list[tuple[int, bool]] = []

    def generate(requests, retry):
        calls.append((len(requests), retry))
        return answers[retry][: len(requests)]

    results = describe_with_retry([_request(ElementKind.TABLE), _request(ElementKind.FIGURE)], generate)
    assert calls == [(2, False), (1, True)]
    assert [r.structured for r in results] == [True, True]
    assert results[0].summary == "Fixed on retry."
    assert results[1].summary == "A line chart."


def test_twice_malformed_keeps_the_longer_plain_answer_and_both_raws():
    def generate(requests, retry):
        return ["short" if not retry else "a longer plain description of the chart"] * len(requests)

    (result,) = describe_with_retry([_request(ElementKind.FIGURE, "Figure 1")], generate)
    assert result.structured is False
    assert result.text == "a longer plain description of the chart"
    assert result.raw == "short\n---retry---\na longer plain description of the chart"
    assert result.kind == "figure"
    assert describe_with_retry([], generate) == []
