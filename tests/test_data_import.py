"""Bring-your-own data: a good import works; each kind of bad input names file, row and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.data import ColumnMap, DataImportError, ImportOptions, import_dataset, load_dataset

ITEMS = (
    "item_id,title,year,genres\n1,Alpha,1999,Drama|Comedy\n2,Beta (2001),,Action\n3,Gamma,2010,\n"
)
RATINGS = "user_id,item_id,rating,timestamp\n1,1,5,100\n1,2,3,101\n2,3,4,102\n"


def _write(tmp: Path, items: str = ITEMS, ratings: str = RATINGS) -> tuple[Path, Path]:
    (tmp / "items.csv").write_text(items)
    (tmp / "ratings.csv").write_text(ratings)
    return tmp / "items.csv", tmp / "ratings.csv"


def test_good_import_round_trips(tmp_path: Path) -> None:
    items, ratings = _write(tmp_path)
    ds = import_dataset("shop", items, ratings, tmp_path / "datasets")
    again = load_dataset("shop", tmp_path / "datasets")
    assert len(again.catalog) == 3 and len(again.ratings) == 3
    assert again.catalog[1].genres == ("Drama", "Comedy")
    assert again.catalog[2].title == "Beta" and again.catalog[2].year == 2001
    assert again.catalog.fingerprint() == ds.catalog.fingerprint()


def test_column_mapping(tmp_path: Path) -> None:
    items, ratings = _write(
        tmp_path,
        items="sku;name\n10;Widget\n",
        ratings="customer,sku,stars\n7,10,4.5\n",
    )
    items.write_text("sku,name\n10,Widget\n")
    cols = ColumnMap(item_id="sku", title="name", user="customer", item="sku", rating="stars")
    ds = import_dataset(
        "shop", items, ratings, tmp_path / "datasets", ImportOptions(cols, (0.5, 5))
    )
    assert ds.ratings.df.iloc[0].rating == 4.5 and ds.catalog[10].title == "Widget"


@pytest.mark.parametrize(
    ("items", "ratings", "message"),
    [
        ("id,title\n1,A\n", RATINGS, r"items.csv: missing column\(s\) \['item_id'\]"),
        (ITEMS, "user_id,item_id\n1,1\n", r"ratings.csv: missing column\(s\) \['rating'\]"),
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,5\n1,2,4,5\n",
            r"ratings.csv line 3: 4 fields, but the header has 3",
        ),
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,5\n1,2,abc\n",
            r"ratings.csv row 3, column rating: 'abc' is not a number",
        ),
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,5\n1,2,7\n",
            r"ratings.csv row 3, column rating: 7 is outside the rating scale 1..5",
        ),
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,5\n1,99,4\n",
            r"ratings.csv row 3, column item_id: item 99 is not in the items file",
        ),
        (
            ITEMS + "2,Again,2000,\n",
            RATINGS,
            r"items.csv row 5, column item_id: duplicate item id 2",
        ),
        (
            ITEMS,
            "user_id,item_id,rating\nx1,1,5\n",
            r"ratings.csv row 2, column user_id: 'x1' is not an integer id",
        ),
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,5\n1,1,4\n",
            r"ratings.csv row 3: user 1 rated item 1 twice",
        ),
    ],
)
def test_bad_input_names_file_row_and_column(
    tmp_path: Path, items: str, ratings: str, message: str
) -> None:
    items_path, ratings_path = _write(tmp_path, items, ratings)
    with pytest.raises(DataImportError, match=message):
        import_dataset("shop", items_path, ratings_path, tmp_path / "datasets")
    # nothing half-written: no dataset folder, no leftover temp folders
    datasets = tmp_path / "datasets"
    assert not (datasets / "shop").exists()
    assert not datasets.exists() or not any(datasets.iterdir())


def test_failed_reimport_keeps_the_previous_dataset(tmp_path: Path) -> None:
    items, ratings = _write(tmp_path)
    import_dataset("shop", items, ratings, tmp_path / "datasets")
    ratings.write_text("user_id,item_id,rating\n1,1,9\n")
    with pytest.raises(DataImportError):
        import_dataset("shop", items, ratings, tmp_path / "datasets")
    assert len(load_dataset("shop", tmp_path / "datasets").ratings) == 3


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataImportError, match="nope.csv: file not found"):
        import_dataset("shop", tmp_path / "nope.csv", tmp_path / "r.csv", tmp_path / "datasets")
