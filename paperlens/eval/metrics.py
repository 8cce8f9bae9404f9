"""Retrieval and answer metrics: plain functions over plain data (ranked lists, gold sets, strings).

Page metrics work on the *distinct* pages of a ranked list, in the order they first appear, so a system that
returns several chunks of one page is neither rewarded nor punished for it: recall@k asks about the first k
different pages. Passage metrics work on chunks, because a key passage is matched against one retrieved text.
"""

from __future__ import annotations

import ast
import math
import re
import unicodedata
from collections.abc import Hashable, Iterable, Sequence

from paperlens.text import tokens

PASSAGE_THRESHOLD = 0.6
NGRAM = 3

# A word broken across a line end by a hyphen ("cipro-\nfloxacin") is one word to a reader.
_LINE_HYPHEN = re.compile(r"(\w)-\s*\n\s*(\w)")


# ---------------------------------------------------------------- ranking helpers


def distinct_in_order(items: Iterable[Hashable]) -> list:
    """The items of a ranked list without repeats, each at the rank of its first occurrence."""
    seen: set = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def first_relevant_rank(ranked: Sequence[Hashable], gold: set, k: int | None = None) -> int | None:
    """1-based rank of the first item of ``ranked[:k]`` that is in ``gold``; None when there is none."""
    for i, item in enumerate(ranked[:k] if k is not None else ranked):
        if item in gold:
            return i + 1
    return None


# ---------------------------------------------------------------- page metrics (one question)


def recall_at_k(ranked: Sequence[Hashable], gold: set, k: int) -> float:
    """Share of the gold items found among the first k distinct ranked items."""
    if not gold:
        raise ValueError("recall is undefined without gold items")
    top = set(distinct_in_order(ranked)[:k])
    return len(top & gold) / len(gold)


def hit_at_k(ranked: Sequence[Hashable], gold: set, k: int) -> float:
    """1.0 when any of the first k distinct ranked items is gold."""
    return 1.0 if first_relevant_rank(distinct_in_order(ranked), gold, k) is not None else 0.0


def reciprocal_rank(ranked: Sequence[Hashable], gold: set, k: int | None = None) -> float:
    """1/rank of the first gold item among the first k distinct items (MRR@k for one question)."""
    rank = first_relevant_rank(distinct_in_order(ranked), gold, k)
    return 0.0 if rank is None else 1.0 / rank


def ndcg_at_k(ranked: Sequence[Hashable], gold: set, k: int) -> float:
    """Binary-relevance nDCG@k over distinct items: each gold item counts once, at its first rank."""
    if not gold:
        raise ValueError("nDCG is undefined without gold items")
    top = distinct_in_order(ranked)[:k]
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(top) if item in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(gold))))
    return dcg / ideal


def page_metrics(ranked_pages: Sequence[int], gold_pages: Iterable[int], ks: Sequence[int]) -> dict:
    """All page metrics of one answerable question: {"page_recall": {"5": x}, "page_hit", "mrr", "ndcg"}."""
    gold = set(gold_pages)
    return {
        "page_recall": {str(k): recall_at_k(ranked_pages, gold, k) for k in ks},
        "page_hit": {str(k): hit_at_k(ranked_pages, gold, k) for k in ks},
        "mrr": {str(k): reciprocal_rank(ranked_pages, gold, k) for k in ks},
        "ndcg": {str(k): ndcg_at_k(ranked_pages, gold, k) for k in ks},
    }


# ---------------------------------------------------------------- key passages


def words(text: str) -> list[str]:
    """Lower-cased word tokens, after Unicode compatibility folding and joining hyphenated line breaks."""
    text = unicodedata.normalize("NFKC", text)
    text = _LINE_HYPHEN.sub(r"\1\2", text)
    return tokens.words(text)


def word_ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    """The set of word n-grams of a text; a text shorter than n words is one n-gram of all its words."""
    tokens = words(text)
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def ngram_coverage(passage: str | set, text: str | set, n: int = NGRAM) -> float:
    """Share of the passage's word n-grams that occur in ``text`` (either may be given as n-gram sets)."""
    wanted = passage if isinstance(passage, set) else word_ngrams(passage, n)
    if not wanted:
        return 0.0
    have = text if isinstance(text, set) else word_ngrams(text, n)
    return len(wanted & have) / len(wanted)


