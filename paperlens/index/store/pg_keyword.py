"""The Postgres store's keyword search: full text over the chunks' ``tsv`` column (GIN), ranked by
``ts_rank_cd`` (cover density) with document-length normalisation. Not BM25: see the README's "Running
several replicas" for how the ranking differs from FTS5's and what that costs on the benchmarks.

``ts_rank_cd`` knows nothing of word rarity, and Postgres ranks every row that matches, so a query word found in
a large share of the library (BM25 would give it almost no weight) costs a rank computation per matching row
while adding nothing to the order. Such words are left out of the query when rarer ones remain; "common" is read
from the planner's statistics of the ``tsv`` column (``pg_stats.most_common_elems``, kept by ANALYZE), cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from paperlens.index.store.keywords import TS_CONFIG, query_terms
from paperlens.index.store.pg_db import PostgresDatabase, chunk_filter

#: ts_rank_cd normalisation: 1 divides by 1 + log(document length), so long chunks do not win by length alone.
RANK_NORMALIZATION = 1
#: A lexeme in more than this share of chunks is dropped from a query that has rarer ones (BM25's IDF of such a
#: word is about a fifth of a rare word's).
COMMON_SHARE = 0.25
#: How long the common-lexeme list is reused before it is read from pg_stats again; an empty list (no statistics
#: yet: ANALYZE, or autovacuum's, has not run since a bulk load) is read again sooner.
COMMON_TTL_S = 300.0
EMPTY_TTL_S = 10.0

# The query's lexemes (Postgres's own stemming of our content words), without the common ones unless nothing
# else is left; one row, one tsquery (NULL when no word survives stemming and stop words: no rows match).
_QUERY = f"""
WITH lex AS (SELECT l FROM unnest(tsvector_to_array(to_tsvector('{TS_CONFIG}', %s))) AS l),
     q AS (SELECT COALESCE(
         (SELECT string_agg(quote_literal(l), ' | ') FROM lex WHERE NOT (l = ANY(%s))),
         (SELECT string_agg(quote_literal(l), ' | ') FROM lex))::tsquery AS q)
SELECT c.id, ts_rank_cd(c.tsv, q.q, {RANK_NORMALIZATION}) AS rank FROM chunks c, q WHERE c.tsv @@ q.q
"""


class PostgresKeyword(PostgresDatabase):
    _common: tuple[float, list[str]] = (0.0, [])
    _common_lock = threading.Lock()

    def _common_lexemes(self) -> list[str]:
        read_at, common = self._common
        if time.monotonic() - read_at < (COMMON_TTL_S if common else EMPTY_TTL_S):
            return common
        with self._common_lock, self._connection() as conn:
            row = conn.execute(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats"
                " WHERE schemaname = current_schema() AND tablename = 'chunks' AND attname = 'tsv'"
            ).fetchone()
        elems, freqs = (row[0] or [], row[1] or []) if row else ([], [])
        common = [lexeme for lexeme, share in zip(elems, freqs, strict=False) if share > COMMON_SHARE]
        self._common = (time.monotonic(), common)
        return common

    def keyword_search(
        self,
        query: str,
        limit: int,
        document_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        pages: tuple[int, int] | None = None,
        collections: Sequence[str] | None = None,
    ) -> list[tuple[int, float]]:
        terms = query_terms(query)
        if not terms:
            return []
        where, args = chunk_filter(document_ids, kinds, pages, collections)
        sql = _QUERY + where.replace("WHERE", "AND", 1) + " ORDER BY rank DESC, c.id LIMIT %s"
        with self._connection() as conn:
            rows = conn.execute(sql, [" ".join(terms), self._common_lexemes(), *args, limit]).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]
