"""A small customer-support bot: answers FAQ itself, hands "what should I watch?" to genrec over HTTP.

Run genrec first (`genrec up --llm none`), then: python examples/support_bot/bot.py --url http://127.0.0.1:7860
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI

FAQ: dict[str, tuple[tuple[str, ...], str]] = {
    "hours": (
        ("opening hours", "office hours", "support hours", "closing time", "when are you open"),
        "Our support desk is open Monday to Friday, 9:00-18:00 CET; the streaming service "
        "itself runs around the clock.",
    ),
    "refund": (
        ("refund", "money back", "charged twice", "cancel my subscription"),
        "You can get a full refund within 14 days of a payment: Account > Billing > Request "
        "refund. Refunds reach your card in 3-5 working days.",
    ),
    "account": (
        ("password", "log in", "login", "sign in", "my account", "email address"),
        "To reset your password use 'Forgot password' on the sign-in page; a link arrives by "
        "email within a minute. You can change your email under Account > Profile.",
    ),
}
MOVIE_WORDS = (
    "watch", "movie", "movies", "film", "films", "recommend", "suggest", "something like",
    "loved", "liked", "comedy", "thriller", "animated", "sci-fi", "horror", "documentary",
)
FALLBACK = (
    "I can help with opening hours, refunds and your account, and I can recommend something "
    "to watch: just tell me a movie you liked."
)


@dataclass
class BotAnswer:
    """What the bot says, where the answer came from, and genrec's picks when it asked genrec."""

    text: str
    source: str  # "faq:<topic>", "genrec" or "fallback"
    recommendations: list[dict[str, Any]] = field(default_factory=list)


class SupportBot:
    """FAQ first; the movie conversation goes to genrec's OpenAI-compatible API, one genrec
    session per customer.

    A message with a movie word ("watch", "film", "comedy", ...) starts the movie conversation;
    from then on every message of that customer that is not an FAQ question goes to genrec too
    ("something funnier please", "is fargo any good?"), so the conversation can go on.

    >>> bot = SupportBot("http://127.0.0.1:7860")  # doctest: +SKIP
    >>> bot.answer("user-42", "I loved Toy Story, what should I watch?").recommendations  # doctest: +SKIP
    """

    def __init__(self, genrec_url: str, *, api_key: str | None = None, timeout: float = 60.0) -> None:
        self.client = OpenAI(
            base_url=genrec_url.rstrip("/") + "/v1",
            api_key=api_key or os.environ.get("GENREC_API_KEY") or "no-key",
            timeout=timeout,
            max_retries=1,
        )
        self.talking_movies: set[str] = set()  # customers whose movie conversation has begun

    @staticmethod
    def faq_topic(message: str) -> str | None:
        text = message.lower()
        for topic, (keys, _) in FAQ.items():
            if any(re.search(rf"\b{re.escape(k)}\b", text) for k in keys):
                return topic
        return None

    @staticmethod
    def is_movie_question(message: str) -> bool:
        text = message.lower()
        return any(re.search(rf"\b{re.escape(w)}\b", text) for w in MOVIE_WORDS)

    def answer(self, user_id: str, message: str) -> BotAnswer:
        """Answer one message from one customer."""
        topic = self.faq_topic(message)
        if topic is not None:
            return BotAnswer(FAQ[topic][1], f"faq:{topic}")
        if user_id in self.talking_movies or self.is_movie_question(message):
            self.talking_movies.add(user_id)
            return self.ask_genrec(user_id, message)
        return BotAnswer(FALLBACK, "fallback")

    def ask_genrec(self, user_id: str, message: str) -> BotAnswer:
        """One turn with genrec; `user` keeps one genrec session per customer.

        genrec's text is shown as it comes: its numbered picks, each with its reason, then its
        question, if it asked one. The picks are also in `recommendations` (for cards or links).
        """
        completion = self.client.chat.completions.create(
            model="genrec",
            messages=[{"role": "user", "content": message}],
            user=f"support-{user_id}",
        )
        extra = (completion.model_extra or {}).get("genrec") or {}
        recs = list(extra.get("recommendations") or [])
        return BotAnswer(completion.choices[0].message.content or "", "genrec", recs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="genrec server")
    parser.add_argument("--user", default="demo", help="customer id (one genrec session each)")
    args = parser.parse_args()
    bot = SupportBot(args.url)
    print("Support bot ready (Ctrl+D to quit).")
    while True:
        try:
            message = input("you> ").strip()
        except EOFError:
            break
        if message:
            print("bot>", bot.answer(args.user, message).text)


if __name__ == "__main__":
    main()
