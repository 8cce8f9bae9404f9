"""The one normalisation of extracted text and of queries.

PDFs spell words with typography a reader never types: ligature glyphs ("ﬂuid" is one character), soft
hyphens, non-breaking and thin spaces, fullwidth letters, math-italic letters (𝑥), subscript digits (CO₂),
words broken over a line end ("retrie-" / "val"). FTS5 and the embedders' tokenizers treat each of those as a
different word, so the passage that says "fluid shear stress" is not found by a query that types it.

``normalize_text`` folds Unicode compatibility forms, character by character, where folding keeps the meaning:

- folded: ligatures (ﬁ -> fi), compatibility variants (µ -> μ, ϵ -> ε, … -> ..., Ⅳ -> IV, ℃ -> °C), fullwidth
  and halfwidth forms, Arabic presentation forms, circled and squared forms, odd spaces (no-break, thin) to a
  space, the Unicode hyphens to "-", styled math letters (𝑥 -> x, 𝛼 -> α, ℓ -> l) and subscripts (CO₂ -> CO2,
  x₁ -> x1): what a reader types for them;
- kept: Greek letters and math symbols (they are what they are), superscripts (x², 10⁻³, m²: folding turns
  them into "x2" and "10−3", another number) and double-struck letters (ℝ, 𝔼: a set or an expectation, not R
  or E);
- removed: soft hyphens and zero-width spaces, invisible marks that split a word for a tokenizer. The
  zero-width non-joiner stays: Persian writes with it.

Ligatures are best never extracted at all: the parser asks PyMuPDF to expand them (its text flags, see
``ingest.layout.extract``); folding them here covers OCR text, descriptions and queries pasted from a PDF.

``normalize_query`` is the single entry point for a query, used by every retrieval path (keyword, dense,
rerank), so a language-specific folding can be added in one place.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from paperlens.text.persian import fold_persian

SOFT_HYPHEN = "\u00ad"
_REMOVED = frozenset({SOFT_HYPHEN, "\u200b", "\u2060", "\ufeff"})
_HYPHENS = frozenset({"\u2010", "\u2011"})  # HYPHEN, NON-BREAKING HYPHEN: readers type "-"
#: Decomposition tags that keep their character (see the module docstring for why).
_KEPT_TAGS = frozenset({"<super>"})
_SPACES = re.compile(r"\s+")


@cache
def _fold_char(ch: str) -> str:
    if ch in _REMOVED:
        return ""
    if ch in _HYPHENS:
        return "-"
    decomposition = unicodedata.decomposition(ch)
    if not decomposition.startswith("<"):
        return ch  # no compatibility mapping (canonical forms are composed by NFC afterwards)
    tag = decomposition.split(" ", 1)[0]
    if tag in _KEPT_TAGS:
        return ch
    if tag == "<font>" and "DOUBLE-STRUCK" in unicodedata.name(ch, ""):
        return ch
    folded = unicodedata.normalize("NFKC", ch)
    return "".join(_fold_char(c) for c in folded) if folded != ch else ch


class _FoldTable(dict):
    """``str.translate`` table filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        value = _fold_char(chr(code))
        self[code] = value
        return value


_FOLD = _FoldTable()


def normalize_text(text: str) -> str:
    """``text`` with compatibility forms folded where safe, invisible marks removed, and composed (NFC).

    Line breaks and spacing are kept as they are; idempotent."""
    if text.isascii():
        return text
    # Persian/Arabic letter forms, Eastern digits and ZWNJ get one spelling, so "۲۰۱۸" meets "2018".
    return fold_persian(unicodedata.normalize("NFC", text.translate(_FOLD)))


def normalize_query(text: str) -> str:
    """A query as the indexes see it: normalised like stored text, whitespace collapsed, trimmed."""
    return _SPACES.sub(" ", normalize_text(text or "")).strip()


# ---------------------------------------------------------------- words broken over a line end

