"""Which pages a question names."""

from __future__ import annotations

import pytest

from paperlens.retrieve.page_refs import MAX_PAGES, referenced_pages


@pytest.mark.parametrize(
    ("query", "pages"),
    [
        ("According to the chart on page 14, how much time was spent?", [14]),
        ("How many children are in the photograph of Page 3?", [3]),
        ("What is the legend in slide 31 from 2008-2012?", [31]),  # the years are not pages
        ("the figures on page 2 and the bars on page 4", [2, 4]),
        ("How many people are in the pictures in Pages 30-35?", [30, 31, 32, 33, 34, 35]),
        ("see pp. 3, 5 and 7–9", [3, 5, 7, 8, 9]),
        ("p. 12 says", [12]),
        ("the first three pages of the report", []),
        ("what happened in 2012?", []),
        ("pages 1-400", []),  # a stretch of the document, not pages to look at
        ("page 0", []),
    ],
)
def test_referenced_pages(query, pages):
    assert referenced_pages(query) == pages


def test_at_most_max_pages_are_taken():
    query = "pages " + ", ".join(str(n) for n in range(1, 3 * MAX_PAGES))
    assert referenced_pages(query) == list(range(1, MAX_PAGES + 1))
