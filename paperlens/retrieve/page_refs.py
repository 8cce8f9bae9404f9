"""Pages a question names: "the chart on page 14", "in slide 31", "pages 30-35", "pp. 2 and 4".

A reader who names a page wants that page. Neither embeddings nor BM25 can see it: "14" is one token among
many, and a page's number is not in its text. The retriever turns these references into a ranked list of its
own (the named pages' chunks, best match first), fused with the others; see ``Retriever.ranked_lists``.

Numbers are PDF page numbers, 1-based, as every hit and citation reports them.
"""

from __future__ import annotations

import re

#: A range wider than this ("pages 1-400") names a part of the document, not pages to look at.
MAX_PAGES = 20

_NUMBER = r"(\d{1,4})"
# Persian too ("صفحه‌ی ۱۴", "صفحات ۳۰ تا ۳۵", "اسلاید ۳۱"): the query reaches here with its digits in ASCII
# (paperlens/text/persian.py), ZWNJ kept between the letters of one word.
_PAGE_WORDS = r"pages?|slides?|pp?\.|صفحات|صفحه(?:\u200c?(?:ی|های|ها))?|اسلاید(?:\u200c?(?:ی|های|ها))?"
_RANGE = rf"{_NUMBER}(?:\s*(?:-|–|—|to|تا)\s*{_NUMBER})?"
_REFERENCE = re.compile(
    rf"\b(?:{_PAGE_WORDS})\s*{_RANGE}((?:\s*(?:,|،|and|&|or|و|یا)\s*{_RANGE})*)",
    re.IGNORECASE,
)
_MORE = re.compile(_RANGE)


def _span(first: str, last: str | None) -> list[int]:
    start = int(first)
    end = int(last) if last else start
    if end < start or end - start >= MAX_PAGES:
        return [start] if end < start else []
    return list(range(start, end + 1))


def referenced_pages(query: str) -> list[int]:
    """The page numbers ``query`` names, in the order named, each once; [] when it names none."""
    pages: list[int] = []
    for match in _REFERENCE.finditer(query):
        pages += _span(match.group(1), match.group(2))
        for more in _MORE.finditer(match.group(3) or ""):
            pages += _span(more.group(1), more.group(2))
    return [p for p in dict.fromkeys(pages) if p >= 1][:MAX_PAGES]
