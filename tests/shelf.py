"""A small imported catalog for tests of the real CLI: 40 books, 30 readers who rated 20 each."""

from __future__ import annotations

import random
from pathlib import Path


def write_books(folder: Path, *, two_genres: bool = True) -> tuple[Path, Path]:
    """books.csv (genres joined by |, one or two per book) and ratings.csv in `folder`, seed 0."""
    rnd = random.Random(0)
    genres = ["Mystery", "Romance", "Science Fiction", "History", "Fantasy"]
    items = folder / "books.csv"
    items.write_text(
        "item_id,title,year,genres\n"
        + "".join(
            f"{i},Book number {i},{1950 + i},{genres[i % 5]}"
            + (f"|{genres[i * 3 % 5]}" if two_genres else "")
            + "\n"
            for i in range(1, 41)
        )
    )
    ratings = folder / "ratings.csv"
    ratings.write_text(
        "user_id,item_id,rating\n"
        + "".join(
            f"{u},{i},{rnd.randint(1, 5)}\n"
            for u in range(1, 31)
            for i in rnd.sample(range(1, 41), 20)
        )
    )
    return items, ratings
