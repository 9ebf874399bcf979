"""Reasons: templated rationales built only from an item's evidence, in varied words (no
sentence repeated in a list).
"""

from __future__ import annotations

from genrec.agent.rationales.evidence import Evidence, shown_rating
from genrec.agent.state import DialogueState


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _top(rank: int | None) -> int | None:
    """The round "top N" a popularity rank falls in (10, 25, 50, 100 or 250), else None."""
    return next((top for top in (10, 25, 50, 100, 250) if rank is not None and rank <= top), None)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


# Phrasings per kind of evidence; a list's items take them in turn, and a sentence already used
# in the same list is never used again (each item's facts differ, or another phrasing is taken).
_LIKE = ("People who liked {liked} tend to like this one too.",
         "Close to {liked} in how people rate it.",
         "Rated much like {liked}, which you liked.",
         "Fans of {liked} rate it highly as well.",
         "The same people who enjoy {liked} enjoy this one.")
_TAGGED = ("Tagged {tag} by {viewers}.",
           "{Viewers} tagged it {tag}.",
           "{Viewers} gave it the tag {tag}.")
_ASKED = ("{Genres}, as you asked.",
          "It fits your request for {genres}.",
          "One of the {genres} {nouns} you asked for.",
          "{A_genres} {noun}, which is what you asked for.",
          "It meets your {genres} request.",
          "You asked for {genres}; this one is from {year}.",
          "For your {genres} request: {a_noun} from {year}.",
          "{Genres} as you asked, released in {year}.")
_ASKED_YEARS = ("{A_genres} {noun} from {year}, as you asked.",
                "A {year} pick for your {genres} request.",
                "From {year}, and {genres} as requested.")
_YEARS = ("From {year}, inside the years you asked for.",
          "Released in {year}, within your years.",
          "{year} fits the years you gave.")
_TASTE = ("{Genres} suits your taste.",
          "It leans to {genres}, which you enjoy.",
          "{A_genres} {noun}, in line with what you usually enjoy.")
_PREDICTED = ("People who rate {nouns} the way you do give it about {r}/5.",
              "Going by what you liked, I'd guess you would rate it {r}/5.",
              "Viewers with tastes like yours rate it about {r} out of 5.",
              "From your favourites, my guess is you'd give it {r}/5.")
_BELOW_ASKED = ("It's here for your {genres} request more than your own taste: my guess for you "
                "is only {r}/5.",
                "Picked for your {genres} request, though viewers with your taste rate it lower "
                "({r}/5).")
_BELOW = ("A long shot for your taste: my guess for you is only {r}/5.",
          "Viewers with your taste rate it lower than the rest ({r}/5).")
_POPULAR_TOP = ("One of the {top} most-rated {nouns} here: {n} people rated it.",
                "{n} people rated it here, among the {top} most-rated {nouns}.",
                "Among the {top} {nouns} rated most often here ({n} ratings).")
_POPULAR = ("{n} people rated it in this catalog.",
            "Rated by {n} people in this catalog.")
_PLAIN = ("{A_genres} {noun} from {year}.", "{Title} is {a_genres} {noun} from {year}.")


def template_rationales(evidence: list[Evidence], state: DialogueState) -> list[str]:
    """One or two sentences per item, built only from its evidence (so always true), in varied
    words: the liked item it resembles, the viewer tag it carries that the user asked for ("tagged
    mind-bending by 12 viewers"), the request it meets, its predicted rating (else how many people
    rated it); no sentence is repeated within the list."""
    used: set[str] = set()
    out = []
    for n, ev in enumerate(evidence):
        noun, nouns = ev.kind, ev.kind_plural
        request = ev.matched_genres and [g for g in ev.matched_genres if g in state.wanted_genres]
        genres = request or ev.matched_genres or ev.genres[:2]
        words = {
            "liked": ev.nearest_liked_title or "",
            "genres": _join(genres),
            "Genres": _cap(_join(genres)),
            "A_genres": _cap(_a(_join(genres))) if genres else "A",
            "a_genres": _a(_join(genres)) if genres else "a",
            "noun": noun,
            "nouns": nouns,
            "a_noun": _a(noun),
            "year": str(ev.year or ""),
            "Title": ev.title,
            "r": shown_rating(ev.predicted_rating) if ev.predicted_rating is not None else "",
            "n": f"{ev.ratings_count:,}" if ev.ratings_count else "",
            "top": str(_top(ev.popularity_rank) or ""),
        }
        if ev.matched_tags:
            tag, tagged_by = ev.matched_tags[0]
            viewers = f"{tagged_by:,} viewer{'s' if tagged_by != 1 else ''}"
            words.update(tag=tag, viewers=viewers, Viewers=_cap(viewers))
        kinds: list[tuple[str, ...]] = []
        if ev.below_middle:  # a pick the user may not like says first why it is here
            kinds.append(_BELOW_ASKED if request else _BELOW)
        if ev.nearest_liked_title:
            kinds.append(_LIKE)
        if ev.matched_tags:
            kinds.append(_TAGGED)
        if request:
            kinds.append(_ASKED_YEARS if ev.in_year_range and ev.year else _ASKED)
        elif ev.in_year_range and ev.year:
            kinds.append(_YEARS)
        elif ev.matched_genres:
            kinds.append(_TASTE)
        if ev.predicted_rating is not None and not ev.below_middle:
            kinds.append(_PREDICTED)
        elif ev.predicted_rating is None and ev.ratings_count:
            kinds.append(_POPULAR_TOP if _top(ev.popularity_rank) else _POPULAR)
        sentences: list[str] = []
        for phrasings in kinds:
            if len(sentences) == 2:
                break
            for k in range(len(phrasings)):
                phrasing = phrasings[(n + k) % len(phrasings)]
                if "{year}" in phrasing and not ev.year:
                    continue
                text = phrasing.format(**words)
                if text not in used:
                    sentences.append(text)
                    used.add(text)
                    break
        if len(sentences) < 2:  # what it is, after the one fact (a title makes it unique)
            for plain in _PLAIN if ev.year else ("{Title} is {a_genres} {noun}.",):
                text = plain.format(**words)
                if text not in used:
                    sentences.append(text)
                    used.add(text)
                    break
        out.append(" ".join(sentences))
    return out


def template_rationale(ev: Evidence, state: DialogueState) -> str:
    """One item's templated rationale (see `template_rationales`)."""
    return template_rationales([ev], state)[0]
