"""Genre words on MovieLens "latest", whose genre is "Children" where ML-100K says "Children's"."""

from __future__ import annotations

import pytest

from genrec.agent.understanding.genres import GenreVocabulary

ML_100K = [
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
ML_LATEST = [
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
    "(no genres listed)",
]


@pytest.mark.parametrize(("genres", "kids"), [(ML_100K, "Children's"), (ML_LATEST, "Children")])
@pytest.mark.parametrize(
    "message",
    [
        "a family movie",
        "a kids film tonight",
        "something for children",
        "any good family films?",
        "a children's movie",
    ],
)
def test_family_and_kids_words_mean_the_catalogs_children_genre(
    genres: list[str], kids: str, message: str
) -> None:
    said = GenreVocabulary(genres).read(message)
    assert said.wanted == [kids]
    assert (
        kids not in said.avoided
    )  # "for children" also leaves out the adult genres (the kids rule)


@pytest.mark.parametrize(("genres", "kids"), [(ML_100K, "Children's"), (ML_LATEST, "Children")])
def test_the_kids_rule_and_its_negation_on_both_catalogs(genres: list[str], kids: str) -> None:
    vocab = GenreVocabulary(genres)
    assert vocab.kids_genre == kids
    assert vocab.genre_of("family") == kids
    assert "Horror" in vocab.read("something for my 6 year old").avoided
    assert vocab.read("no kids stuff").avoided == [kids]
    assert vocab.read("my family loved it").wanted == []  # the speaker's family, not a genre
