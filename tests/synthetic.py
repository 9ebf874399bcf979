"""A small synthetic film catalog for the fast test lane: 155 films and 150 seeded raters.

59 well-known films keep their MovieLens 100K ids, titles, years and genres (Toy Story is item 1,
Star Wars item 50), so a test can name them; 96 made-up films give every genre and decade from the
1940s on at least ten films; the ratings are made up from each rater's favourite genres.
"""

from __future__ import annotations

import random

import pandas as pd

from genrec.data import Catalog, Dataset, Item, Ratings

_ACTION, _ADVENTURE, _ANIMATION, _CHILDREN = "Action", "Adventure", "Animation", "Children's"
_COMEDY, _CRIME, _DRAMA, _FANTASY = "Comedy", "Crime", "Drama", "Fantasy"
_HORROR, _MUSICAL, _ROMANCE, _SCIFI = "Horror", "Musical", "Romance", "Sci-Fi"
_MYSTERY, _NOIR, _THRILLER = "Mystery", "Film-Noir", "Thriller"
_WAR, _WESTERN = "War", "Western"

#: (MovieLens 100K id, raw title as u.item writes it, genres) of the films tests name.
NAMED_FILMS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "Toy Story (1995)", (_ANIMATION, _CHILDREN, _COMEDY)),
    (2, "GoldenEye (1995)", (_ACTION, _ADVENTURE, _THRILLER)),
    (9, "Dead Man Walking (1995)", (_DRAMA,)),
    (11, "Seven (Se7en) (1995)", (_CRIME, _THRILLER)),
    (12, "Usual Suspects, The (1995)", (_CRIME, _THRILLER)),
    (22, "Braveheart (1995)", (_ACTION, _DRAMA, _WAR)),
    (50, "Star Wars (1977)", (_ACTION, _ADVENTURE, _ROMANCE, _SCIFI, _WAR)),
    (56, "Pulp Fiction (1994)", (_CRIME, _DRAMA)),
    (64, "Shawshank Redemption, The (1994)", (_DRAMA,)),
    (69, "Forrest Gump (1994)", (_COMEDY, _ROMANCE, _WAR)),
    (71, "Lion King, The (1994)", (_ANIMATION, _CHILDREN, _MUSICAL)),
    (79, "Fugitive, The (1993)", (_ACTION, _THRILLER)),
    (82, "Jurassic Park (1993)", (_ACTION, _ADVENTURE, _SCIFI)),
    (89, "Blade Runner (1982)", (_NOIR, _SCIFI)),
    (95, "Aladdin (1992)", (_ANIMATION, _CHILDREN, _COMEDY, _MUSICAL)),
    (96, "Terminator 2: Judgment Day (1991)", (_ACTION, _SCIFI, _THRILLER)),
    (98, "Silence of the Lambs, The (1991)", (_DRAMA, _THRILLER)),
    (100, "Fargo (1996)", (_CRIME, _DRAMA, _THRILLER)),
    (117, "Rock, The (1996)", (_ACTION, _ADVENTURE, _THRILLER)),
    (121, "Independence Day (ID4) (1996)", (_ACTION, _SCIFI, _WAR)),
    (127, "Godfather, The (1972)", (_ACTION, _CRIME, _DRAMA)),
    (168, "Monty Python and the Holy Grail (1974)", (_COMEDY,)),
    (172, "Empire Strikes Back, The (1980)", (_ACTION, _ADVENTURE, _DRAMA, _ROMANCE, _SCIFI, _WAR)),
    (174, "Raiders of the Lost Ark (1981)", (_ACTION, _ADVENTURE)),
    (176, "Aliens (1986)", (_ACTION, _SCIFI, _THRILLER, _WAR)),
    (181, "Return of the Jedi (1983)", (_ACTION, _ADVENTURE, _ROMANCE, _SCIFI, _WAR)),
    (183, "Alien (1979)", (_ACTION, _HORROR, _SCIFI, _THRILLER)),
    (200, "Shining, The (1980)", (_HORROR,)),
    (204, "Back to the Future (1985)", (_COMEDY, _SCIFI)),
    (210, "Indiana Jones and the Last Crusade (1989)", (_ACTION, _ADVENTURE)),
    (222, "Star Trek: First Contact (1996)", (_ACTION, _ADVENTURE, _SCIFI)),
    (227, "Star Trek VI: The Undiscovered Country (1991)", (_ACTION, _ADVENTURE, _SCIFI)),
    (228, "Star Trek: The Wrath of Khan (1982)", (_ACTION, _ADVENTURE, _SCIFI)),
    (229, "Star Trek III: The Search for Spock (1984)", (_ACTION, _ADVENTURE, _SCIFI)),
    (230, "Star Trek IV: The Voyage Home (1986)", (_ACTION, _ADVENTURE, _SCIFI)),
    (234, "Jaws (1975)", (_ACTION, _HORROR)),
    (258, "Contact (1997)", (_DRAMA, _SCIFI)),
    (273, "Heat (1995)", (_ACTION, _CRIME, _THRILLER)),
    (286, "English Patient, The (1996)", (_DRAMA, _ROMANCE, _WAR)),
    (288, "Scream (1996)", (_HORROR, _THRILLER)),
    (291, "Absolute Power (1997)", (_MYSTERY, _THRILLER)),
    (294, "Liar Liar (1997)", (_COMEDY,)),
    (300, "Air Force One (1997)", (_ACTION, _THRILLER)),
    (313, "Titanic (1997)", (_ACTION, _DRAMA, _ROMANCE)),
    (318, "Schindler's List (1993)", (_DRAMA, _WAR)),
    (343, "Alien: Resurrection (1997)", (_ACTION, _HORROR, _SCIFI)),
    (380, "Star Trek: Generations (1994)", (_ACTION, _ADVENTURE, _SCIFI)),
    (423, "E.T. the Extra-Terrestrial (1982)", (_CHILDREN, _DRAMA, _FANTASY, _SCIFI)),
    (433, "Heathers (1989)", (_COMEDY,)),
    (435, "Butch Cassidy and the Sundance Kid (1969)", (_ACTION, _COMEDY, _WESTERN)),
    (449, "Star Trek: The Motion Picture (1979)", (_ACTION, _ADVENTURE, _SCIFI)),
    (450, "Star Trek V: The Final Frontier (1989)", (_ACTION, _ADVENTURE, _SCIFI)),
    (483, "Casablanca (1942)", (_DRAMA, _ROMANCE, _WAR)),
    (568, "Speed (1994)", (_ACTION, _ROMANCE, _THRILLER)),
    (588, "Beauty and the Beast (1991)", (_ANIMATION, _CHILDREN, _MUSICAL)),
    (636, "Escape from New York (1981)", (_ACTION, _ADVENTURE, _SCIFI, _THRILLER)),
    (665, "Alien 3 (1992)", (_ACTION, _HORROR, _SCIFI, _THRILLER)),
    (693, "Casino (1995)", (_DRAMA,)),
    (1016, "Con Air (1997)", (_ACTION, _ADVENTURE, _THRILLER)),
)

