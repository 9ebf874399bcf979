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
    '"{t}" stayed with me for weeks.',
    'I could rewatch "{t}" any day.',
)
AVOID = (
    "Please no {g}, it's not for me.",
    "I'm not into {g} at all.",
    "I'd rather avoid {g}.",
    "Nothing {g}, please.",
    "Honestly, {g} leaves me cold.",
    "I'll pass on {g}.",
    "Spare me the {g}.",
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
    '"{t}" bored me to tears.',
    'I switched off "{t}" halfway through.',
)
SEEN_LIKED = (
    'I have already seen "{t}" and liked it.',
    'Seen "{t}" already, it was good.',
    'I know "{t}", I enjoyed it.',
    'Watched "{t}" a while back, loved it.',
)
SEEN_DISLIKED = (
    'I saw "{t}" and did not like it.',
    'I have seen "{t}", not a fan.',
    'Already sat through "{t}", it was a chore.',
)
SEEN_NEUTRAL = (
    'I have seen "{t}" already, it was ok.',
    'Already watched "{t}", it was fine.',
    '"{t}" I know, it was so-so.',
)
SEEN_LIKED_MANY = (
    "I have already seen {ts} and liked them.",
    "Seen {ts} already, they were good.",
    "I know {ts}, enjoyed every one of them.",
)
SEEN_DISLIKED_MANY = (
    "I saw {ts} and did not like them.",
    "I have seen {ts}, not a fan of those.",
    "Been through {ts}, none of them worked for me.",
)
SEEN_NEUTRAL_MANY = (
    "I have seen {ts} already, they were ok.",
    "Watched {ts} before, they were so-so.",
    "{ts} I know, nothing special.",
)
SEEN_ALL = (
    "I've seen {ts}",
    "Seen all of those: {ts}",
    "I know {ts} already",
)
"""A list of seen titles with shared verdicts: "I've seen A, B and C: loved A and B, C was meh"."""
VERDICT_LIKED = ("loved {ts}", "{ts} I really liked", "enjoyed {ts}")
VERDICT_DISLIKED = ("{ts} didn't work for me", "couldn't get into {ts}", "{ts} I disliked")
VERDICT_NEUTRAL = ("{ts} was meh", "{ts} was just okay", "{ts} was so-so")
VERDICT_NEUTRAL_MANY = ("{ts} were meh", "{ts} were just okay", "{ts} were so-so")
SOUNDS_GOOD = (
    "The {o} one sounds good.",
    "I'd watch number {n}.",
    "#{n} looks like my kind of thing.",
    "Ooh, the {o} suggestion could be fun.",
    "Number {n} is going on my list.",
)
"""An opinion on ONE shown item it has not seen, by position (never by title: it may be held
out)."""
SOUNDS_GOOD_MANY = (
    "Numbers {ns} sound good.",
    "I'd happily watch #{ns}.",
    "Those at positions {ns} look right up my street.",
)
SOUNDS_GOOD_DECADE = (
    "Number {n} is from the {d}s, my favourite era, so I'd give it a go.",
    "The {o} one sounds good, I like films from that time.",
    "#{n} is from the {d}s, that usually works for me.",
)
NOT_IN_THE_MOOD = (
    "Not in the mood for {a}.",
    "I'd skip the {g} ones.",
    "Some of these are {g}, which is not really my thing.",
    "I'll pass on anything {g}.",
    "Honestly, {g} isn't what I'm after tonight.",
)
"""An opinion on shown items it has not seen, from a genre it avoids (a genre negation)."""
REQUEST = (
    "Could you find me {a} from the {d}s?",
    "I'm in the mood for {a} from the {d}s.",
    "What about {a}, made in the {d}s?",
    "Tonight I fancy {a}, ideally one from the {dw}.",
)
"""A request with a genre and a decade: the user's hard constraints from now on."""
REQUEST_GENRE = (
    "Could you find me {a}?",
    "I'm in the mood for {a} tonight.",
    "Right now I fancy {a}.",
)
"""A request with a genre only."""
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


_A_GENRE = {
    "Action": "an action film", "Adventure": "an adventure", "Animation": "an animated film",
    "Children's": "a film for kids", "Comedy": "a comedy", "Crime": "a crime film",
    "Documentary": "a documentary", "Drama": "a drama", "Fantasy": "a fantasy film",
    "Film-Noir": "a film noir", "Horror": "a horror film", "Musical": "a musical",
    "Mystery": "a mystery", "Romance": "a romance", "Sci-Fi": "a sci-fi film",
    "Thriller": "a thriller", "War": "a war film", "Western": "a western",
}


def a_genre(genre: str) -> str:
    """One film of a genre, as a person asks for it.

    >>> a_genre("Western"), a_genre("Sci-Fi"), a_genre("Biopic")
    ('a western', 'a sci-fi film', 'a biopic film')
    """
    return _A_GENRE.get(genre, f"a {genre_word(genre)} film")


_ORDINAL_WORDS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
)
_DECADE_WORDS = {
    1920: "twenties",
    1930: "thirties",
    1940: "forties",
    1950: "fifties",
    1960: "sixties",
    1970: "seventies",
    1980: "eighties",
    1990: "nineties",
}


def ordinal(position: int) -> str:
    """A list position (1-based) as a word: "second"; past the tenth, "number 12".

    >>> ordinal(2), ordinal(12)
    ('second', 'number 12')
    """
    return (
        _ORDINAL_WORDS[position - 1]
        if 1 <= position <= len(_ORDINAL_WORDS)
        else f"number {position}"
    )


def decade_word(decade: int) -> str:
    """A decade as a person may spell it: "eighties" (or "2000s" where there is no word).

    >>> decade_word(1980), decade_word(2000)
    ('eighties', '2000s')
    """
    return _DECADE_WORDS.get(decade, f"{decade}s")


def as_sentence(text: str) -> str:
    """Capitalised (unless it opens with a quoted title or a #) and ending in a full stop.

    >>> as_sentence("not in the mood for a comedy tonight"), as_sentence('"Heat" was great!')
    ('Not in the mood for a comedy tonight.', '"Heat" was great!')
    """
    text = text.strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def and_list(words: Sequence[str]) -> str:
    """Words joined as a person lists them.

    >>> and_list(["drama"]), and_list(["drama", "comedy", "action"])
    ('drama', 'drama, comedy and action')
    """
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


__all__ = [
    "AVOID",
    "DECADE",
    "DISLIKED",
    "I_MEANT",
    "LIKED",
    "MORE",
    "MORE_GENRE",
    "NOTHING_LEFT",
    "NOT_IN_THE_MOOD",
    "OPEN_GENRES",
    "OPEN_PLAIN",
    "REQUEST",
    "REQUEST_GENRE",
    "RESTATE_GENRES",
    "SEEN_ALL",
    "SEEN_DISLIKED",
    "SEEN_DISLIKED_MANY",
    "SEEN_LIKED",
    "SEEN_LIKED_MANY",
    "SEEN_NEUTRAL",
    "SEEN_NEUTRAL_MANY",
    "SOUNDS_GOOD",
    "SOUNDS_GOOD_DECADE",
    "SOUNDS_GOOD_MANY",
    "VERDICT_DISLIKED",
    "VERDICT_LIKED",
    "VERDICT_NEUTRAL",
    "VERDICT_NEUTRAL_MANY",
    "a_genre",
    "and_list",
    "as_sentence",
    "decade_word",
    "genre_word",
    "ordinal",
]
