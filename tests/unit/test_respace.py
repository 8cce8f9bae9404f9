"""OCR lines read without their spaces get them back; words and lines that were read right stay as they were."""

from __future__ import annotations

import pytest

from paperlens.ingest.respace import respace, split_glued_words


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Vietnammobilenews", "Vietnam mobile news"),
        ("VIETNAMMOBILEMARKET", "VIETNAM MOBILE MARKET"),
        ("advertisersinVietnam anditwill become", "advertisers in Vietnam and it will become"),
        ("Launchingboosttopserviceformobileapps", "Launching boost top service for mobile apps"),
    ],
)
def test_glued_lines_are_split_into_words(line, expected):
    assert respace(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "Staphylococcus epidermidis phosphatidylinositol",  # spaced: not glued, every word as read
        "phosphatidylinositol",  # glued-looking, but its pieces would be fragments (ph os phat ...)
        "transcriptionally",  # two pieces, neither a function word: a real word
        "immunoprecipitation",
        "23:57 Viettel",
    ],
)
def test_real_words_and_spaced_lines_stay_whole(line):
    assert respace(line) == line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("regulate theircytoskeletal network", "regulate their cytoskeletal network"),
        ("a kinase whichprovided the signal", "a kinase which provided the signal"),
        ("it is essentialfor growth", "it is essential for growth"),
        ("we suspectthatexcess copper", "we suspect that excess copper"),
    ],
)
def test_text_layer_words_set_without_a_space_are_split(text, expected):
    assert split_glued_words(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # unknown terms whose pieces would be fragments or short words (counted on litqa_dev's PDFs)
        "endothelial annotator mesothelin anthelmintic",
        "microstimulation transmembrane downregulated nonsignificant",
        "Theircytoskeletal",  # not all lower case: a name or a heading, left alone
        "see https://paperswithcode.com and readthedocs",
    ],
)
def test_known_words_and_unknown_terms_stay_whole(text):
    assert split_glued_words(text) == text
