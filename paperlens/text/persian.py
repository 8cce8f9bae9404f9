"""Persian (and Arabic-script) text folded to one spelling, so that the forms a writer happens to type match.

Persian is written with Arabic letters, and two of them have Arabic twins that keyboards and PDFs mix freely:
Arabic yeh "ي" / alef maksura "ى" beside Persian yeh "ی", Arabic kaf "ك" beside Persian kaf "ک". Digits come in
two Eastern sets (Persian "۲۰۱۸" and Arabic-Indic "٢٠١٨") that should match "2018" in an English paper. Some
PDFs store the contextual glyphs (Arabic presentation forms) instead of letters. ZWNJ (U+200C) joins the parts
of one Persian word ("می‌شود") without a visible space; writers drop it, double it or put it next to a space.

Every function here is pure and leaves text without Arabic-script letters, Eastern digits or zero-width marks
unchanged, so an English query or passage passes through as it came.
"""

from __future__ import annotations

import re
import unicodedata

ZWNJ = "\u200c"

_LETTERS = str.maketrans(
    {
        "\u064a": "\u06cc",  # ARABIC LETTER YEH -> ARABIC LETTER FARSI YEH
        "\u0649": "\u06cc",  # ARABIC LETTER ALEF MAKSURA -> FARSI YEH
        "\u0643": "\u06a9",  # ARABIC LETTER KAF -> ARABIC LETTER KEHEH (Persian kaf)
        "\u0640": None,  # ARABIC TATWEEL: a stretching stroke, not a letter
    }
)

# Persian (U+06F0..9) and Arabic-Indic (U+0660..9) digits, and the Arabic decimal, thousands and percent signs.
_DIGITS = str.maketrans(
    {
        **{chr(0x06F0 + i): str(i) for i in range(10)},
        **{chr(0x0660 + i): str(i) for i in range(10)},
        "\u066b": ".",
        "\u066c": ",",
        "\u066a": "%",
    }
)

# Short vowels and other marks above or below Arabic letters: rarely written in Persian, and a word written
# with them must still match the same word without.
_HARAKAT = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
# Contextual glyph forms (isolated/initial/medial/final) some PDFs hold instead of the letters themselves.
_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufefe]+")
# A ZWNJ means something only between two letters of one word: runs collapse to one, and one at a word's edge
# (beside a space, punctuation, the start or the end) is dropped.
_ZWNJ_RUN = re.compile(f"{ZWNJ}+")
_ZWNJ_AT_EDGE = re.compile(rf"(?<![^\W\d_]){ZWNJ}|{ZWNJ}(?![^\W\d_])")


def fold_presentation_forms(text: str) -> str:
    """Arabic presentation forms (glyphs) back to letters, e.g. "ﻛﺘﺎﺏ" -> "كتاب"; other text untouched."""
    return _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def fold_letters(text: str) -> str:
    """Arabic yeh/alef maksura -> Persian yeh, Arabic kaf -> Persian kaf; tatweel and harakat removed."""
    return _HARAKAT.sub("", text.translate(_LETTERS))


def ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits (and the Arabic decimal/thousands/percent signs) to ASCII."""
    return text.translate(_DIGITS)


def tidy_zwnj(text: str) -> str:
    """One ZWNJ between two letters stays; repeated ones collapse; one beside a non-letter goes."""
    if ZWNJ not in text:
        return text
    return _ZWNJ_AT_EDGE.sub("", _ZWNJ_RUN.sub(ZWNJ, text))


def fold_persian(text: str) -> str:
    """The one spelling search uses for Arabic-script text: glyph forms, letters, digits and ZWNJ folded."""
    return tidy_zwnj(ascii_digits(fold_letters(fold_presentation_forms(text))))
