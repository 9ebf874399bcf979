"""`genrec data import` cannot corrupt: 64-bit ids, rating scale, decoding and CSV syntax errors
name file, line and column; names are checked; a kill at any moment leaves the old or the new
dataset (real files, real subprocesses killed with SIGKILL); leftovers go on the next run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genrec.data import DataImportError, _swap, import_dataset, load_dataset

ITEMS = "item_id,title,year,genres\n1,Alpha,1999,Drama\n2,Beta,2001,Action\n3,Gamma,2010,\n"
RATINGS = "user_id,item_id,rating\n1,1,5\n1,2,3\n2,3,4\n"


def _files(
    tmp: Path, items: str | bytes = ITEMS, ratings: str | bytes = RATINGS
) -> tuple[Path, Path]:
    i, r = tmp / "items.csv", tmp / "ratings.csv"
    for path, body in ((i, items), (r, ratings)):
        path.write_bytes(body.encode() if isinstance(body, str) else body)
    return i, r


@pytest.mark.parametrize(
    ("items", "ratings", "message"),
    [
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,5\n99999999999999999999,2,3\n",
            r"ratings.csv row 3, column user_id: '99999999999999999999' is outside the 64-bit",
        ),
        (
            ITEMS.replace("3,Gamma", "9223372036854775808,Gamma"),
            RATINGS,
            r"items.csv row 4, column item_id: .* outside the 64-bit",
        ),
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,inf\n",
            r"row 2, column rating: 'inf' is not a number",
        ),
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,nan\n",
            r"row 2, column rating: 'nan' is not a number",
        ),
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,0.5\n",
            r"row 2, column rating: 0.5 is outside the rating scale",
        ),
        (
            ITEMS.encode() + b"4,Caf\xe9,2000,\n",
            RATINGS,
            r"items.csv line 5, column 6: byte 0xe9 is not UTF-8",
        ),
        (
            ITEMS,
            "user_id,item_id,rating\n1,1,5\n1,2,3,9\n",
            r"ratings.csv line 3: 4 fields, but the header has 3",
        ),
        (
            ITEMS + '4,"Unclosed,2000,Drama\n5,Other,2001,Drama\n',
            RATINGS,
            r"items.csv line 5, column 3: .*unterminated quote",
        ),
        ("item_id,title,year,genres\n", RATINGS, r"items.csv: no items, only a header"),
        (ITEMS, "user_id,item_id,rating\n", r"ratings.csv: no ratings, only a header"),
        ("", RATINGS, r"items.csv: the file is empty"),
        (
            "item_id,title,title\n1,A,B\n",
            RATINGS,
            r"items.csv line 1: column 'title' appears twice",
        ),
        (
            ITEMS.replace("1999", "1e400"),
            RATINGS,
            r"items.csv row 2, column year: '1e400' is not a year",
        ),
    ],
)
def test_bad_files_name_file_line_and_column_and_keep_the_old_dataset(
        tmp_path: Path, items, ratings, message: str) -> None:
    datasets = tmp_path / "datasets"
    import_dataset("shop", *_files(tmp_path), datasets)
    with pytest.raises(DataImportError, match=message):
        import_dataset("shop", *_files(tmp_path, items, ratings), datasets)
    assert len(load_dataset("shop", datasets).ratings) == 3  # the previous import stands
    assert sorted(p.name for p in datasets.iterdir()) == ["shop"]


def test_parquet_ids_beyond_64_bits_are_refused(tmp_path: Path) -> None:
    items, _ = _files(tmp_path)
    pq = tmp_path / "ratings.parquet"
    pd.DataFrame({"user_id": np.array([1, 2**64 - 1], dtype=np.uint64), "item_id": [1, 2],
                  "rating": [5.0, 3.0]}).to_parquet(pq)
    with pytest.raises(DataImportError, match=r"ratings.parquet row 2, column user_id: .*64-bit"):
        import_dataset("shop", items, pq, tmp_path / "datasets")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x" * 300, r"\(300 characters\) is not usable"),
        ("ml-100k", "is a built-in dataset"),
        ("ML-100K", "is a built-in dataset"),
        ("../escape", "is not usable"),
        (".hidden", "is not usable"),
        ("a b", "is not usable"),
        ("", "is not usable"),
        ("semi;colon", "is not usable"),
    ],
)
def test_dataset_names_are_checked(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(DataImportError, match=message):
        import_dataset(name, *_files(tmp_path), tmp_path / "datasets")
    assert not (tmp_path / "datasets").exists() or not any((tmp_path / "datasets").iterdir())


def test_cli_reports_a_bad_name_and_an_overflow_without_a_traceback(tmp_path: Path) -> None:
    from genrec.cli import app

    items, ratings = _files(tmp_path, ratings="user_id,item_id,rating\n99999999999999999999,1,5\n")
    for args in (["x" * 300], ["ml-100k"], ["shop"]):
        res = CliRunner().invoke(app, ["data", "import", *args, "--items", str(items),
                                       "--ratings", str(ratings)])
        assert res.exit_code != 0 and "Traceback" not in res.output, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "64-bit" in res.output and "row 2, column user_id" in res.output


def test_leftovers_of_killed_runs_are_removed_on_the_next_run(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    import_dataset("shop", *_files(tmp_path), datasets)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (datasets / f".import-shop-{dead.pid}-abc123").mkdir()
    (datasets / ".import-other-notapid-x").mkdir()
    live = datasets / f".import-shop-{os.getppid()}-inuse"  # a running process: left alone
    live.mkdir()
    (datasets / ".shop.old").mkdir()
    import_dataset("shop", *_files(tmp_path), datasets)
    assert sorted(p.name for p in datasets.iterdir()) == sorted(["shop", live.name])


def test_a_kill_between_the_two_renames_leaves_the_old_dataset(tmp_path: Path,
                                                               monkeypatch) -> None:
    """The fallback swap (no renameat2): the state a kill leaves there is repaired on load."""
    datasets = tmp_path / "datasets"
    import_dataset("shop", *_files(tmp_path), datasets)
    (datasets / "shop").rename(datasets / ".shop.old")  # killed right after the first rename
    assert len(load_dataset("shop", datasets).ratings) == 3
    assert sorted(p.name for p in datasets.iterdir()) == ["shop"]
    monkeypatch.setattr(_swap, "_exchange", lambda a, b: False)
    import_dataset("shop", *_files(tmp_path, ratings=RATINGS + "3,1,2\n"), datasets)
    assert len(load_dataset("shop", datasets).ratings) == 4


_IMPORT = """
import sys
from genrec.data import import_dataset
import_dataset("shop", sys.argv[1], sys.argv[2], sys.argv[3])
"""


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_old_or_new_never_none(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    items, ratings = _files(tmp_path)
    import_dataset("shop", items, ratings, datasets)
    rng = random.Random(0)
    users = 40_000
    big = tmp_path / "big.csv"
    big.write_text("user_id,item_id,rating\n" + "".join(
        f"{u},{i},{rng.randint(1, 5)}\n" for u in range(1, users + 1) for i in (1, 2, 3)))
    outcomes = []
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _IMPORT, str(items), str(big), str(datasets)]
        )
        time.sleep(rng.uniform(0.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        n = len(load_dataset("shop", datasets).ratings)  # never missing, never partial
        assert n in (3, 3 * users)
        outcomes.append(n)
    import_dataset("shop", items, ratings, datasets)
    assert sorted(p.name for p in datasets.iterdir()) == ["shop"]  # leftovers gone
    assert len(load_dataset("shop", datasets).ratings) == 3
