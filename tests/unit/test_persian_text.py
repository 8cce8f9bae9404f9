"""Persian letter forms, digits and ZWNJ folded to one spelling; language told by script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperlens.text.lang import detect_language
from paperlens.text.persian import ZWNJ, ascii_digits, fold_letters, fold_persian, tidy_zwnj


def test_arabic_yeh_and_kaf_become_persian():
    assert fold_letters("كتاب") == "کتاب"
    assert fold_letters("علي") == "علی"
    assert fold_letters("مصطفى") == "مصطفی"
    assert fold_persian("كيك") == fold_persian("کیک") == "کیک"


def test_tatweel_and_harakat_are_dropped():
    assert fold_letters("كـــتاب") == "کتاب"
    assert fold_letters("کِتاب") == "کتاب"


def test_eastern_digits_become_ascii_so_a_year_matches():
    assert ascii_digits("۲۰۱۸") == "2018"  # Persian digits
    assert ascii_digits("٢٠١٨") == "2018"  # Arabic-Indic digits
    assert fold_persian("رشد ۳٫۵٪ در ۱۴۰۲") == "رشد 3.5% در 1402"


def test_zwnj_inside_a_word_stays_and_stray_ones_go():
    word = f"می{ZWNJ}شود"
    assert tidy_zwnj(word) == word
    assert tidy_zwnj(f"می{ZWNJ}{ZWNJ}شود") == word
    assert tidy_zwnj(f"{ZWNJ}سلام{ZWNJ} دنیا {ZWNJ}") == "سلام دنیا "


def test_presentation_forms_fold_to_letters():
    assert fold_persian("ﻛﺘﺎﺏ") == "کتاب"


@pytest.mark.parametrize("text", ["Plain English, 2018: naïve ﬁt, α-synuclein 5 μM.", "", "日本語のテキスト"])
def test_text_without_arabic_script_passes_unchanged(text):
    assert fold_persian(text) == text


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("What fraction of loci were disrupted?", "en"),
        ("How does α-synuclein bind at 5 μM?", "en"),  # Greek letters of science do not count
        ("نقش KRAS G12C در NSCLC چیست؟", "fa"),  # Latin terms inside a Persian question
        ("ما هي نسبة الخلايا التي تأثرت؟", "ar"),
        ("Какова доля клеток?", "ru"),
        ("2018", "und"),
    ],
)
def test_language_by_script(text, lang):
    assert detect_language(text).lang == lang


def test_language_detection_makes_no_error_on_the_bench_sets(shared_bench: Path):
    """Every Persian question of the fa_ sets reads as Persian, every English one (and every original kept in
    question_en) as English."""
    wrong = []
    for name in ("fa_litqa_dev", "fa_mmlb_dev", "litqa_dev", "mmlb_dev"):
        path = shared_bench / name / "questions.jsonl"
        if not path.is_file():
            pytest.skip(f"{path} is not there")
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            expected = row.get("lang", "en")
            if detect_language(row["question"]).lang != expected:
                wrong.append((row["id"], row["question"]))
            if row.get("question_en") and not detect_language(row["question_en"]).is_english:
                wrong.append((row["id"], row["question_en"]))
    assert wrong == []


@pytest.mark.parametrize(
    ("question", "pages"),
    [
        ("بر اساس نمودار صفحه‌ی ۱۴، در سال ۲۰۱۰ چه مقدار زمان گذرانده شد؟", [14]),
        ("تعداد خودروهای تصویرهای صفحه‌ی ۲ و تعداد میله‌های نمودارهای صفحه‌ی ۴ چند است؟", [2, 4]),
        ("در صفحات ۳۰ تا ۳۲ چه آمده است؟", [30, 31, 32]),
        ("اسلاید ۷ یا ۹ کدام نمودار را دارد؟", [7, 9]),
        ("در سال ۲۰۱۰ چه شد؟", []),
    ],
)
def test_persian_page_references_are_read_after_folding(question, pages):
    from paperlens.retrieve.page_refs import referenced_pages

    assert referenced_pages(fold_persian(question)) == pages
