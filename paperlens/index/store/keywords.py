"""How a question becomes a keyword query: the one place both keyword indexes (FTS5, Postgres full text) and
the candidates' own rescoring (retrieve/local_keyword.py) take their words from."""

from __future__ import annotations

from paperlens.text import tokens

#: How FTS5 splits text into words; the candidates' own keyword scoring (retrieve/local_keyword.py) uses it too.
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"
#: The Postgres text search configuration of the ``tsv`` column and of every query against it (stemmed English;
#: words of other scripts pass through lowercased, as FTS5's unicode61 leaves them).
TS_CONFIG = "english"


def query_terms(text: str) -> list[str]:
    """The content words of a query, lowercased, unique, in order (at most 64)."""
    words = tokens.words(text)
    terms = tokens.query_words(text)
    if not terms:
        terms = words
    return list(dict.fromkeys(terms))[:64]


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression: content words, each quoted, OR-ed (BM25 ranks the overlap)."""
    terms = query_terms(text)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
