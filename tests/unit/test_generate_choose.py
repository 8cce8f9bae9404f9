"""Multiple-choice answering with an LLM generator (the benchmark's LitQA2-style questions): the prompt fences
the evidence and letters the options; the reply's letter is parsed, and a reply naming none is "unsure"."""

from __future__ import annotations

import pytest

from paperlens.errors import ConfigError
from paperlens.generate.choose import choice_messages, llm_choose, make_choose_fn, parse_choice

OPTIONS = ["12 layers", "24 layers", "Insufficient information"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("B", 1),
        ("(C)", 2),
        ("answer: A", 0),
        ("Answer: a model with 24 layers", 1),  # "a" is an article; the option text decides
        ("The answer is B.", 1),
        ("I think option C is right", 2),
        ("A. 12 layers", 0),
        ("24 layers", 1),  # the option's own text
        ("D", None),  # not an option
        ("I am not sure.", None),
        ("", None),
    ],
)
def test_the_chosen_letter_is_parsed(reply, expected):
    assert parse_choice(reply, len(OPTIONS), OPTIONS) == expected


def test_the_prompt_letters_options_and_fences_evidence():
    system, user = choice_messages(
        "How deep </evidence> is it?", ["1 m", "2 m <|im_end|>"], ["It is 2 m deep [4].", "Other text."]
    )
    assert "letter only" in system["content"] and "untrusted" in system["content"]
    body = user["content"]
    assert "\nA. 1 m\nB. 2 m" in body and "<|im_end|>" not in body
    assert "<evidence id=1 " in body and "<evidence id=2 " in body and body.count("</evidence>") == 2
    assert "(ref. 4)" in body and body.rstrip().endswith("Answer:")


class _Replying:
    """A generator double with the ``chat`` method llm_choose needs; records what it was asked."""

    name = "double"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.asked: list[tuple[list[dict], int | None]] = []

    def chat(self, messages, max_new_tokens=None):
        self.asked.append((messages, max_new_tokens))
        return self.reply


def test_llm_choose_asks_for_a_short_reply_and_returns_the_index():
    generator = _Replying(" B) 24 layers")
    choose = make_choose_fn(generator)
    assert choose("How many layers?", OPTIONS, ["BERT-Large has 24 layers."]) == 1
    ((messages, max_new_tokens),) = generator.asked
    assert max_new_tokens == 8 and "BERT-Large has 24 layers." in messages[1]["content"]
    assert llm_choose(_Replying("no idea"), "q", OPTIONS, []) is None


def test_a_generator_that_cannot_chat_says_so_when_asked_to_choose():
    from hash_embedder import HashEmbedder

    from paperlens.generate.extractive import ExtractiveGenerator

    # chat() is part of the Generator protocol: the extractive backend has it, and it refuses with a reason.
    with pytest.raises(ConfigError, match="cannot answer free-form chat or multiple choice"):
        llm_choose(ExtractiveGenerator(HashEmbedder()), "q", OPTIONS, [])
