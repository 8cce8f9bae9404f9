"""Is a chunk a paper's reference list? Such chunks rank below the body of the paper.

A bibliography shares a paper's vocabulary (its entries' titles name the same genes, methods and diseases) and
packs it densely, so both BM25 and embeddings rank it high for almost any question about the paper. It rarely
answers one: a question about what the paper found wants the sentence that reports it, not the titles of the
works it cites. On litqa_dev's 42 papers one chunk in six is a reference list.

Two signs, either enough:
- the chunk's section is titled "References", "Bibliography", "Literature cited" and the like;
- its text is dense with both author names given with initials ("Shi, J.", "Zhao Y,") and years. Section
  titles are not always found (a reference list that runs onto a new page or column often sits under the
  previous heading), so the text has to speak for itself. Prose that cites by author and year ("as shown by
  Marks et al., 2009") has the years without the initials.
"""

from __future__ import annotations

import functools
import re

_SECTION = re.compile(
    r"^\W*(?:notes and )?(?:references?(?: and notes)?|bibliography|literature cited|works cited|cited literature)"
    r"\W*$",
    re.IGNORECASE,
)
# "Shi, J." / "Kim, S. H." (surname, initials) and "Shi J," / "Vellaichamy AB." (Vancouver style).
_NAME_WITH_INITIALS = re.compile(
    r"\b[A-Z][\w'’-]+,?\s(?:[A-Z]\.\s?-?){1,3}(?=[\s,;&(])|\b[A-Z][a-z][\w'’-]*\s[A-Z]{1,3}[,.](?=\s)"
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_SECTION_PREFIX = re.compile(r"^\[[^\]]*\]\s*")  # the chunker's "[section] " prefix

#: Per 1,000 characters. On litqa_dev's 4,067 chunks, text and section title together flag 636; the ones
#: flagged by text alone that were read by hand were lists of citations or a page-1 author/affiliation block.
#: On mmlb_dev's 4,515 (reports and slides) they flag 3, the reports' own reference notes.
NAMES_PER_1000 = 6.0
YEARS_PER_1000 = 4.0


@functools.lru_cache(maxsize=4096)  # ~5 MB of chunk texts; the same chunks come back query after query
def is_reference_list(text: str, section: str | None = None) -> bool:
    """True when a chunk (its text, and the title of the section it sits in) reads as a list of references."""
    if section and _SECTION.match(section.strip()):
        return True
    body = _SECTION_PREFIX.sub("", text, count=1)
    per_1000 = max(len(body), 200) / 1000  # a short fragment is not judged on two names
    # Years first: that regex is the cheap one, and most body text fails it.
    return (
        len(_YEAR.findall(body)) >= YEARS_PER_1000 * per_1000
        and len(_NAME_WITH_INITIALS.findall(body)) >= NAMES_PER_1000 * per_1000
    )