def passage_in_text(passage: str | set, text: str | set, threshold: float = PASSAGE_THRESHOLD) -> bool:
    """The benchmark's hit rule: ≥ 60 % of the passage's word 3-grams lie inside the text."""
    return ngram_coverage(passage, text) >= threshold


def passage_hit_rank(
    passage: str, ranked_texts: Sequence[str], threshold: float = PASSAGE_THRESHOLD
) -> int | None:
    """1-based rank of the first retrieved text holding the key passage; None when none does."""
    wanted = word_ngrams(passage)
    for i, text in enumerate(ranked_texts):
        if passage_in_text(wanted, text, threshold):
            return i + 1
    return None


def passage_metrics(hit_rank: int | None, ks: Sequence[int]) -> dict:
    """Hit@k and reciprocal rank@k of one key-passage question, from the rank of its first hit."""
    return {
        "passage_hit": {str(k): 1.0 if hit_rank is not None and hit_rank <= k else 0.0 for k in ks},
        "passage_mrr": {
            str(k): 1.0 / hit_rank if hit_rank is not None and hit_rank <= k else 0.0 for k in ks
        },
    }


# ---------------------------------------------------------------- aggregation


def mean_maps(rows: Sequence[dict], names: Sequence[str]) -> dict:
    """Average per-question {name: {k: value}} maps into one {name: {k: mean}}; empty input gives {}."""
    out: dict[str, dict[str, float]] = {}
    for name in names:
        present = [row[name] for row in rows if name in row]
        if not present:
            continue
        keys = present[0].keys()
        out[name] = {k: sum(m[k] for m in present) / len(present) for k in keys}
    return out


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list; None for an empty one."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# ---------------------------------------------------------------- answers: page-evidence sets (MMLongBench)

# Includes paperlens's own abstentions (generate.base.NOT_FOUND, the prompt's NOT_FOUND_PHRASE): a test holds
# them to this list, since a bench that scores its own "not found" as an answer under-counts every abstention.
NOT_ANSWERABLE_PHRASES = (
    "not answerable",
    "do not answer",
    "does not answer",
    "don't answer",
    "doesn't answer",
    "unanswerable",
    "cannot be answered",
    "can't be answered",
    "cannot answer",
    "can't answer",
    "no answer",
    "not enough information",
    "insufficient information",
    "not mentioned",
    "not found in",
    "does not contain",
    "do not contain",
    "no information",
    "i don't know",
    "i do not know",
)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?%?|[-+]?\.\d+%?")


def normalise_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces: the SQuAD normalisation."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    text = re.sub(r"[^\w\s%.]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep decimal points, drop sentence dots
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def says_not_answerable(prediction: str) -> bool:
    low = unicodedata.normalize("NFKC", prediction).lower().replace("’", "'")
    return any(phrase in low for phrase in NOT_ANSWERABLE_PHRASES)


def numbers_in(text: str) -> list[float]:
    """Every number written in a text; "12,300" is 12300, "21%" is 21."""
    out = []
    for token in _NUMBER.findall(unicodedata.normalize("NFKC", str(text))):
        token = token.rstrip("%").replace(",", "")
        try:
            out.append(float(token))
        except ValueError:
            continue
    return out


def numbers_match(gold: float, predicted: float, rel_tol: float = 0.01) -> bool:
    """Equal within 1 % (rounding), also when one side is a percentage, the other a fraction (21 % / 0.21)."""
    candidates = (predicted, predicted * 100.0, predicted / 100.0)
    return any(math.isclose(gold, c, rel_tol=rel_tol, abs_tol=1e-9) for c in candidates)


def _contains_phrase(haystack: str, needle: str) -> bool:
    return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


def _item_matches(gold_item: str, prediction: str) -> bool:
    gold_numbers = numbers_in(gold_item)
    gold_norm = normalise_answer(gold_item)
    # A purely numeric item ("38", "18.29%") is matched as a number, anything else as a phrase.
    if gold_numbers and re.fullmatch(r"[-+]?[\d.,]+%?", gold_norm.replace(" ", "")):
        return any(numbers_match(gold_numbers[0], p) for p in numbers_in(prediction))
    return _contains_phrase(normalise_answer(prediction), gold_norm)


