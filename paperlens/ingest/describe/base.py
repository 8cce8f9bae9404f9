"""Visual crop -> structured text. One Protocol here; each backend lives in its own file.

A describer turns the PNG crop of a figure, table or formula (plus the caption and the sentences that cite
it) into a ``Description``: a summary, a Markdown table, LaTeX, the values shown, and one flattened ``text``
that becomes the element's searchable description.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from paperlens.models import Element


class DescribeRequest(BaseModel):
    element: Element
    image_path: Path  # absolute path of the crop PNG
    context: str = ""  # caption + sentences that reference the element


class Description(BaseModel):
    kind: str = ""  # figure | table | formula | chart | ... as the describer saw it
    summary: str = ""
    markdown: str | None = None  # tables: every cell
    latex: str | None = None  # formulas
    values: list[str] = Field(default_factory=list)  # numbers shown, as "label: value"
    axes: list[str] = Field(default_factory=list)  # charts: axis titles with units
    series: list[str] = Field(default_factory=list)  # charts: legend entries
    visible_text: str = ""  # text read off the image (OCR or the model's transcription)
    text: str = ""  # everything above flattened into one retrievable text
    structured: bool = True  # False: the model's output was not valid JSON and is kept as plain text
    raw: str = ""  # the backend's output as received
    extra: dict[str, Any] = Field(default_factory=dict)  # other JSON fields the model returned


@runtime_checkable
class Describer(Protocol):
    name: str  # backend, e.g. "offline", "qwen-vl", "gemini"
    model: str  # model name or path, part of the cache key
    prompt_version: str  # bump when prompts or output handling change, so cached text is redone

    def describe(self, requests: list[DescribeRequest]) -> list[Description]:
        """One description per request, in order. Never drops a request."""
        ...
