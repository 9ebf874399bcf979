"""How a template user writes: its phrasings (varied, seeded) and how it spells genres and lists.

Genres are always written in lower case and titles always in double quotes, so that no template
word can be mistaken for a (capitalised, one-word) catalog title.
"""

from __future__ import annotations

from collections.abc import Sequence


def genre_word(genre: str) -> str:
    """How a user writes a genre in a sentence: lower case, a few spelled out.

    >>> genre_word("Sci-Fi"), genre_word("Drama")
    ('sci-fi', 'drama')
    """
    return {"Sci-Fi": "sci-fi", "Film-Noir": "film noir", "Children's": "children's"}.get(
        genre, genre.lower()
    )


OPEN_GENRES = (
    "Hi! I'm looking for a movie to watch. I usually enjoy {g}.",
    "Hello, can you recommend some films? I'm a big fan of {g}.",
    "Hey, I want something good to watch tonight, ideally {g}.",
    "I'd like some movie recommendations. I mostly watch {g}.",
    "Looking for a film suggestion: {g} is what I like most.",
)
OPEN_PLAIN = (
    "Hi! Can you recommend me a movie?",
    "Hello, I need something to watch tonight.",
)
MORE_GENRE = (
    "I also like {g}.",
    "Some {g} would be fine too.",
    "I'm open to {g} as well.",
)
LIKED = (
    'I really enjoyed "{t}".',
    'One of my favourites is "{t}".',
    'I loved "{t}", something along those lines would be great.',
    '"{t}" is a film I rate highly.',
    'I liked "{t}" a lot.',
    'For example, I thought "{t}" was great.',
)
AVOID = (
    "Please no {g}, it's not for me.",
    "I'm not into {g} at all.",
    "I'd rather avoid {g}.",
    "Nothing {g}, please.",
)
DECADE = (
    "I tend to enjoy films from the {d}s.",
    "Most of my favourites are from the {d}s.",
    "I have a soft spot for movies from the {d}s.",
)
DISLIKED = (
    'I did not like "{t}" at all.',
    'I found "{t}" pretty bad.',
    '"{t}" was a letdown for me.',
)
SEEN_LIKED = (
    'I have already seen "{t}" and liked it.',
    'Seen "{t}" already, it was good.',
    'I know "{t}", I enjoyed it.',
)
SEEN_DISLIKED = (
    'I saw "{t}" and did not like it.',
    'I have seen "{t}", not a fan.',
)
SEEN_NEUTRAL = (
    'I have seen "{t}" already, it was ok.',
    'Already watched "{t}", it was fine.',
)
SEEN_LIKED_MANY = (
    "I have already seen {ts} and liked them.",
    "Seen {ts} already, they were good.",
)
SEEN_DISLIKED_MANY = (
    "I saw {ts} and did not like them.",
    "I have seen {ts}, not a fan of those.",
)
SEEN_NEUTRAL_MANY = (
    "I have seen {ts} already, they were ok.",
)
NOT_MY_THING = (
    "Some of these are {g}, which is not really my thing.",
    "I'd skip the {g} ones.",
)
MORE = (
    "What else would you suggest?",
    "Any other ideas?",
    "Can you show me a few more?",
    "Those look interesting. What else is there?",
)
RESTATE_GENRES = (
    "As I said, I like {g}.",
    "Mostly {g}.",
)
I_MEANT = (
    'I meant "{t}" ({y}).',
    'The one from {y}: "{t}".',
)
NOTHING_LEFT = (
    "That's all I can think of. What would you recommend?",
    "I think you know my taste by now. Any other suggestions?",
)


def and_list(words: Sequence[str]) -> str:
    """Words joined as a person lists them.

    >>> and_list(["drama"]), and_list(["drama", "comedy", "action"])
    ('drama', 'drama, comedy and action')
    """
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


__all__ = [
    "AVOID", "DECADE", "DISLIKED", "I_MEANT", "LIKED", "MORE", "MORE_GENRE", "NOTHING_LEFT",
    "NOT_MY_THING", "OPEN_GENRES", "OPEN_PLAIN", "RESTATE_GENRES", "SEEN_DISLIKED",
    "SEEN_DISLIKED_MANY", "SEEN_LIKED", "SEEN_LIKED_MANY", "SEEN_NEUTRAL", "SEEN_NEUTRAL_MANY",
    "and_list", "genre_word",
]
