"""FAQ retrieval: close questions get their answer, unrelated ones the bot's fallback."""

from __future__ import annotations

import pytest

from authserver.models import Bot, FaqEntry
from chatapp.faq import answer, topic_words

FAQ = [
    ("How do I update my card?", "Settings → Billing → Update card."),
    ("When am I billed?", "On the first of each month."),
    ("How do I get a refund?", "Write to billing@example.com within 30 days."),
    ("Where can I download my invoices?", "Settings → Billing → Invoices."),
]


def bot() -> Bot:
    b = Bot(name="Billing", fallback="Sorry, I don't know that one yet.")
    b.faq = [FaqEntry(position=i, question=q, answer=a) for i, (q, a) in enumerate(FAQ)]
    return b


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how do i update my card", FAQ[0][1]),
        ("Update card!", FAQ[0][1]),
        ("refund please", FAQ[2][1]),
        ("invoices", FAQ[3][1]),
        ("when am I billed", FAQ[1][1]),
    ],
)
def test_close_questions_get_their_answer(question: str, expected: str) -> None:
    assert answer(bot(), question).text == expected


@pytest.mark.parametrize(
    "question", ["hi", "what's the weather like?", "I want my money back now", "my", "?!", ""]
)
def test_unrelated_questions_get_the_fallback(question: str) -> None:
    reply = answer(bot(), question)
    assert reply.text == "Sorry, I don't know that one yet." and reply.matched_question is None


def test_a_bot_without_faq_always_falls_back() -> None:
    empty = Bot(name="Empty", fallback="Nothing here.")
    empty.faq = []
    assert answer(empty, "how do i update my card").text == "Nothing here."


def test_topic_words_drop_punctuation_case_and_filler() -> None:
    assert topic_words("How do I UPDATE my card?!") == "update card"
