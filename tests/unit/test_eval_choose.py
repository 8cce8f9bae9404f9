"""Multiple-choice options and the offline lexical chooser."""

from __future__ import annotations

from paperlens.eval.choose import build_options, lexical_choose
from paperlens.eval.metrics import INSUFFICIENT_OPTION


def test_options_are_a_stable_shuffle_with_insufficient_last():
    options, correct, insufficient = build_options("q-1", "right", ["w1", "w2", "w3"])
    again = build_options("q-1", "right", ["w1", "w2", "w3"])
    assert (options, correct, insufficient) == again
    assert sorted(options[:-1]) == ["right", "w1", "w2", "w3"]
    assert options[correct] == "right"
    assert insufficient == 4 and options[insufficient] == INSUFFICIENT_OPTION
    # different ids give different orders for at least some question
    orders = {tuple(build_options(f"q-{i}", "right", ["w1", "w2", "w3"])[0]) for i in range(20)}
    assert len(orders) > 1


def test_chooses_option_the_on_topic_evidence_supports():
    options = ["meropenem", "ciprofloxacin", "gentamicin", INSUFFICIENT_OPTION]
    evidence = [
        "Unrelated text about meropenem stewardship in hospitals.",
        "A. lwoffii only evolved resistance to ciprofloxacin in the lab evolution experiment.",
    ]
    question = "Acinetobacter lwoffii evolved resistance in the lab to which antibiotic?"
    # both meropenem and ciprofloxacin are mentioned; the passage about lwoffii and evolution wins
    assert lexical_choose(question, options, evidence) == 1


def test_words_shared_by_all_options_do_not_decide():
    options = ["61% of gene loci", "31% of gene loci", "61% of enhancer loci", INSUFFICIENT_OPTION]
    evidence = [
        "Most gene disruption phenotypes (61% of total gene phenotypes) were detected by 4 divisions."
    ]
    assert (
        lexical_choose(
            "What fraction of gene loci disruptions appeared after 4 divisions?", options, evidence
        )
        == 0
    )


def test_numbers_match_within_rounding():
    options = ["4,900", "12,300", "750", INSUFFICIENT_OPTION]
    evidence = ["Our method detected 12,309 mandarin-specific insertion loci in the mandarin genome."]
    assert lexical_choose("How many insertion loci are in the mandarin genome?", options, evidence) == 1


def test_unsupported_or_tied_options_give_insufficient():
    options = ["alpha", "beta", INSUFFICIENT_OPTION]
    assert lexical_choose("Which one?", options, ["nothing relevant at all"]) == 2
    assert lexical_choose("Which one?", options, []) == 2
    assert lexical_choose("Which one?", options, ["alpha and beta both appear"]) == 2
    assert lexical_choose("Which one?", ["alpha", "beta"], ["alpha and beta"]) is None
