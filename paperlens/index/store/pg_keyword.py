"""The Postgres store's keyword search: full text over the chunks' ``tsv`` column (GIN), ranked by
``ts_rank_cd`` (cover density) with document-length normalisation. Not BM25: see the README's "Running
several replicas" for how the ranking differs from FTS5's and what that costs on the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

from paperlens.index.store.keywords import TS_CONFIG, ts_query
from paperlens.index.store.pg_db import PostgresDatabase, chunk_filter

#: ts_rank_cd normalisation: 1 divides by 1 + log(document length), so long chunks do not win by length alone.
RANK_NORMALIZATION = 1


class PostgresKeyword(PostgresDatabase):
    def keyword_search(
        self,
        query: str,
        limit: int,
        document_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        pages: tuple[int, int] | None = None,
        collections: Sequence[str] | None = None,
    ) -> list[tuple[int, float]]:
        expression = ts_query(query)
        if expression is None:
            return []
        where, args = chunk_filter(document_ids, kinds, pages, collections)
        where = where.replace("WHERE", "AND", 1)
        sql = (
            f"SELECT c.id, ts_rank_cd(c.tsv, q, {RANK_NORMALIZATION}) AS rank"
            f" FROM chunks c, to_tsquery('{TS_CONFIG}', %s) q WHERE c.tsv @@ q {where}"
            " ORDER BY rank DESC, c.id LIMIT %s"
        )
        with self._connection() as conn:
            rows = conn.execute(sql, [expression, *args, limit]).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]
