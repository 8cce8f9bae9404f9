"""Put back the spaces OCR leaves out: "Instagramhasopeneditsdoorstoall" -> "Instagram has opened its doors to all".

The offline OCR (PP-OCR through rapidocr) often reads a line of English without its spaces. On mmlb_dev's
slide decks saved as images, 10-20 % of the words came out glued like that, and a glued run is one unknown
token to BM25 and a string of sub-word pieces to the embedder: the slide's words are not findable.

Only lines that read as glued are touched (more than ``_GLUED_CHARS_PER_WORD`` characters per space; English
runs about six): OCR of a scanned paper with its spaces intact keeps every word as it was read.

wordninja splits a run by English word frequencies. Real long words must survive, so a run is split only when
it falls into three or more pieces (or two, one of them a short function word: "Accessto", "aweek") that each
read as a word: one-letter pieces only "a" and "I", two-letter pieces only common words, at least
``_MIN_MEAN`` letters a piece on average. An unknown term falls apart into fragments ("phosphatidylinositol"
into "ph os phat ...") and a long known one into two ("transcription ally", "Insta gram"): both stay whole.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

_RUN = re.compile(r"[A-Za-z][A-Za-z']{7,}")  # runs of 8+ letters: shorter ones are words or names
_MIN_MEAN = 3.0
_GLUED_CHARS_PER_WORD = 12
_FUNCTION_WORDS = frozenset("a i an and as at by for in of on or the to".split())
_ONE_LETTER_WORDS = frozenset("aAI")
_TWO_LETTER_WORDS = frozenset(
    "am an as at be by do go he if in is it me my no of on or so to up us we".split()
)


@cache
def _model() -> Any:
    import wordninja

    return wordninja.DEFAULT_LANGUAGE_MODEL


def _split(run: str) -> str:
    pieces = _model().split(run)
    if "".join(pieces) != run or len(pieces) < 2:
        return run
    if len(pieces) == 2 and not any(p.lower() in _FUNCTION_WORDS for p in pieces):
        return run
    for piece in pieces:
        if len(piece) == 1 and piece not in _ONE_LETTER_WORDS:
            return run
        if len(piece) == 2 and piece.lower() not in _TWO_LETTER_WORDS:
            return run
    if sum(len(p) for p in pieces) / len(pieces) < _MIN_MEAN:
        return run
    return " ".join(pieces)


def respace(line: str) -> str:
    """One OCR line with each glued run of words split at its most likely word boundaries; a line that is not
    glued comes back as it was."""
    if len(line) <= _GLUED_CHARS_PER_WORD * (line.count(" ") + 1):
        return line
    return _RUN.sub(lambda m: _split(m.group(0)), line)


# ---------------------------------------------------------------- text layer: a space the PDF left out

# A lower-case run that is no English word but reads as two or more ("whichprovided", "essentialfor",
# "theircytoskeletal"): the PDF set the words apart with a glyph position and no space character, closer than
# the gap at which PyMuPDF puts a space back. On litqa_dev's 42 PDFs about a dozen such runs; unknown terms
# there number thousands ("microstimulation", "mesothelin"), so a split must read as words beyond doubt: every
# piece a word, two-letter pieces only common ones, at least one function word of three letters or more, and
# four letters a piece on average ("annotator" is not "an not at or", "endothelial" not "endo the li al").
_GLUED_RUN = re.compile(r"(?<![\w\-/.@])[a-z]{7,}(?![\w\-/@])")
_GLUE_WORDS = frozenset(
    """the and for that which their this these those with from was were are than not its our has have had
    been into onto when where while also both each such there they them""".split()
)
_MIN_GLUED_MEAN = 4.0


def _split_glued(run: str) -> str:
    words = _model()._wordcost  # noqa: SLF001 (wordninja's word list has no public accessor)
    if run in words:
        return run
    pieces = _model().split(run)
    if len(pieces) < 2 or "".join(pieces) != run or not any(p in _GLUE_WORDS for p in pieces):
        return run
    for piece in pieces:
        if piece not in words or len(piece) == 1 and piece != "a":
            return run
        if len(piece) == 2 and piece not in _TWO_LETTER_WORDS:
            return run
    if sum(len(p) for p in pieces) / len(pieces) < _MIN_GLUED_MEAN:
        return run
    return " ".join(pieces)


def split_glued_words(text: str) -> str:
    """Running text from a text layer with each lower-case run that reads as glued words split into them;
    known words and unknown terms stay whole."""
    return _GLUED_RUN.sub(lambda m: _split_glued(m.group(0)), text)
