"""Captions and the sentences that cite figures, tables and equations. Pure functions over strings.

A caption starts with its label ("Figure 3:", "Fig. 3.", "Table 2 |", "TABLE II."); running text cites the
same label ("as shown in Fig. 3", "Table 2 lists", "Eq. (4)"). Matching the two keys lets a question about
"Figure 3" land on the figure, and the sentences that discuss it travel with it.
"""

from __future__ import annotations

import re

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}
_NUMBER = r"(\d+|[IVX]{1,4}\b)"
_CAPTION = re.compile(
    rf"^\s*(Figure|Fig\.?|FIGURE|FIG\.?|Table|TABLE|Tab\.|Algorithm|ALGORITHM)\s*{_NUMBER}\s*(?:[:.|—–-]|$)",
)
_REFERENCE = re.compile(
    rf"\b(Figures?|Figs?\.?|FIGURES?|Tables?|Tabs?\.|TABLES?|Equations?|Eqs?\.|Eqn\.?)\s*~?\(?{_NUMBER}\)?",
)
# A numbered figure or table label, also in the styles caption_label leaves to running text: Springer's
# "Fig. 2 Protein-protein docking..." (no mark after the number) and supplementary labels ("Fig EV3.",
# "Supplementary Figure 6.", "Table S3."), whose numbers would collide with the main figures' in a Label.
_NUMBERED_LABEL_START = re.compile(
    r"^(?:Supplementary\s+|Extended\s+Data\s+)?(?:Fig(?:ure)?s?\.?|FIG(?:URE)?S?\.?|Table|TABLE)\s*(?:S|EV)?\d+\b"
)
_EQUATION_NUMBER = re.compile(r"\((\d{1,3})\)\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")

Label = tuple[str, int]  # ("figure" | "table" | "equation", number)


def _kind_of(word: str) -> str:
    w = word.lower()
    if w.startswith("fig"):
        return "figure"
    if w.startswith("tab"):
        return "table"
    if w.startswith("alg"):
        return "algorithm"
    return "equation"


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _ROMAN.get(token, 0)


def caption_label(text: str) -> Label | None:
    """("figure", 3) for "Figure 3: ...", None when the text is not a caption."""
    m = _CAPTION.match(text)
    if not m:
        return None
    number = _number(m.group(2))
    return (_kind_of(m.group(1)), number) if number else None


def starts_with_figure_or_table_number(text: str) -> bool:
    """True for text that opens with a numbered figure or table label ("Fig. 2 ...", "Table S3. ..."), whether or
    not caption_label takes it for a caption."""
    return bool(_NUMBERED_LABEL_START.match(text))


def equation_label(text: str) -> Label | None:
    """("equation", 4) for a display formula that ends with its number "(4)"."""
    m = _EQUATION_NUMBER.search(text)
    return ("equation", int(m.group(1))) if m else None


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def cited_labels(sentence: str) -> set[Label]:
    labels = set()
    for m in _REFERENCE.finditer(sentence):
        number = _number(m.group(2))
        if number:
            labels.add((_kind_of(m.group(1)), number))
    return labels


def collect_references(
    texts: list[str], wanted: set[Label], per_label: int = 5, max_chars: int = 400
) -> dict[Label, list[str]]:
    """For each wanted label, the first sentences (in document order) that cite it."""
    found: dict[Label, list[str]] = {label: [] for label in wanted}
    for text in texts:
        if not _REFERENCE.search(text):
            continue
        for sentence in split_sentences(text):
            if caption_label(sentence):
                continue  # the caption itself is not a reference to it
            for label in cited_labels(sentence) & wanted:
                bucket = found[label]
                if len(bucket) < per_label and sentence not in bucket:
                    bucket.append(sentence[:max_chars])
    return found
