"""OCR lines read without their spaces get them back; words and lines that were read right stay as they were."""

from __future__ import annotations

import pytest

from paperlens.ingest.respace import respace


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
