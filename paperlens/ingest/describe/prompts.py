"""Per-kind prompts that ask a VLM for JSON, and the tolerant parser that turns its answer into a Description.

Models wrap JSON in ```json fences, add a sentence before it, or return plain prose. The parser accepts the
first two; anything that is not a JSON object is retried once with a stricter reminder, and if the retry is no
better the text is kept as plain text with ``structured=False``: output is never dropped and never raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from paperlens.ingest.describe.base import DescribeRequest, Description

#: Part of the cache key: change it whenever a prompt or the parsing changes, so old descriptions are redone.
PROMPT_VERSION = "vlm-1"

_COMMON = (
    "Answer with one JSON object and nothing else. Copy numbers, labels and symbols exactly as printed; "
    "never invent values that are not visible. Use null or [] for fields that do not apply."
)

_KIND_INSTRUCTIONS = {
    "table": (
        "The image is a table from a scientific paper. Return JSON with the keys: "
        '"kind": "table", "summary": one or two sentences on what the table compares and its main finding, '
        '"markdown": the whole table as a GitHub Markdown table with EVERY row and cell (header row first), '
        '"values": the most important numbers as "row / column: value" strings, '
        '"visible_text": any notes under the table.'
    ),
    "formula": (
        "The image is a mathematical formula from a scientific paper. Return JSON with the keys: "
        '"kind": "formula", "latex": the formula in LaTeX, '
        '"summary": one sentence on what it defines or computes, naming each symbol if the context says, '
        '"values": constants that appear in it.'
    ),
    "figure": (
        "The image is a figure from a scientific paper: a chart, plot, diagram or photo. Return JSON "
        'with the keys: "kind": one of "chart", "diagram", "image", '
        '"summary": what it shows and the main trend or take-away in two or three sentences, '
        '"axes": axis titles with units (charts), "series": legend entries (charts), '
        '"values": the numbers shown (bar heights, points, labels) as "label: value" strings, '
        '"visible_text": all other text printed in the image, '
        '"markdown": for charts, the plotted data as a Markdown table if it can be read.'
    ),
}

_RETRY_REMINDER = (
    "Your previous answer was not valid JSON. Reply again with ONLY the JSON object, starting with '{' and "
    "ending with '}', no prose and no code fences."
)


def instruction_for(kind: str, context: str = "", *, retry: bool = False) -> str:
    """The text part of the prompt for one crop: what to extract for its kind, plus the paper's context."""
    parts = [_KIND_INSTRUCTIONS.get(kind, _KIND_INSTRUCTIONS["figure"]), _COMMON]
    if context.strip():
        # The caption and citing sentences name what the axes and symbols mean; the image alone often cannot.
        parts.append(
            "Context from the paper (caption and sentences that cite it):\n" + context.strip()[:2000]
        )
    if retry:
        parts.append(_RETRY_REMINDER)
    return "\n\n".join(parts)


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


def _json_object(text: str) -> dict | None:
    """The first JSON object in ``text``: whole text, a fenced block, or the outermost braces."""
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return "\n".join(t for t in (_as_text(v) for v in value) if t)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    return str(value)


def _as_lines(value: Any) -> list[str]:
    """Lists, dicts and scalars the models return for "values"/"axes"/"series" -> a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        return [f"{k}: {_as_text(v)}" for k, v in value.items()]
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict):
                lines.append(", ".join(f"{k}={_as_text(v)}" for k, v in item.items()))
            elif (text := _as_text(item)) != "":
                lines.append(text)
        return lines
    return [_as_text(value)]


def _markdown(value: Any) -> str | None:
    if isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        rows = [[_as_text(c) for c in row] for row in value]  # a list of rows instead of Markdown
        head = "| " + " | ".join(rows[0]) + " |"
        rule = "|" + "---|" * len(rows[0])
        return "\n".join([head, rule] + ["| " + " | ".join(r) + " |" for r in rows[1:]])
    text = _as_text(value)
    return text or None


def flatten(description: Description) -> str:
    """One text for retrieval: summary first (it carries the words people ask with), then the details."""
    parts: list[str] = []
    if description.summary:
        parts.append(description.summary)
    if description.axes:
        parts.append("Axes: " + "; ".join(description.axes))
    if description.series:
        parts.append("Series: " + "; ".join(description.series))
    if description.markdown:
        parts.append(description.markdown)
    if description.latex:
        parts.append(f"$$ {description.latex} $$")
    if description.values:
        parts.append("Values: " + "; ".join(description.values))
    if description.visible_text:
        parts.append("Text in image: " + description.visible_text)
    return "\n".join(parts)


def plain_text(text: str) -> str:
    """Model output that is not JSON, cleaned of fences and control characters but otherwise kept."""
    text = _FENCE.sub(lambda m: m.group(1), text)
    text = _CONTROL.sub(" ", text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


_KNOWN = {"kind", "summary", "markdown", "latex", "values", "axes", "series", "visible_text", "text"}


def parse_model_output(text: str) -> Description:
    """Validate a model's answer. Never raises: anything that is not a JSON object comes back unstructured."""
    text = text or ""
    data = _json_object(text)
    if data is None:
        return Description(summary="", text=plain_text(text), structured=False, raw=text)
    description = Description(
        kind=_as_text(data.get("kind")),
        summary=_as_text(data.get("summary") or data.get("description")),
        markdown=_markdown(data.get("markdown")),
        latex=_as_text(data.get("latex")) or None,
        values=_as_lines(data.get("values")),
        axes=_as_lines(data.get("axes")),
        series=_as_lines(data.get("series")),
        visible_text=_as_text(data.get("visible_text") or data.get("text")),
        structured=True,
        raw=text,
        extra={k: v for k, v in data.items() if k not in _KNOWN and k != "description"},
    )
    description.text = flatten(description)
    if not description.text and description.extra:
        description.text = _as_text(description.extra)  # odd keys, but still the model's words
    return description


#: ``generate(requests, retry)`` -> one raw model answer per request.
GenerateFn = Callable[[list[DescribeRequest], bool], list[str]]


def describe_with_retry(requests: list[DescribeRequest], generate: GenerateFn) -> list[Description]:
    """Generate, parse, regenerate once (with a stricter reminder) for the answers that were not JSON."""
    if not requests:
        return []
    first = generate(requests, False)
    results = [parse_model_output(raw) for raw in first]
    malformed = [i for i, d in enumerate(results) if not d.structured]
    if malformed:
        second = generate([requests[i] for i in malformed], True)
        for i, raw in zip(malformed, second, strict=True):
            retried = parse_model_output(raw)
            if retried.structured:
                results[i] = retried
                continue
            # Keep the longer of the two plain answers as the text, and both as they came in ``raw``.
            best = retried if len(retried.text) > len(results[i].text) else results[i]
            results[i] = Description(text=best.text, structured=False, raw=f"{first[i]}\n---retry---\n{raw}")
    for request, result in zip(requests, results, strict=True):
        result.kind = result.kind or str(request.element.kind)
    return results
