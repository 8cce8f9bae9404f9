"""Request bodies. Unknown fields are rejected, so a typo is a clear 422 instead of a silent default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from paperlens.models import ElementKind


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Body):
    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(8, ge=1, le=100)
    document_ids: list[str] | None = Field(None, max_length=1000)
    kinds: list[ElementKind] | None = None
    pages: tuple[int, int] | None = Field(None, description="inclusive 1-based page range")


class AskRequest(_Body):
    question: str = Field(min_length=1, max_length=4000)
    k: int | None = Field(None, ge=1, le=50)
    document_ids: list[str] | None = Field(None, max_length=1000)
    stream: bool = False
