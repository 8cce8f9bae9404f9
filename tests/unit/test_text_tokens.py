"""The one word tokeniser and stopword list, and the modules that now share it."""

from __future__ import annotations

from paperlens.eval import choose, metrics
from paperlens.generate import text as generate_text
from paperlens.index.store import fts_query
from paperlens.text import tokens


def test_words_are_lower_cased_runs_of_letters_and_digits():
    assert tokens.words("BERT-base, 16.4B tokens (Fig. 2)") == [
        "bert",
        "base",
        "16",
        "4b",
        "tokens",
        "fig",
        "2",
    ]


def test_content_words_skip_stopwords_and_lone_letters_but_keep_lone_digits():
    assert tokens.content_words("What does the paper show about a 3 x larger corpus?") == [
        "paper",
        "show",
        "about",
        "3",
        "larger",
        "corpus",
    ]
    assert "3" not in tokens.content_words("a 3 x larger corpus", lone_digits=False)
    # A keyword query also drops the words a question uses for the paper itself.
    assert tokens.query_words("What does the paper show about a 3 x larger corpus?") == [
        "about",
        "3",
        "larger",
        "corpus",
    ]


def test_the_keyword_query_the_answerers_and_the_bench_share_the_list():
    question = "Which cells were shown to respond to fluid shear in the paper?"
    assert fts_query(question) == '"cells" OR "respond" OR "fluid" OR "shear"'
    assert generate_text.content_words(question) == {"cells", "shown", "respond", "fluid", "shear", "paper"}
    assert choose.content_words(question) == ["cells", "shown", "respond", "fluid", "shear", "paper"]
    # The bench's own tokenising rule stays: NFKC folding and words joined over a hyphenated line break.
    assert metrics.words("ﬂuid cipro-\nfloxacin") == ["fluid", "ciprofloxacin"]
