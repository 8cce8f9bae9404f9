"""The one normalisation of extracted text and queries (paperlens.text.normalize)."""

from __future__ import annotations

import pytest

from paperlens.text.normalize import (
    break_hyphen_joins,
    join_across,
    join_lines,
    normalize_query,
    normalize_text,
)


@pytest.mark.parametrize(
    ("typeset", "typed"),
    [
        ("ﬂuid shear", "fluid shear"),
        ("signiﬁcant", "significant"),
        ("oﬀer eﬃcient baﬄe", "offer efficient baffle"),
        ("CO₂ and H₂O", "CO2 and H2O"),  # subscripts: what a reader types
        ("𝑥 + 𝑦", "x + y"),  # math italic letters are style, not meaning
        ("𝛼-helix", "α-helix"),  # ... and a math italic Greek letter stays Greek
        ("5 µm", "5 μm"),  # MICRO SIGN -> GREEK SMALL MU: one letter, not two
        ("ℓ2 norm", "l2 norm"),
        ("ＧＰＴ", "GPT"),  # fullwidth
        ("10\u00a0nm", "10 nm"),  # no-break space
        ("10\u2009nm", "10 nm"),  # thin space
        ("state\u2010of\u2010the\u2011art", "state-of-the-art"),  # Unicode hyphens
        ("retrie\u00adval", "retrieval"),  # soft hyphen
        ("zero\u200bwidth", "zerowidth"),
        ("done…", "done..."),
        ("cafe\u0301", "café"),  # composed (NFC)
    ],
)
def test_typography_folds_to_what_readers_type(typeset, typed):
    assert normalize_text(typeset) == typed


@pytest.mark.parametrize(
    "kept",
    [
        "α β γ Δ Σ ω",  # Greek stays Greek
        "x² + y² ≤ r², 10⁻³ m²",  # superscripts: folding would make "x2" and "10−3", other numbers
        "∑ ∫ ∂ ∈ ∀ → ≈ ± × − ′",  # math symbols
        "f: ℝⁿ → ℝ, 𝔼[X]",  # double-struck letters name sets and expectations
        "می\u200cخواهم",  # the zero-width non-joiner is part of Persian spelling
        "plain ASCII text - with hyphens",
    ],
)
def test_meaningful_symbols_stay_as_they_are(kept):
    assert normalize_text(kept) == kept


def test_normalisation_is_idempotent():
    text = "ﬂuid CO₂ 𝑥² ℝ µm state\u2011of\u2011the\u2011art ＡＢ\u00a0c"
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_a_query_is_normalised_like_stored_text():
    assert normalize_query("  ﬂuid   shear\tstress\n ") == "fluid shear stress"
    assert normalize_query("ﬂuid shear") == normalize_text("ﬂuid shear")


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        (["the retrie-", "val of passages"], "the retrieval of passages"),
        (["a state-of-the-", "art model"], "a state-of-the-art model"),
        (["samples of COVID-", "19 patients"], "samples of COVID-19 patients"),
        (["infected with SARS-", "CoV-2"], "infected with SARS-CoV-2"),
        (["a self-", "supervised model"], "a self-supervised model"),  # both halves words, the join is not
        (["mechano-", "transduction"], "mechanotransduction"),  # fragments the word list does not know
        (["with PEG-malei-", "mide"], "with PEG-maleimide"),  # a compound's last part broken in two
        (["trans-", "membrane"], "transmembrane"),  # a prefix papers write solid
        (["over-", "expression"], "overexpression"),
        (["well-", "known"], "well-known"),  # two common words, the joined form is none: a compound
        (["with-", "out"], "without"),  # two words, but the joined word is more common than both
        (["T-", "cell receptor"], "T-cell receptor"),
        (["the retrie\u00ad", "val"], "the retrieval"),  # a soft hyphen at a line end
        (["first line", "second line"], "first line second line"),
        (["ends with a dash -", "then more"], "ends with a dash - then more"),
        (["in 2019-", "2020 we"], "in 2019- 2020 we"),  # not after a letter: left alone
    ],
)
def test_lines_join_with_broken_words_made_whole(lines, joined):
    assert join_lines(lines) == joined


def test_a_line_without_a_hyphen_is_no_break():
    assert break_hyphen_joins("no hyphen", "next") is None


def test_a_word_broken_across_blocks_moves_to_the_first():
    assert join_across("the S2ORC pretraining cor-", "pus contains 16.4B tokens") == (
        "the S2ORC pretraining corpus",
        "contains 16.4B tokens",
    )
    assert join_across("a state-of-the-", "art model") == ("a state-of-the-art", "model")
    assert join_across("ends a sentence.", "next one") is None
    assert join_across("a hyphen before a heading-", "Results") is None
