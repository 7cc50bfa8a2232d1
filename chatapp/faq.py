"""FAQ bots: answer from the bot's question/answer list by fuzzy retrieval (RapidFuzz)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from authserver.models import Bot

# Below this WRatio score (0-100) nothing matches "well enough" and the bot's fallback answers.
MATCH_THRESHOLD = 75.0

# Words that carry no topic: matching on them makes unrelated questions look alike.
STOPWORDS = frozenset(
    """a about am an and are at be can could do does for from get got have how i i'm im in is it
    its me my of on or please the there this to want was we what when where which who why will
    with would you your hi hello hey thanks thank ok okay so just need""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[^\W_]+")


def topic_words(text: str) -> str:
    """Lower-cased words of ``text`` without punctuation and stopwords."""
    words = _WORD.findall(utils.default_process(text))
    return " ".join(w for w in words if w not in STOPWORDS)


@dataclass(frozen=True)
class Reply:
    text: str
    matched_question: str | None
    score: float


def answer(bot: Bot, question: str) -> Reply:
    """The best-matching FAQ answer, or the bot's fallback when nothing matches well enough."""
    query = topic_words(question)
    entries = list(bot.faq)
    if query and entries:
        match = process.extractOne(
            query,
            [topic_words(e.question) for e in entries],
            scorer=fuzz.WRatio,
            processor=None,
            score_cutoff=MATCH_THRESHOLD,
        )
        if match is not None:
            _, score, index = match
            return Reply(entries[index].answer, entries[index].question, float(score))
    return Reply(bot.fallback, None, 0.0)
