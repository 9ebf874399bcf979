"""Any catalog: a dataset says what one of its items is (movie, book, ...), for the app's words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrec.cli import app
from genrec.config import Settings
from genrec.data import Dataset, load_dataset

runner = CliRunner()

BOOKS = ("item_id,title,year,genres\n1,The Murder of Roger Ackroyd,1926,Mystery\n"
         "2,Dune,1965,Science Fiction\n3,Emma,1815,Romance\n")
READS = "user_id,item_id,rating\n1,1,5\n1,2,4\n2,3,3\n"


def _files(tmp: Path) -> tuple[str, str]:
    (tmp / "books.csv").write_text(BOOKS)
    (tmp / "reads.csv").write_text(READS)
    return str(tmp / "books.csv"), str(tmp / "reads.csv")


def test_imported_books_catalog_reports_book(settings: Settings, tmp_path: Path) -> None:
    items, ratings = _files(tmp_path)
    res = runner.invoke(app, ["data", "import", "library", "--items", items, "--ratings", ratings,
                              "--item-noun", "book"])
    assert res.exit_code == 0, res.output
    assert "imported library: 3 books, 3 ratings, 2 users" in res.output
    ds = load_dataset("library", settings.datasets_dir)  # read back from disk, as the app does
    assert (ds.item_noun, ds.catalog.item_noun, ds.catalog.item_noun_plural) == (
        "book",
        "book",
        "books",
    )
    info = runner.invoke(app, ["data", "info", "library", "--json"])
    assert json.loads(info.stdout)["item_noun"] == "book"


def test_import_without_a_noun_says_item_and_irregular_plurals_can_be_given(
        settings: Settings, tmp_path: Path) -> None:
    items, ratings = _files(tmp_path)
    assert (
        runner.invoke(
            app, ["data", "import", "plain", "--items", items, "--ratings", ratings]
        ).exit_code
        == 0
    )
    assert load_dataset("plain", settings.datasets_dir).catalog.item_noun_plural == "items"
    res = runner.invoke(app, ["data", "import", "crew", "--items", items, "--ratings", ratings,
                              "--item-noun", "person", "--item-noun-plural", "people"])
    assert res.exit_code == 0, res.output
    assert load_dataset("crew", settings.datasets_dir).catalog.item_noun_plural == "people"


def test_a_bad_item_noun_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    items, ratings = _files(tmp_path)
    res = runner.invoke(app, ["data", "import", "library", "--items", items, "--ratings", ratings,
                              "--item-noun", "<b>book</b>"])
    assert res.exit_code == 1
    assert "item noun '<b>book</b>' is not usable" in res.output and "Traceback" not in res.output
    assert not (settings.datasets_dir / "library").exists()


def test_movielens_items_are_movies(ml100k: Dataset) -> None:
    assert (ml100k.item_noun, ml100k.catalog.item_noun_plural) == ("movie", "movies")
    assert ml100k.info()["item_noun"] == "movie"


@pytest.mark.parametrize(("noun", "plural"), [("board game", "board games"), ("story", "stories"),
                                              ("series", "series"), ("dish", "dishes")])
def test_plural_of_common_nouns(noun: str, plural: str) -> None:
    from genrec.data._model import plural_noun

    assert plural_noun(noun) == plural
