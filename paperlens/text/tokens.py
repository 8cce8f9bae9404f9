"""The one word tokeniser and stopword list: the keyword query, the answerers' word overlap and the bench's
option support all split text the same way and skip the same words."""

from __future__ import annotations

import re

WORD = re.compile(r"\w+")

# Function words: they say nothing about which passage (or which answer option) is meant. Small and
# domain-neutral; "not", "no" and "than" go too, since every option and passage has them.
STOPWORDS = frozenset(
    """a an and are as at be been being by can could did do does for from had has have he her his how i in
    into is it its may might not no of on or our she should than that the their them then there these they
    this those to was we were what when where which who whom whose why will with would you your also such""".split()
)
# The words a question uses for the paper itself ("according to the paper, what does figure 2 show"): noise
# in a keyword query over papers, but words like any other in a sentence an answer quotes ("1.14M papers").
QUESTION_WORDS = frozenset("according paper papers report shown show shows figure table".split())


def words(text: str) -> list[str]:
    """Lower-cased word tokens (runs of letters, digits and underscores), in order."""
    return [w.lower() for w in WORD.findall(text)]


def is_content_word(word: str, lone_digits: bool = True) -> bool:
    """A lower-cased token worth matching: not a stopword, not a lone letter, and a lone digit only when
    ``lone_digits`` (the "2" of "Table 2" picks the table for keyword search, but in a sentence an answer
    quotes it matches any equation number or list marker)."""
    return word not in STOPWORDS and (len(word) > 1 or lone_digits and word.isdigit())


def content_words(text: str, lone_digits: bool = True) -> list[str]:
    """The words of ``text`` worth matching, in order, repeats kept."""
    return [w for w in words(text) if is_content_word(w, lone_digits)]


def query_words(text: str) -> list[str]:
    """The words of a question worth sending to keyword search: its content words, less the words it uses
    for the paper itself."""
    return [w for w in content_words(text) if w not in QUESTION_WORDS]