_GENRES = (_ACTION, _ADVENTURE, _ANIMATION, _CHILDREN, _COMEDY, _CRIME, _DRAMA, _FANTASY,
           _HORROR, _MUSICAL, _MYSTERY, _ROMANCE, _SCIFI, _THRILLER, _WAR, _WESTERN)
_WORDS = ("Amber", "Silver", "Crimson", "Velvet", "Hollow", "Distant", "Northern", "Painted")
_PLACES = ("Harbour", "Lantern", "Meridian", "Orchard", "Quarry", "Citadel", "Compass", "Lagoon",
           "Causeway", "Foundry", "Pavilion", "Tundra")


def _made_up_films() -> list[tuple[int, str, tuple[str, ...]]]:
    """Six films per genre, one per decade 1940s-1990s; ids from 1700 (above ML-100K's)."""
    films = []
    for n in range(len(_GENRES) * 6):
        genre, decade = _GENRES[n // 6], 1940 + 10 * (n % 6)
        second = _GENRES[(n * 7 + 3) % len(_GENRES)]
        title = f"{_WORDS[n % len(_WORDS)]} {_PLACES[n // len(_WORDS)]}"
        year = decade + (n * 3) % 10
        genres = (genre,) if second == genre else tuple(sorted((genre, second)))
        films.append((1700 + n, f"{title} ({year})", genres))
    return films


#: Every film of the catalog: the named ones, then the made-up ones.
FILMS = NAMED_FILMS + tuple(_made_up_films())

#: Raters and how many films each rated.
USERS, RATED_PER_USER = 150, 30


def small_catalog() -> Catalog:
    """The films as a movie catalog named "small-films"."""
    items = []
    for item_id, raw, genres in FILMS:
        title, year = raw[: raw.rindex(" (")], int(raw[raw.rindex("(") + 1 : -1])
        if title.endswith(", The"):
            title = "The " + title[: -len(", The")]
        items.append(Item(item_id, title, year, genres, raw_title=raw))
    return Catalog(items, name="small-films")


def small_ratings(catalog: Catalog, *, seed: int = 0) -> Ratings:
    """RATED_PER_USER ratings (1-5 stars) from each of USERS raters, seeded.

    Each rater likes two genres: a film with one of them is rated 4-5, any other 1-3.
    """
    rnd = random.Random(seed)
    genres = catalog.genres
    ids = [item.item_id for item in catalog]
    rows = []
    for user in range(1, USERS + 1):
        liked = set(rnd.sample(genres, 2))
        for item_id in rnd.sample(ids, RATED_PER_USER):
            good = bool(liked & set(catalog[item_id].genres))
            stars = float(rnd.randint(4, 5) if good else rnd.randint(1, 3))
            rows.append((user, item_id, stars, 880_000_000 + len(rows)))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return Ratings(frame, scale=(1.0, 5.0))


def small_dataset(seed: int = 0) -> Dataset:
    """The synthetic films and their seeded ratings as one dataset."""
    catalog = small_catalog()
    return Dataset("small-films", catalog, small_ratings(catalog, seed=seed))