def parse_list_answer(gold: str) -> list[str]:
    """MMLongBench writes list answers as Python literals ("['UK', 'Israel']", "[1500, 8000]")."""
    try:
        value = ast.literal_eval(gold)
    except (ValueError, SyntaxError):
        return [part.strip() for part in gold.strip("[]").split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def answer_matches(prediction: str, gold: str, answer_format: str) -> bool:
    """Normalised match of a free-text answer against an MMLongBench gold answer.

    None ("Not answerable"): the prediction declines. Int/Float: a number in the prediction equals the gold
    number (1 % tolerance, percent/fraction agnostic). Str: the normalised gold phrase occurs in the
    normalised prediction. List: every gold item matches. A prediction that declines never matches an
    answerable gold answer.
    """
    fmt = (answer_format or "Str").strip()
    declined = says_not_answerable(prediction)
    if fmt == "None" or normalise_answer(gold) == "not answerable":
        return declined
    if declined:
        return False
    if fmt in ("Int", "Float"):
        gold_numbers = numbers_in(gold)
        if not gold_numbers:
            return _item_matches(gold, prediction)
        return any(numbers_match(gold_numbers[0], p) for p in numbers_in(prediction))
    if fmt == "List":
        items = parse_list_answer(gold)
        return bool(items) and all(_item_matches(item, prediction) for item in items)
    return _item_matches(gold, prediction)


# ---------------------------------------------------------------- answers: multiple choice (LitQA2)

INSUFFICIENT_OPTION = "Insufficient information to answer this question"


def multiple_choice_scores(outcomes: Sequence[str]) -> dict:
    """LitQA2's figures from per-question outcomes "correct" | "wrong" | "unsure".

    accuracy = correct / all questions; precision = correct / questions where an answer was committed to
    (choosing "insufficient information" is "unsure", which lowers accuracy but not precision).
    """
    allowed = {"correct", "wrong", "unsure"}
    bad = set(outcomes) - allowed
    if bad:
        raise ValueError(f"unknown outcome(s): {sorted(bad)}")
    total = len(outcomes)
    correct = sum(1 for o in outcomes if o == "correct")
    unsure = sum(1 for o in outcomes if o == "unsure")
    sure = total - unsure
    return {
        "questions": total,
        "correct": correct,
        "wrong": sure - correct,
        "unsure": unsure,
        "accuracy": correct / total if total else None,
        "precision": correct / sure if sure else None,
        "coverage": sure / total if total else None,
    }


def multiple_choice_outcome(chosen: int | None, correct_index: int, insufficient_index: int) -> str:
    if chosen is None or chosen == insufficient_index:
        return "unsure"
    return "correct" if chosen == correct_index else "wrong"


# ---------------------------------------------------------------- text fidelity (what the stored chunks hold)


def best_chunk_coverage(passage: str, chunk_texts: Iterable[str]) -> float:
    """The key passage's 3-gram coverage by the one stored chunk that holds most of it (0 without chunks):
    how much of the passage a retrieved chunk could show at best, whatever the ranking."""
    wanted = word_ngrams(passage)
    return max((ngram_coverage(wanted, text) for text in chunk_texts), default=0.0)


def passage_fidelity(coverages: Sequence[float], threshold: float = PASSAGE_THRESHOLD) -> dict:
    """Key-passage sets: the share of key passages some stored chunk still holds (the hit rule's 60 %)."""
    held = sum(1 for c in coverages if c >= threshold)
    return {
        "kind": "passage",
        "value": held / len(coverages) if coverages else None,
        "held": held,
        "of": len(coverages),
        "mean_best_chunk_coverage": sum(coverages) / len(coverages) if coverages else None,
    }


def page_fidelity(gold_pages: Iterable[Hashable], stored_text: dict) -> dict:
    """Page-evidence sets: the share of distinct gold pages whose stored text holds a word."""
    gold = set(gold_pages)
    held = sum(1 for page in gold if tokens.words(stored_text.get(page, "")))
    return {"kind": "page", "value": held / len(gold) if gold else None, "held": held, "of": len(gold)}
