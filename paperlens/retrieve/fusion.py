"""Fusion of ranked lists. Pure functions over (id, score) lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def reciprocal_rank_fusion(
    ranked: Mapping[str, Sequence[tuple[int, float]]],
    weights: Mapping[str, float] | None = None,
    k: int = 60,
) -> list[tuple[int, float, dict[str, int]]]:
    """RRF: score(d) = sum over lists of weight / (k + rank). Robust to score scales that do not compare
    (cosine vs BM25), but it throws the score gaps away; on the benchmarks weighted fusion ranks better and is
    the default. Returns (id, score, {list name: 1-based rank})."""
    scores: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name, items in ranked.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, (item_id, _score) in enumerate(items, start=1):
            scores[item_id] = scores.get(item_id, 0.0) + weight / (k + rank)
            ranks.setdefault(item_id, {})[name] = rank
    order = sorted(scores, key=lambda i: (-scores[i], i))
    return [(i, scores[i], ranks[i]) for i in order]


def weighted_score_fusion(
    ranked: Mapping[str, Sequence[tuple[int, float]]],
    weights: Mapping[str, float] | None = None,
) -> list[tuple[int, float, dict[str, int]]]:
    """Min-max normalise each list's scores to [0, 1], then take the weighted sum (the default fusion).

    Unlike RRF it keeps how far ahead a top result is: a chunk far above the rest of the dense list stays far
    above, where RRF would give it only a rank's worth more than the next one.

    A list whose scores are all equal (one hit, or ties) gives each of them 1: being found at all is the
    only signal it has, and min-max would otherwise turn it into 0 and drop the list."""
    scores: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for name, items in ranked.items():
        if not items:
            continue
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        values = [s for _, s in items]
        lo, hi = min(values), max(values)
        for rank, (item_id, score) in enumerate(items, start=1):
            normalised = (score - lo) / (hi - lo) if hi > lo else 1.0
            scores[item_id] = scores.get(item_id, 0.0) + weight * normalised
            ranks.setdefault(item_id, {})[name] = rank
    order = sorted(scores, key=lambda i: (-scores[i], i))
    return [(i, scores[i], ranks[i]) for i in order]


def dedup_by_key(
    fused: Sequence[tuple[int, float, dict[str, int]]], keys: Mapping[int, str]
) -> list[tuple[int, float, dict[str, int]]]:
    """Keep the best-placed item per key (an element), folding the others' ranks into it.

    ``fused`` is best first; ids missing from ``keys`` are their own key. The kept item's ``sources`` gains
    every list the dropped duplicates came from (first rank wins), so a hit still says all the ways it was found.
    """
    kept: dict[str, tuple[int, float, dict[str, int]]] = {}
    order: list[str] = []
    for item_id, score, ranks in fused:
        key = keys.get(item_id, f"#{item_id}")
        if key in kept:
            merged = kept[key][2]
            for name, rank in ranks.items():
                merged.setdefault(name, rank)
            continue
        kept[key] = (item_id, score, dict(ranks))
        order.append(key)
    return [kept[key] for key in order]
