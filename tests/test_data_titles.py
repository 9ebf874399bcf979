"""Display titles and years parsed from raw MovieLens titles."""

from __future__ import annotations

import pytest

from genrec.data import parse_title


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Shawshank Redemption, The (1994)", "The Shawshank Redemption", 1994),
        ("Toy Story (1995)", "Toy Story", 1995),
        ("Usual Suspects, The (1995)", "The Usual Suspects", 1995),
        ("Englishman Who Went Up a Hill, But Came Down a Mountain, The (1995)",
         "The Englishman Who Went Up a Hill, But Came Down a Mountain", 1995),
        ("City of Lost Children, The (Cité des enfants perdus, La) (1995)",
         "The City of Lost Children (La Cité des enfants perdus)", 1995),
        ("Seven (Se7en) (1995)", "Seven (Se7en)", 1995),
        ("Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1963)",
         "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb", 1963),
        ("unknown", "unknown", None),
        ("", "untitled", None),
    ],
)
def test_parse_title(raw: str, title: str, year: int | None) -> None:
    assert parse_title(raw) == (title, year)


def test_year_falls_back_to_release_date() -> None:
    assert parse_title("Some Film", "01-Jan-1997") == ("Some Film", 1997)
    assert parse_title("Some Film", None) == ("Some Film", None)


def test_ml100k_titles_all_parse(ml100k) -> None:
    for item in ml100k.catalog:
        assert item.title and not item.title.endswith(", The")
    assert ml100k.catalog[64].title == "The Shawshank Redemption"
    assert ml100k.catalog[64].raw_title == "Shawshank Redemption, The (1994)"