_HYPHEN_END = re.compile(r"(\S*?)([^\W\d_]+)-$")  # "...state-of-the-" -> prefix "state-of-the", piece "the"
_TAIL_WORD = re.compile(r"[^\W\d_]+")
# Prefixes that papers, above all in the life sciences, join solid to the next word; broken at a line end
# ("trans-" / "membrane") the hyphen is the break's. "self-" is not among them: it keeps its hyphen.
_SOLID_PREFIXES = frozenset(
    """anti auto bio co counter cross de dis down extra hetero homo hyper hypo inter intra macro micro mid mono
    multi nano neo non over photo poly post pre pro pseudo re semi sub super trans tri ultra un under up""".split()
)


@cache
def _vocabulary() -> dict[str, float]:
    """English word costs (wordninja's frequency list, ~126k words): which of "retrie"+"val" and "self"+
    "supervised" is a word when joined."""
    import wordninja

    return wordninja.DEFAULT_LANGUAGE_MODEL._wordcost  # noqa: SLF001 (the list has no public accessor)


def is_word(word: str) -> bool:
    return word.lower() in _vocabulary()


def _cost(word: str) -> float:
    return _vocabulary()[word.lower()]


def break_hyphen_joins(head: str, tail: str) -> str | None:
    """How the end of one line and the start of the next join when the first ends in a hyphen.

    Returns the joiner: "" (a break hyphen: drop it, "retrie-" + "val" -> "retrieval", "PEG-malei-" + "mide"
    -> "PEG-maleimide"), "-" (a real hyphen that fell at the line end: "state-of-the-" + "art", "COVID-" +
    "19", "SARS-" + "CoV-2", "self-" + "supervised"), or None when ``head`` does not end in a hyphen after a
    letter."""
    if head.endswith(SOFT_HYPHEN):
        return ""
    if not head.endswith(("-", "\u2010", "\u2011")):
        return None
    match = _HYPHEN_END.search(head[:-1] + "-")
    if not match or not tail or not tail[0].isalnum():
        return None
    piece = match.group(2)
    if not tail[0].islower() or not piece.islower() and not piece[1:].islower():
        return "-"  # a digit or capital after it ("COVID-19", "SARS-CoV"), an acronym before it ("T-cell")
    rest = _TAIL_WORD.match(tail)
    tail_piece = rest.group(0) if rest else ""
    joined = piece + tail_piece
    if piece.lower() in _SOLID_PREFIXES:
        return ""  # scientific prose writes these solid: "transmembrane", "overexpression", "subpopulation"
    if len(piece) > 1 and is_word(piece) and is_word(tail_piece):
        # Both halves are words: a compound ("self-supervised", "state-of-the-art") unless the joined word
        # is a word more common than the two together ("with-" + "out", "some-" + "times").
        return "" if is_word(joined) and _cost(joined) < _cost(piece) + _cost(tail_piece) else "-"
    # A half that is no word: a word broken in two ("retrie-" + "val", "PEG-malei-" + "mide"), also one the
    # list does not know ("mechano-" + "transduction").
    return ""


def join_lines(lines: list[str]) -> str:
    """The lines of one block as running text: a space between lines, a word broken over a line end whole."""
    out = ""
    for line in filter(None, (raw.strip() for raw in lines)):
        joiner = break_hyphen_joins(out, line) if out else None
        out = (f"{out} {line}" if out else line) if joiner is None else out[:-1] + joiner + line
    return _SPACES.sub(" ", out).strip().rstrip(SOFT_HYPHEN)


def join_across(head: str, tail: str) -> tuple[str, str] | None:
    """A word broken between two blocks (a column or page break: "...pretraining cor-" | "pus contains..."):
    the whole word moves to the end of ``head`` and leaves ``tail``. None when nothing is broken there."""
    head, tail = head.rstrip(), tail.lstrip()
    if not tail or not tail[0].islower():
        return None
    joiner = break_hyphen_joins(head, tail)
    if joiner is None:
        return None
    first, _, rest = tail.partition(" ")
    return head[:-1] + joiner + first, rest.lstrip()
