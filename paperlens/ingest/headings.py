"""Can a short, large or bold line be a section title? Text-only checks that every layout backend shares.

Size and weight pick out headings, but also what else is set large or bold outside a figure region: the
author list under a paper's title, panel letters ("f g"), axis labels and stray symbols ("*** ***"), a
sentence broken across a column ("...the closed-ring hex-"). A heading names the section of every chunk
under it, up to the next heading and across pages, and that "[section]" prefix is embedded and indexed with
each chunk. On litqa_dev's 42 papers such false headings named the section of 650 of the 3,900 chunks that
have one: "f g" alone of 90, one paper's author list of 89.
"""

from __future__ import annotations

import re

from paperlens.ingest.captions import starts_with_figure_or_table_number

_LETTERS = re.compile(r"[^\W\d_]{3,}")  # a word of three letters or more
_BROKEN_WORD = re.compile(r"[^\W\d_]-$")  # "...the closed-ring hex-": a line that ends mid-word
_NAME_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*")
_NAME_SEPARATOR = re.compile(r",|·|\s(?:and|&)\s")
# "Hundley2*", "Yu1,2": a name's last (lower-case) letter, then affiliation numbers ("COVID19" and
# "December2012" are no names).
_AFFILIATION = re.compile(r"[*†‡§¶]|[a-z]\d{1,2}(?:,\d{1,2})*\b")
_INITIAL = re.compile(r"\b[A-Z]\.")
# Lower-case words that names hold ("Ludwig van Beethoven", "Ana de la Cruz").
_PARTICLES = {"and", "de", "da", "das", "del", "della", "der", "den", "di", "do", "dos", "du", "la", "le", "van",
              "von", "y", "bin", "al", "el", "ter", "zu"}  # fmt: skip


def reads_as_author_list(text: str) -> bool:
    """ "Sam Cox and Andrew D. White*", "Bangjun Zhou1,2, Huihui Yu1,2 & Bin Yu 1,2": capitalised names, joined
    by commas or "and", with affiliation marks or initials. Title-case headings ("Materials and Methods") have
    the names' shape but no marks."""
    words = _NAME_TOKEN.findall(text)
    if len(words) < 3 or any(not w[0].isupper() and w.lower() not in _PARTICLES for w in words):
        return False
    if not _NAME_SEPARATOR.search(text):
        return False
    return bool(_AFFILIATION.search(text)) or len(_INITIAL.findall(text)) >= 2


def can_be_section_title(text: str) -> bool:
    """False for set-apart text that names no section: letters or symbols with no word of 3+ letters (panel
    letters), a sentence fragment (it starts in lower case and ends in a full stop, or ends in a hyphen), a
    numbered figure or table caption, or an author list.

    A number set large stays a possible heading ("36%", "2015"): on slides it is the headline of the page, and
    passing it over gives the page the previous slide's heading (measured on mmlb_dev: recall@1 0.516 -> 0.502
    when numbers were refused too)."""
    text = text.strip()
    if not _LETTERS.search(text) and not any(ch.isdigit() for ch in text):
        return False
    if _BROKEN_WORD.search(text) or (text[0].islower() and text.endswith(".")):
        return False
    if starts_with_figure_or_table_number(text):
        return False  # set bold or large, a caption reads as a heading, but it names no section
    return not reads_as_author_list(text)
