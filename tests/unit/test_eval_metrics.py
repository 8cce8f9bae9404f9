"""Metric functions on hand-made cases whose values are worked out by hand."""

from __future__ import annotations

import math

import pytest

from paperlens.eval import metrics as m
from paperlens.generate.base import NOT_FOUND
from paperlens.generate.prompts import NOT_FOUND_PHRASE

# ---------------------------------------------------------------- ranking


def test_distinct_in_order_keeps_first_occurrence():
    assert m.distinct_in_order([3, 3, 1, 3, 2, 1]) == [3, 1, 2]


def test_recall_counts_gold_pages_among_first_k_distinct_pages():
    ranked = [4, 4, 4, 7, 2, 9]  # distinct: 4, 7, 2, 9
    assert m.recall_at_k(ranked, {7, 9}, 1) == 0.0
    assert m.recall_at_k(ranked, {7, 9}, 2) == 0.5  # repeats of page 4 do not use up k
    assert m.recall_at_k(ranked, {7, 9}, 4) == 1.0
    assert m.recall_at_k([], {1}, 5) == 0.0


def test_recall_undefined_without_gold():
    with pytest.raises(ValueError):
        m.recall_at_k([1, 2], set(), 1)


def test_hit_at_k():
    assert m.hit_at_k([5, 5, 6], {6}, 1) == 0.0
    assert m.hit_at_k([5, 5, 6], {6}, 2) == 1.0


def test_reciprocal_rank_uses_distinct_ranks_and_cutoff():
    assert m.reciprocal_rank([1, 1, 3, 8], {8}) == pytest.approx(1 / 3)
    assert m.reciprocal_rank([1, 1, 3, 8], {8}, k=2) == 0.0
    assert m.reciprocal_rank([8], {8}, k=1) == 1.0


def test_ndcg_by_hand():
    # gold {2, 5}; distinct ranking 1, 2, 3, 5 -> gains at ranks 2 and 4
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert m.ndcg_at_k([1, 2, 2, 3, 5], {2, 5}, 4) == pytest.approx(dcg / ideal)
    assert m.ndcg_at_k([2, 5], {2, 5}, 10) == pytest.approx(1.0)
    # one gold page at rank 1 with k=3: ideal only counts min(k, |gold|) positions
    assert m.ndcg_at_k([7, 1, 2], {7}, 3) == pytest.approx(1.0)
    assert m.ndcg_at_k([1, 2, 3], {9}, 3) == 0.0


def test_page_metrics_keys_are_strings():
    out = m.page_metrics([3, 1], [1], [1, 2])
    assert out["page_recall"] == {"1": 0.0, "2": 1.0}
    assert out["mrr"] == {"1": 0.0, "2": 0.5}
    assert out["page_hit"]["2"] == 1.0


def test_mean_maps_and_percentile():
    rows = [{"a": {"1": 1.0, "5": 1.0}}, {"a": {"1": 0.0, "5": 0.5}}, {"b": {"1": 1.0}}]
    assert m.mean_maps(rows, ["a", "b", "c"]) == {"a": {"1": 0.5, "5": 0.75}, "b": {"1": 1.0}}
    assert m.percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert m.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert m.percentile([], 50) is None


# ---------------------------------------------------------------- key passages


def test_words_fold_case_and_join_hyphenated_line_breaks():
    assert m.words("Cipro-\nfloxacin, the DRUG") == ["ciprofloxacin", "the", "drug"]
    assert m.words("ﬁne") == ["fine"]  # the fi ligature folds to plain letters


def test_ngrams_of_short_text_is_one_gram():
    assert m.word_ngrams("one two") == {("one", "two")}
    assert m.word_ngrams("") == set()
    assert len(m.word_ngrams("a b c d")) == 2


def test_coverage_threshold_is_sixty_percent_of_trigrams():
    passage = "w1 w2 w3 w4 w5 w6 w7"  # five 3-grams
    assert m.ngram_coverage(passage, "x w1 w2 w3 w4 w5 y") == pytest.approx(3 / 5)
    assert m.passage_in_text(passage, "x w1 w2 w3 w4 w5 y")  # exactly 60 % counts
    assert not m.passage_in_text(passage, "w1 w2 w3 w4 z")  # 2 of 5 = 40 %
    assert m.ngram_coverage("", "anything") == 0.0


def test_passage_hit_rank_and_metrics():
    passage = "the quick brown fox jumps over the lazy dog"
    texts = ["nothing here", "a quick brown fox jumps over", "The quick brown fox jumps over the lazy dog."]
    assert m.passage_hit_rank(passage, texts) == 3  # text 2 holds only 3 of 7 trigrams
    out = m.passage_metrics(3, [1, 3, 5])
    assert out["passage_hit"] == {"1": 0.0, "3": 1.0, "5": 1.0}
    assert out["passage_mrr"]["5"] == pytest.approx(1 / 3)
    assert m.passage_metrics(None, [1])["passage_hit"] == {"1": 0.0}


