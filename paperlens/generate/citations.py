"""Turn generated text with [n] markers into an Answer whose citations are checked against the evidence."""

from __future__ import annotations

import re
from collections.abc import Sequence

from paperlens.generate.base import NOT_FOUND
from paperlens.generate.prompts import (
    WITHHELD,
    is_not_found,
    looks_like_instruction,
    remove_citations,
    strip_external_links,
)
from paperlens.generate.text import (
    content_words,
    normalise_space,
    overlap,
    split_sentences,
    strip_section_prefix,
)
from paperlens.models import VISUAL_KINDS, Answer, Citation, Hit

_MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def cited_numbers(text: str) -> list[int]:
    numbers: list[int] = []
    for match in _MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            n = int(part)
            if n not in numbers:
                numbers.append(n)
    return numbers


def best_quote(claim: str, evidence_text: str, max_chars: int = 400) -> str:
    """The sentence of the evidence that best supports the claim: what a reader should look for on the page."""
    body = strip_section_prefix(evidence_text)
    claim = normalise_space(claim)
    # A quote is shown to the reader (maybe rendered as Markdown): never one carrying an injected instruction
    # or an image/link that would fetch a URL.
    sentences = [s for s in split_sentences(body) or [evidence_text] if not looks_like_instruction(s)]
    sentences = [strip_external_links(s, [evidence_text])[0] for s in sentences] or [WITHHELD]
    if len(claim) > 20:
        verbatim = [s for s in sentences if claim in s]
        if verbatim:  # the claim quotes the evidence (extractive answers): that sentence is the quote
            sentences = verbatim
    best = max(sentences, key=lambda s: (overlap(claim, s), -abs(len(s) - 160)))
    return best if len(best) <= max_chars else best[: max_chars - 1].rstrip() + "…"


_CLAIM = re.compile(r"([^\[\]]+?)((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)")


def claims(text: str) -> list[tuple[str, list[int]]]:
    """Pair each stretch of answer text with the markers that follow it: "A [1]. B [2][3]" ->
    [("A", [1]), (". B", [2, 3])]. A marker cites the text before it, as in a paper."""
    return [(m.group(1).strip(" .;:,"), cited_numbers(m.group(2))) for m in _CLAIM.finditer(text)]


def _claim_for(text: str, n: int) -> str:
    """The sentence of the answer that carries marker [n] (the claim the citation supports)."""
    for claim, numbers in claims(text):
        if n in numbers:
            sentences = split_sentences(claim)
            return sentences[-1] if sentences else claim
    return text


#: An uncited sentence is attributed to a passage holding at least this share of its content words.
ATTRIBUTION_OVERLAP = 0.6


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in re.findall(r"\d+(?:[.,]\d+)*", text)}


def attribute_sentences(text: str, evidence: Sequence[Hit]) -> tuple[str, list[int]]:
    """Cite an answer that cites nothing (small local models often don't): each sentence gets ``[n]`` for the
    passage holding most of its content words, if that is at least ATTRIBUTION_OVERLAP of them and three words
    or more; a sentence no passage supports stays uncited. Returns (text, the numbers attributed)."""
    out, numbers = [], []
    for sentence in split_sentences(text):
        words = content_words(sentence)
        scores = [overlap(sentence, strip_section_prefix(hit.text)) for hit in evidence]
        best = max(range(len(scores)), key=scores.__getitem__, default=None)
        # Numbers are what small models make up most: every number the sentence states must be in the passage.
        if best is not None and not _numbers(sentence) <= _numbers(evidence[best].text):
            best = None
        if best is None or len(words) < 3 or scores[best] < ATTRIBUTION_OVERLAP:
            out.append(sentence)
            continue
        n = best + 1
        body, end = (sentence[:-1], sentence[-1]) if sentence[-1] in ".!?" else (sentence, "")
        out.append(f"{body} [{n}]{end}")
        if n not in numbers:
            numbers.append(n)
    return " ".join(out), numbers


def build_answer(
    text: str,
    evidence: Sequence[Hit],
    backend: str,
    quotes: dict[int, str] | None = None,
) -> Answer:
    """Guard, parse and check an answer: strip links out of the papers, drop (and flag) citations that point at
    no evidence, attach page, bbox, kind and crop, and turn "not found" replies into a clean not-found answer."""
    warnings: list[str] = []
    hostile = [n for n, hit in enumerate(evidence, start=1) if looks_like_instruction(hit.text)]
    if hostile:
        listed = ", ".join(f"[{n}]" for n in hostile)
        warnings.append(f"evidence {listed} holds instruction-like text; it was withheld from the model")
    text, removed = strip_external_links(text, (hit.text for hit in evidence))
    if removed:
        warnings.append(
            f"{removed} link(s) or image(s) pointing outside the papers were removed from the answer"
        )
    numbers = cited_numbers(text)
    invalid = [n for n in numbers if not 1 <= n <= len(evidence)]
    if invalid:
        text = remove_citations(text, set(invalid))
        warnings.extend(f"citation [{n}] points to no evidence and was removed" for n in invalid)
    text = re.sub(r"\s+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    valid = [n for n in numbers if n not in invalid]
    first_sentence = (split_sentences(text) or [""])[0]
    if not text.strip():
        warnings.append("the generator returned no answer text")
        return Answer(
            answer=NOT_FOUND, citations=[], evidence=list(evidence), backend=backend, warnings=warnings
        )
    if is_not_found(text) and (not valid or is_not_found(first_sentence)):
        return Answer(
            answer=NOT_FOUND, citations=[], evidence=list(evidence), backend=backend, warnings=warnings
        )
    if not valid:
        text, valid = attribute_sentences(text, evidence)
        if valid:
            listed = ", ".join(f"[{n}]" for n in valid)
            warnings.append(
                f"the model cited nothing; {listed} attributed by matching its sentences to the evidence"
            )
        else:
            # A careful researcher does not present claims nothing supports: the reply is kept for the record only.
            warnings.append(
                f"the reply cites no evidence and no passage supports it, so it was withheld: {text[:300]!r}"
            )
            return Answer(
                answer=NOT_FOUND, citations=[], evidence=list(evidence), backend=backend, warnings=warnings
            )
    citations: list[Citation] = []
    for n in valid:
        hit = evidence[n - 1]
        quote = (quotes or {}).get(n) or best_quote(_claim_for(text, n), hit.text)
        citations.append(
            Citation(
                n=n,
                chunk_id=hit.chunk_id,
                document_id=hit.document_id,
                title=hit.title,
                page=hit.page,
                bbox=hit.bbox,
                kind=hit.kind,
                quote=quote,
                image_url=hit.image_url if hit.kind in VISUAL_KINDS else None,
            )
        )
    citations.sort(key=lambda c: c.n)
    return Answer(
        answer=text, citations=citations, evidence=list(evidence), backend=backend, warnings=warnings
    )
