"""Answering a question over retrieved evidence, whole or streamed, with the same checks either way.

``stream_answer`` yields Server-Sent-Event-ready dicts: ``token`` events with guarded text as the model writes
it, then one ``final`` event holding the checked ``Answer`` (citations resolved, links stripped, "not found"
made clean), or one ``error`` event with a stable code. The final answer text is authoritative: a client that
rendered the tokens should replace them with it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence

from paperlens.errors import PaperlensError
from paperlens.generate.base import NOT_FOUND, Generator
from paperlens.generate.citations import build_answer
from paperlens.generate.prompts import StreamGuard
from paperlens.models import Answer, Hit
from paperlens.text.lang import detect_language

log = logging.getLogger(__name__)

NO_EVIDENCE_WARNING = "no evidence was retrieved for this question"


def _no_evidence(generator: Generator) -> Answer:
    return Answer(
        answer=NOT_FOUND, citations=[], evidence=[], backend=generator.name, warnings=[NO_EVIDENCE_WARNING]
    )


def mark_languages(answer: Answer, question: str) -> Answer:
    """Set the languages of the answer, the question and each quote (by script, text/lang.py)."""
    answer.question_lang = detect_language(question).lang
    answer.lang = detect_language(answer.answer).lang
    for citation in answer.citations:
        citation.lang = detect_language(citation.quote).lang
    return answer


def answer_question(question: str, evidence: Sequence[Hit], generator: Generator) -> Answer:
    """Generate and check one answer. With no evidence the model is not asked (it could only make things up)."""
    evidence = list(evidence)
    if not evidence:
        return mark_languages(_no_evidence(generator), question)
    answer = build_answer(generator.generate(question, evidence), evidence, backend=generator.name)
    return mark_languages(answer, question)


def stream_answer(question: str, evidence: Sequence[Hit], generator: Generator) -> Iterator[dict]:
    """``{"event": "token", "data": {"text"}}``... then ``{"event": "final", "data": <Answer JSON>}``, or
    ``{"event": "error", "data": {"code", "message"}}``. Never raises for a generation failure."""
    evidence = list(evidence)
    if not evidence:
        answer = mark_languages(_no_evidence(generator), question)
        yield {"event": "token", "data": {"text": answer.answer}}
        yield {"event": "final", "data": answer.model_dump(mode="json")}
        return
    guard = StreamGuard(hit.text for hit in evidence)
    pieces = None
    try:
        pieces = generator.stream(question, evidence)
        for piece in pieces:
            released = guard.feed(piece)
            if released:
                yield {"event": "token", "data": {"text": released}}
        tail = guard.finish()
        if tail:
            yield {"event": "token", "data": {"text": tail}}
        answer = mark_languages(build_answer(guard.raw, evidence, backend=generator.name), question)
    except PaperlensError as exc:
        yield {"event": "error", "data": {"code": exc.code, "message": exc.message}}
        return
    except Exception:
        log.exception("answer generation failed")
        yield {"event": "error", "data": {"code": "internal_error", "message": "answer generation failed"}}
        return
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # a reader that went away stops a local model at its next token
    yield {"event": "final", "data": answer.model_dump(mode="json")}


def sse_format(event: dict) -> str:
    """One Server-Sent Event frame: ``event: token\\ndata: {...}\\n\\n`` (data as one line of JSON)."""
    return f"event: {event['event']}\ndata: {json.dumps(event['data'], ensure_ascii=False)}\n\n"
