"""Which language a short text (a search query) is in, from the scripts of its letters.

Search needs one decision: is the query English, so the English-only embedder and keyword list serve it, or
not, so the multilingual list should. Script ranges decide it offline, in microseconds and with no model:
a query is non-English when letters of a script other than Latin make up a real share of its letters. Greek
letters are left out of the count: English science writes "α-synuclein" and "μM". A Persian question keeps
gene names and acronyms in Latin script ("نقش KRAS G12C در NSCLC چیست؟"), so the share threshold is low.

Arabic script is told apart as Persian, Urdu or Arabic by the letters only one of them uses. Latin-script
languages other than English (French, German...) cannot be told apart by script: they are reported as "en"
(the script's default) and take the English path.
"""

from __future__ import annotations

from dataclasses import dataclass

# (first, last code point, script). Only scripts whose letters identify a non-English query are listed; every
# other letter counts as Latin if it is in a Latin block and is ignored otherwise.
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "Latn"),  # Basic Latin letters up to Latin Extended-B (isalpha() filters the rest)
    (0x1E00, 0x1EFF, "Latn"),  # Latin Extended Additional
    (0x0370, 0x03FF, "Grek"),
    (0x1F00, 0x1FFF, "Grek"),
    (0x0400, 0x052F, "Cyrl"),
    (0x0590, 0x05FF, "Hebr"),
    (0x0600, 0x06FF, "Arab"),
    (0x0750, 0x077F, "Arab"),
    (0x08A0, 0x08FF, "Arab"),
    (0xFB50, 0xFDFF, "Arab"),
    (0xFE70, 0xFEFF, "Arab"),
    (0x0900, 0x097F, "Deva"),
    (0x0980, 0x09FF, "Beng"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x10A0, 0x10FF, "Geor"),
    (0x0530, 0x058F, "Armn"),
    (0x1100, 0x11FF, "Hang"),
    (0xAC00, 0xD7AF, "Hang"),
    (0x3040, 0x30FF, "Jpan"),
    (0x4E00, 0x9FFF, "Hani"),
    (0x3400, 0x4DBF, "Hani"),
)
#: The language a script's text is taken to be in when nothing narrower is known.
_SCRIPT_LANGUAGE = {
    "Latn": "en",
    "Cyrl": "ru",
    "Hebr": "he",
    "Arab": "ar",
    "Deva": "hi",
    "Beng": "bn",
    "Thai": "th",
    "Geor": "ka",
    "Armn": "hy",
    "Hang": "ko",
    "Jpan": "ja",
    "Hani": "zh",
}
#: Scripts that never make a query non-English on their own (symbols of English scientific writing).
NEUTRAL_SCRIPTS = frozenset({"Grek"})
#: Share of a query's counted letters in one non-Latin script from which the query is in that script.
FOREIGN_SHARE = 0.2

_PERSIAN_ONLY = set("پچژگکیۀ")  # letters Persian uses and Arabic does not (Persian yeh/kaf included)
_URDU_ONLY = set("ٹڈڑںےہ")
_ARABIC_ONLY = set("ةيكىإأؤ")  # Arabic yeh/kaf/alef maksura/teh marbuta, hamza seats rare in Persian


@dataclass(frozen=True)
class Detected:
    """A text's language (ISO 639-1, "und" when it has no letters) and its main script (ISO 15924)."""

    lang: str
    script: str
    #: share of the counted letters in ``script``
    share: float

    @property
    def is_english(self) -> bool:
        return self.lang == "en"


def script_of(char: str) -> str | None:
    """The ISO 15924 code of a letter's script among those listed, or None."""
    code = ord(char)
    for low, high, script in _SCRIPT_RANGES:
        if low <= code <= high:
            return script
    return None


def script_counts(text: str) -> dict[str, int]:
    """Letters per script (listed scripts only)."""
    counts: dict[str, int] = {}
    for char in text:
        if not char.isalpha():
            continue
        script = script_of(char)
        if script is not None:
            counts[script] = counts.get(script, 0) + 1
    return counts


def _arabic_script_language(text: str) -> str:
    letters = set(text)
    scores = {
        "fa": len(letters & _PERSIAN_ONLY),
        "ur": len(letters & _URDU_ONLY),
        "ar": len(letters & _ARABIC_ONLY),
    }
    best = max(scores, key=lambda lang: scores[lang])
    # Persian when nothing tells (a short query of shared letters): the readers this was built for.
    return best if scores[best] > 0 else "fa"


def detect_language(text: str) -> Detected:
    """The language of ``text`` by the scripts of its letters (see the module docstring)."""
    counts = script_counts(text)
    counted = {s: n for s, n in counts.items() if s not in NEUTRAL_SCRIPTS}
    total = sum(counted.values())
    if not total:
        return Detected("und", "Zyyy", 0.0)
    foreign = {s: n for s, n in counted.items() if s != "Latn"}
    if foreign:
        script = max(foreign, key=lambda s: foreign[s])
        share = foreign[script] / total
        if share >= FOREIGN_SHARE:
            lang = _arabic_script_language(text) if script == "Arab" else _SCRIPT_LANGUAGE[script]
            return Detected(lang, script, share)
    return Detected("en", "Latn", counted.get("Latn", 0) / total)
