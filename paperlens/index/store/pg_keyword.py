"""The Postgres store's keyword search: full text over the chunks' ``tsv`` column (GIN), ranked by BM25 as SQL.

Postgres ships no BM25 (its ``ts_rank``/``ts_rank_cd`` know nothing of word rarity), so the rank is written out:

    score = sum over the query's lexemes in the chunk of  idf(lexeme)  x  (k1 + 1) / (1 + k1 (1 - b + b len / avg))

with FTS5's k1 = 1.2 and b = 0.75, ``len`` the chunk's count of distinct lexemes (``length(tsv)``), and
idf = log(1 + (N - df + 0.5) / (df + 0.5)). Each lexeme counts once per chunk: the tsvector holds every position,
but reading them costs far more per row than the presence test, and in chunks of ~150 words a query word rarely
occurs more than once or twice, where BM25 saturates anyway. See the README's "Running several replicas" for how
it compares with FTS5 on the benchmarks.

The statistics come from the database and are cached for a few minutes, as the ranking can live with slightly old
ones: the chunk count and mean length; the planner's ``most_common_elems`` of the column (kept by ANALYZE), which
give the document frequency of common lexemes; and a GIN count for any other lexeme, which is rare by definition
and so cheap to count. A lexeme in more than a quarter of all chunks is left out of a query that has rarer ones
(BM25 all but ignores it), which also keeps Postgres from scoring most of the table for it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from paperlens.index.store.keywords import TS_CONFIG, query_terms
from paperlens.index.store.pg_db import PostgresDatabase, chunk_filter

#: BM25's term-frequency saturation and length normalisation, FTS5's defaults.
K1, B = 1.2, 0.75
#: A lexeme in more than this share of chunks is dropped from a query that has rarer ones (BM25's IDF of such a
#: word is about a fifth of a rare word's).
COMMON_SHARE = 0.25
#: How long library statistics are reused before they are read again; statistics of an empty or unanalysed
#: table (a bulk load before autovacuum's first ANALYZE) are read again sooner.
STATS_TTL_S = 300.0
EMPTY_TTL_S = 10.0
#: Document frequencies remembered (lexemes; LRU).
DF_CACHE_SIZE = 50_000

_LEXEMES = f"SELECT unnest(tsvector_to_array(to_tsvector('{TS_CONFIG}', %s)))"


@dataclass
class _LibraryStats:
    read_at: float = -math.inf
    chunks: int = 0
    mean_length: float = 1.0
    common_share: dict[str, float] = field(default_factory=dict)  # pg_stats' most common lexemes

    def fresh(self) -> bool:
        ttl = STATS_TTL_S if self.common_share else EMPTY_TTL_S
        return time.monotonic() - self.read_at < ttl


def idf(chunks: int, df: int) -> float:
    """BM25's inverse document frequency, never negative (a word in every chunk still counts a little)."""
    return math.log(1.0 + (chunks - df + 0.5) / (df + 0.5))


class PostgresKeyword(PostgresDatabase):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stats = _LibraryStats()
        self._df: OrderedDict[str, int] = OrderedDict()  # counted under the current statistics
        self._stats_lock = threading.Lock()

    def forget_keyword_statistics(self) -> None:
        """Read the library statistics again at the next search (tests, and after a bulk load and ANALYZE)."""
        with self._stats_lock:
            self._stats = _LibraryStats()

    def _library_stats(self, conn) -> _LibraryStats:
        with self._stats_lock:
            if self._stats.fresh():
                return self._stats
            chunks, mean_length = conn.execute(
                "SELECT (SELECT count(*) FROM chunks),"
                " (SELECT avg(length(tsv)) FROM (SELECT tsv FROM chunks LIMIT 10000) sample)"
            ).fetchone()
            row = conn.execute(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats"
                " WHERE schemaname = current_schema() AND tablename = 'chunks' AND attname = 'tsv'"
            ).fetchone()
            elems, freqs = (row[0] or [], row[1] or []) if row else ([], [])
            self._stats = _LibraryStats(
                read_at=time.monotonic(),
                chunks=int(chunks),
                mean_length=float(mean_length or 1.0),
                common_share=dict(zip(elems, freqs, strict=False)),  # the frequencies carry 3 extra values
            )
            self._df.clear()
            return self._stats

    def _document_frequency(self, conn, lexeme: str, stats: _LibraryStats) -> int:
        if lexeme in stats.common_share:
            return round(stats.common_share[lexeme] * stats.chunks)
        with self._stats_lock:
            if lexeme in self._df and self._stats is stats:
                self._df.move_to_end(lexeme)
                return self._df[lexeme]
        (count,) = conn.execute(
            "SELECT count(*) FROM chunks WHERE tsv @@ %s::tsquery", (_quoted(lexeme),)
        ).fetchone()
        with self._stats_lock:
            if self._stats is stats:
                self._df[lexeme] = int(count)
                while len(self._df) > DF_CACHE_SIZE:
                    self._df.popitem(last=False)
        return int(count)

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
            # Postgres's own stemming and stop words, so the lexemes are those the column holds.
            lexemes = list(dict.fromkeys(r[0] for r in conn.execute(_LEXEMES, (" ".join(terms),))))
            if not lexemes:
                return []
            stats = self._library_stats(conn)
            chunks = max(stats.chunks, 1)
            rare = [lx for lx in lexemes if stats.common_share.get(lx, 0.0) <= COMMON_SHARE]
            lexemes = rare or lexemes
            weights = [idf(chunks, self._document_frequency(conn, lx, stats)) for lx in lexemes]
            presence = " + ".join("(c.tsv @@ %s::tsquery)::int * %s" for _ in lexemes)
            length_norm = f"(1 + {K1} * (1 - {B} + {B} * length(c.tsv) / {stats.mean_length:.6f}))"
            sql = (
                f"SELECT c.id, ({presence}) * {K1 + 1} / {length_norm} AS rank FROM chunks c"
                f" WHERE c.tsv @@ %s::tsquery {where.replace('WHERE', 'AND', 1)}"
                " ORDER BY rank DESC, c.id LIMIT %s"
            )
            params: list = [p for lx, w in zip(lexemes, weights, strict=True) for p in (_quoted(lx), w)]
            match = " | ".join(_quoted(lx) for lx in lexemes)
            rows = conn.execute(sql, [*params, match, *args, limit]).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]


def _quoted(lexeme: str) -> str:
    """A lexeme as a tsquery literal (quotes doubled), so any word is one operand and never an operator."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