# ---------------------------------------------------------------- page-evidence answers


@pytest.mark.parametrize(
    ("prediction", "gold", "fmt", "expected"),
    [
        ("The answer is 8 references.", "8", "Int", True),
        ("There are 18 references.", "8", "Int", False),
        ("About 18.3% of them", "18.29%", "Float", True),  # rounding within 1 %
        ("a share of 0.21", "21%", "Float", True),  # fraction vs percent
        ("12,300 loci", "12300", "Int", True),
        ("Less well-off.", "Less well-off", "Str", True),
        ("They are better off", "Less well-off", "Str", False),
        ("The Economist and TIME", "['The Economist', 'TIME']", "List", True),
        ("Only The Economist", "['The Economist', 'TIME']", "List", False),
        ("values 1,500 and 8000", "[1500, 8000]", "List", True),
        ("Not answerable.", "Not answerable", "None", True),
        ("The document does not contain this information.", "Not answerable", "None", True),
        ("It is 42.", "Not answerable", "None", False),
        ("Not answerable", "8", "Int", False),  # declining an answerable question is wrong
    ],
)
def test_answer_matches(prediction, gold, fmt, expected):
    assert m.answer_matches(prediction, gold, fmt) is expected


@pytest.mark.parametrize("abstention", [NOT_FOUND, NOT_FOUND_PHRASE.capitalize() + "."])
def test_paperlens_own_abstentions_count_as_declining(abstention):
    # What the answerers write when the evidence does not answer must score as "not answerable", or the
    # bench marks every correct abstention wrong.
    assert m.answer_matches(abstention, "Not answerable", "None") is True
    assert m.answer_matches(abstention, "Less well-off", "Str") is False


def test_normalise_answer_keeps_decimals_drops_articles():
    assert m.normalise_answer("The  3.5 Apples.") == "3.5 apples"
    assert m.numbers_in("from 1,500 to -2.5% or .5") == [1500.0, -2.5, 0.5]


# ---------------------------------------------------------------- multiple choice


def test_multiple_choice_accuracy_and_precision():
    out = m.multiple_choice_scores(["correct", "correct", "wrong", "unsure"])
    assert out["accuracy"] == 0.5
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["coverage"] == 0.75
    assert (out["correct"], out["wrong"], out["unsure"]) == (2, 1, 1)
    empty = m.multiple_choice_scores([])
    assert empty["accuracy"] is None and empty["precision"] is None
    only_unsure = m.multiple_choice_scores(["unsure"])
    assert only_unsure["accuracy"] == 0.0 and only_unsure["precision"] is None
    with pytest.raises(ValueError):
        m.multiple_choice_scores(["maybe"])


def test_multiple_choice_outcome():
    assert m.multiple_choice_outcome(2, 2, 4) == "correct"
    assert m.multiple_choice_outcome(1, 2, 4) == "wrong"
    assert m.multiple_choice_outcome(4, 2, 4) == "unsure"
    assert m.multiple_choice_outcome(None, 2, 4) == "unsure"


def test_best_chunk_coverage_is_the_one_chunk_that_holds_most_of_the_passage():
    from paperlens.eval.metrics import best_chunk_coverage

    passage = "the ice cap retreated by sixty metres per year"
    chunks = ["the ice cap retreated", "by sixty metres per year", "the ice cap retreated by sixty metres"]
    assert best_chunk_coverage(passage, chunks) == pytest.approx(5 / 7)
    assert best_chunk_coverage(passage, chunks + [f"Glaciers. {passage}."]) == 1.0
    assert best_chunk_coverage(passage, []) == 0.0


def test_fidelity_figures_count_what_the_stored_text_holds():
    from paperlens.eval.metrics import page_fidelity, passage_fidelity

    assert passage_fidelity([1.0, 0.6, 0.59, 0.0]) == {
        "kind": "passage", "value": 0.5, "held": 2, "of": 4, "mean_best_chunk_coverage": pytest.approx(0.5475),
    }  # fmt: skip
    stored = {("a.pdf", 1): "Some text", ("a.pdf", 2): " \n ", ("b.pdf", 1): "· ·"}
    gold = [("a.pdf", 1), ("a.pdf", 2), ("b.pdf", 1), ("b.pdf", 7), ("a.pdf", 1)]
    assert page_fidelity(gold, stored) == {"kind": "page", "value": 0.25, "held": 1, "of": 4}
