"""The Postgres store's keyword search: full text over the chunks' ``tsv`` column (GIN), ranked by BM25 as SQL.

Postgres ships no BM25 (its ``ts_rank``/``ts_rank_cd`` know nothing of word rarity), so the rank is written out:

    score = sum over the query's lexemes in the chunk of  idf(lexeme)  x  (k1 + 1) / (1 + k1 (1 - b + b len / avg))

with FTS5's k1 = 1.2 and b = 0.75, ``len`` the chunk's count of distinct lexemes (``length(tsv)``), and
idf = log(1 + (N - df + 0.5) / (df + 0.5)). Each lexeme counts once per chunk: the tsvector holds every position,
but reading them costs far more per row than the presence test, and in chunks of ~150 words a query word rarely
occurs more than once or twice, where BM25 saturates anyway. See the README's "Running several replicas" for how
it compares with FTS5 on the benchmarks.

Document frequencies are exact and kept by the writes themselves: ``lexeme_stats`` (lexeme -> number of chunks
holding it) changes in the same transaction as the chunks (``add_lexeme_counts``), so a query reads the df of its
few lexemes through the primary key instead of counting matches. The chunk count is kept the same way (under
the empty lexeme); the mean length is read from a sample of chunks and cached for a minute. A lexeme in more than
a quarter of all chunks finds no chunk by itself when the query has rarer ones: a chunk that holds only such
words is not scored (BM25 would rank it below the chunks with a rarer word), which keeps Postgres from scoring
most of the table; in the chunks that are scored they count.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from paperlens.index.store.keywords import TS_CONFIG, query_terms
from paperlens.index.store.pg_db import PostgresDatabase, chunk_filter

#: BM25's term-frequency saturation and length normalisation, FTS5's defaults.
K1, B = 1.2, 0.75
#: A lexeme in more than this share of chunks finds no chunk by itself when the query has rarer ones (BM25's IDF
#: of such a word is about a fifth of a rare word's); it still counts in the chunks they find.
COMMON_SHARE = 0.25
#: How long the mean chunk length (BM25's length normalisation) is reused before it is read again.
STATS_TTL_S = 60.0

#: The key in ``lexeme_stats`` that counts the chunks themselves (no lexeme is empty), kept like the others.
CHUNKS_KEY = ""

# The query's lexemes (Postgres's own stemming and stop words, so they are those the column holds), each with
# the number of chunks that hold it, and the number of chunks.
_LEXEMES = f"""
SELECT l, COALESCE(s.df, 0) FROM unnest(tsvector_to_array(to_tsvector('{TS_CONFIG}', %s))) AS l
LEFT JOIN lexeme_stats s ON s.lexeme = l
UNION ALL SELECT '{CHUNKS_KEY}', COALESCE((SELECT df FROM lexeme_stats WHERE lexeme = '{CHUNKS_KEY}'), 0)
"""


@dataclass
class _MeanLength:
    read_at: float = -math.inf
    value: float = 1.0

    def fresh(self) -> bool:
        return time.monotonic() - self.read_at < STATS_TTL_S


def idf(chunks: int, df: int) -> float:
    """BM25's inverse document frequency, never negative (a word in every chunk still counts a little)."""
    return math.log(1.0 + (chunks - df + 0.5) / (df + 0.5))


#: Per lexeme, how many of the chunks a WHERE clause selects hold it; and under ``CHUNKS_KEY`` how many they are.
_COUNTS = f"""
SELECT u.lexeme AS l, count(*) AS n FROM chunks c, unnest(c.tsv) u WHERE {{where}} GROUP BY 1
UNION ALL SELECT '{CHUNKS_KEY}', count(*) FROM chunks c WHERE {{where}}
"""


def lexeme_counts(conn, where: str, args: Sequence) -> tuple[list[str], list[int]]:
    """(lexemes, how many of the chunks ``where`` selects hold each): what a change is about to take away."""
    rows = conn.execute(_COUNTS.format(where=where), [*args, *args]).fetchall()
    return [r[0] for r in rows], [int(r[1]) for r in rows]


def add_lexeme_counts(
    conn, where: str, args: Sequence, minus: tuple[list[str], list[int]] = ([], [])
) -> None:
    """Add the lexemes of the chunks ``where`` selects to ``lexeme_stats`` and take ``minus`` away, as ONE
    statement that locks the rows in lexeme order and runs last in its transaction (after the chunk rows are
    written), so writers on several replicas always lock in the same order and never deadlock."""
    conn.execute(
        "INSERT INTO lexeme_stats(lexeme, df)"
        f" SELECT l, sum(n) FROM ({_COUNTS.format(where=where)}"
        "   UNION ALL SELECT l, -n FROM unnest(%s::text[], %s::bigint[]) AS m(l, n)"
        " ) changes GROUP BY l HAVING sum(n) <> 0 ORDER BY l"
        " ON CONFLICT (lexeme) DO UPDATE SET df = lexeme_stats.df + excluded.df",
        [*args, *args, minus[0], minus[1]],
    )


class PostgresKeyword(PostgresDatabase):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._mean_length = _MeanLength()
        self._mean_length_lock = threading.Lock()

    def _chunk_mean_length(self, conn) -> float:
        with self._mean_length_lock:
            if not self._mean_length.fresh():
                (mean,) = conn.execute(
                    "SELECT avg(length(tsv)) FROM (SELECT tsv FROM chunks LIMIT 10000) sample"
                ).fetchone()
                self._mean_length = _MeanLength(time.monotonic(), float(mean or 1.0))
            return self._mean_length.value

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
        with self._connection() as conn:
            found = dict(conn.execute(_LEXEMES, (" ".join(terms),)).fetchall())
            chunks = max(int(found.pop(CHUNKS_KEY)), 1)
            if not found:
                return []
            lexemes = list(found)
            weights = [idf(chunks, min(found[lx], chunks)) for lx in lexemes]
            # Chunks holding only common lexemes are not scored at all: BM25 ranks them below any chunk with a
            # rare one. Common lexemes still add their (small) weight to the chunks that are.
            rare = [lx for lx in lexemes if found[lx] <= COMMON_SHARE * chunks]
            mean_length = self._chunk_mean_length(conn)
            presence = " + ".join("(c.tsv @@ %s::tsquery)::int * %s" for _ in lexemes)
            length_norm = f"(1 + {K1} * (1 - {B} + {B} * length(c.tsv) / {mean_length:.6f}))"
            sql = (
                f"SELECT c.id, ({presence}) * {K1 + 1} / {length_norm} AS rank FROM chunks c"
                f" WHERE c.tsv @@ %s::tsquery {where.replace('WHERE', 'AND', 1)}"
                " ORDER BY rank DESC, c.id LIMIT %s"
            )
            params: list = [p for lx, w in zip(lexemes, weights, strict=True) for p in (_quoted(lx), w)]
            match = " | ".join(_quoted(lx) for lx in rare or lexemes)
            rows = conn.execute(sql, [*params, match, *args, limit]).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]


def _quoted(lexeme: str) -> str:
    """A lexeme as a tsquery literal (quotes doubled), so any word is one operand and never an operator."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
