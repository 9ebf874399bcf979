"""MovieLens in GroupLens's "latest" layout (ml-latest-small, ml-25m, ml-32m): fetch, install, read.

Fetched from GroupLens (`movielens_base_url`, a mirror of its folder works the same) and checked
against the size and checksums in movielens_releases.json, or installed with `--from PATH` from the
zip a user downloaded (checked the same way) or its unpacked folder (checked as the format). The
files stay as GroupLens wrote them under GENREC_HOME/datasets/NAME with a manifest (genrec.json):

- movies.csv  `movieId,title,genres`: "Matrix, The (1999)" is read as The Matrix, 1999; bracketed
  alternative titles become aliases; genres joined by `|` keep their names ("Children", "IMAX"),
  "(no genres listed)" is none.
- ratings.csv `userId,movieId,rating,timestamp`: half stars, 0.5-5.0.
- tags.csv    `userId,movieId,tag,timestamp`: each movie keeps its most frequent tags, counted by
  distinct viewers (`Item.tags`), bookkeeping tags ("in netflix queue") left out.
- links.csv   `movieId,imdbId,tmdbId`: `Item.links` (IMDb and TMDb pages).
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.data import _swap
from genrec.data._download import FetchError, Unreachable, download, file_digest
from genrec.data._model import Catalog, Dataset, Item, Ratings
from genrec.data.movielens import GROUPLENS_BASE_URL, FetchResult
from genrec.data.titles import split_title

RELEASES_FILE = Path(__file__).with_name("movielens_releases.json")
#: The catalog `genrec up` serves when it can fetch it (see `registry.AUTO`).
DEFAULT = "ml-latest-small"
ITEM_NOUN = "movie"
SCALE = (0.5, 5.0)
MANIFEST = "genrec.json"
#: Each file's header, as GroupLens writes it; movies and ratings are required.
HEADERS = {
    "movies.csv": ("movieId", "title", "genres"),
    "ratings.csv": ("userId", "movieId", "rating", "timestamp"),
    "tags.csv": ("userId", "movieId", "tag", "timestamp"),
    "links.csv": ("movieId", "imdbId", "tmdbId"),
}
REQUIRED = ("movies.csv", "ratings.csv")
NO_GENRES = "(no genres listed)"
#: How many of a movie's tags it keeps (most viewers first).
TAGS_PER_ITEM = 10
#: Tags that say what a viewer did with a film, not what the film is.
BOOKKEEPING_TAGS = frozenset({"in netflix queue", "netflix queue", "to see", "to watch", "watched",
                              "seen", "owned", "own it", "dvd", "bd-r", "bd-video", "clearplay",
                              "my movies", "library", "might like", "want to see"})


@dataclass(frozen=True)
class Release:
    """One published zip: its name under the base URL, size and checksums (None: not known), and
    the sha256 of the files inside when known."""

    name: str
    title: str
    zip: str
    bytes: int | None = None
    sha256: str | None = None
    md5: str | None = None
    checksum_source: str = ""
    files: dict[str, str] = field(default_factory=dict)

    def check_zip(self, zpath: Path) -> None:
        """Raise FetchError unless the zip has every size and checksum the release pins."""
        size = zpath.stat().st_size
        if self.bytes is not None and size != self.bytes:
            raise FetchError(f"{zpath.name}: {size:,} bytes, but the published {self.zip} has "
                             f"{self.bytes:,} (a partial or different file)")
        for algorithm in ("sha256", "md5"):
            want = getattr(self, algorithm)
            if want and (got := file_digest(zpath, algorithm)) != want:
                raise FetchError(
                    f"{zpath.name}: {algorithm} {got} is not the published {self.zip}'s {want}"
                )


@lru_cache(maxsize=1)
def releases() -> dict[str, Release]:
    """The releases genrec knows, by dataset name (from movielens_releases.json)."""
    data = json.loads(RELEASES_FILE.read_text(encoding="utf-8"))
    return {
        name: Release(name=name, **spec) for name, spec in data.items() if not name.startswith("_")
    }


def release(name: str) -> Release:
    try:
        return releases()[name]
    except KeyError:
        raise FetchError(
            f"unknown MovieLens release {name!r}; known: {', '.join(releases())}"
        ) from None


# ---------------------------------------------------------------- validate


def _header(path: Path) -> tuple[str, ...]:
    with path.open(encoding="utf-8", newline="") as f:
        return tuple(h.strip() for h in next(csv.reader(f), []))


def _first_bad(
    path: Path, column: str, bad: np.ndarray, values: pd.Series, what: str
) -> FetchError:
    i = int(np.flatnonzero(bad)[0])
    return FetchError(f"{path} line {i + 2}, column {column}: {str(values.iloc[i])!r} {what} "
                      f"({int(bad.sum()):,} such row(s))")


def _ints(path: Path, df: pd.DataFrame, column: str) -> np.ndarray:
    num = pd.to_numeric(df[column], errors="coerce")
    bad = (num.isna() | (num != num.round())).to_numpy()
    if bad.any():
        raise _first_bad(path, column, bad, df[column], "is not an integer")
    return num.to_numpy(dtype=np.int64)


def _numeric(path: Path, dtypes: dict[str, str]) -> pd.DataFrame:
    """The columns of `path` read as numbers (ml-32m's 32M ratings stay about 1 GB this way); a
    value that is not one is reported with its line, read again as text to find it."""
    try:
        return pd.read_csv(path, usecols=list(dtypes), dtype=dtypes)
    except (ValueError, TypeError):
        text = pd.read_csv(path, usecols=list(dtypes), dtype=str, keep_default_na=False)
        for column, dtype in dtypes.items():
            if dtype == "int64":
                _ints(path, text, column)
            elif pd.to_numeric(text[column], errors="coerce").isna().any():
                bad = pd.to_numeric(text[column], errors="coerce").isna().to_numpy()
                raise _first_bad(path, column, bad, text[column], "is not a number") from None
        raise FetchError(f"{path}: cannot be read as numbers") from None


def validate_layout(path: Path) -> dict[str, object]:
    """Check a folder holds MovieLens-latest files; the sha256 and size of each, and counts.

    Raises:
        FetchError: a required file missing, a header that is not GroupLens's, a value that is
            not a number, a rating off the half-star scale, a repeated movie id or (user, movie)
            pair, a rating or tag of a movie movies.csv lacks; the message names file, line, column.
    """
    path = Path(path)
    for name in REQUIRED:
        if not (path / name).is_file():
            raise FetchError(f"{path}: {name} is missing; give the folder of the MovieLens files "
                             f"({', '.join(HEADERS)}) or the zip GroupLens publishes")
    present = [n for n in HEADERS if (path / n).is_file()]
    for name in present:
        if _header(path / name) != HEADERS[name]:
            raise FetchError(f"{path / name} line 1: header {', '.join(_header(path / name))}; "
                             f"expected {', '.join(HEADERS[name])} (the MovieLens-latest layout)")
    movies = pd.read_csv(path / "movies.csv", dtype=str, keep_default_na=False)
    ids = _ints(path / "movies.csv", movies, "movieId")
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        raise _first_bad(
            path / "movies.csv", "movieId", dup, movies["movieId"], "repeats a movie id"
        )
    ratings = _numeric(
        path / "ratings.csv",
        {"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"},
    )
    stars = ratings["rating"].to_numpy()
    off = ~((stars >= SCALE[0]) & (stars <= SCALE[1]) & (stars * 2 == np.round(stars * 2)))
    if off.any():
        raise _first_bad(path / "ratings.csv", "rating", off, ratings["rating"],
                         f"is not a half-star rating {SCALE[0]:g}-{SCALE[1]:g}")
    pairs = ratings[["userId", "movieId"]]
    dup = pairs.duplicated().to_numpy()
    if dup.any():
        raise _first_bad(path / "ratings.csv", "movieId", dup, ratings["movieId"],
                         "is a second rating of this movie by the same user")
    for name in ("ratings.csv", "tags.csv", "links.csv"):
        if name not in present:
            continue
        frame = ratings if name == "ratings.csv" else _numeric(path / name, {"movieId": "int64"})
        unknown = ~np.isin(frame["movieId"].to_numpy(), ids)
        if unknown.any():
            raise _first_bad(
                path / name, "movieId", unknown, frame["movieId"], "is not in movies.csv"
            )
    return {
        "files": {n: file_digest(path / n) for n in present},
        "bytes": {n: (path / n).stat().st_size for n in present},
        "counts": {"movies": len(movies), "ratings": len(ratings),
                   "users": int(pairs["userId"].nunique())},
    }


# ---------------------------------------------------------------- sources


def _unpack(zpath: Path, out: Path) -> Path:
    """The layout files of a zip (top level or in one folder) copied into `out`."""
    out.mkdir()
    try:
        with zipfile.ZipFile(zpath) as z:
            names = z.namelist()
            for name in HEADERS:
                member = next((m for m in names if m == name or m.endswith("/" + name)), None)
                if member is None:
                    if name in REQUIRED:
                        raise FetchError(f"{zpath}: no {name} inside the zip")
                    continue
                with z.open(member) as src, (out / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{zpath}: not a zip file ({exc})") from None
    return out


def _copy_folder(path: Path, name: str, out: Path) -> Path:
    """The layout files of a folder (or of its NAME subfolder) copied into `out`."""
    src = path / name if (path / name / "movies.csv").is_file() else path
    out.mkdir()
    for file in HEADERS:
        if (src / file).is_file():
            shutil.copyfile(src / file, out / file)
    return out


def _install(layout: Path, target: Path, manifest: dict[str, object]) -> None:
    (layout / MANIFEST).write_text(json.dumps(manifest, indent=2))
    _swap.install(layout, target)


def dataset_dir(name: str, datasets_dir: Path) -> Path:
    return Path(datasets_dir) / name


def is_installed(name: str, datasets_dir: Path) -> bool:
    """Whether NAME is installed whole: its manifest and every file it lists, at its size."""
    d = dataset_dir(name, datasets_dir)
    try:
        manifest = json.loads((d / MANIFEST).read_text())
        return all((d / f).stat().st_size == n for f, n in manifest["bytes"].items())
    except (OSError, KeyError, ValueError, AttributeError):
        return False


def _downloaded(
    rel: Release, name: str, url: str, work: Path, timeout: float, how: str
) -> tuple[Path, str]:
    """Download the release's zip from `url` into `work`, check it and unpack it: the unpacked
    folder and what was checked."""
    zpath = work / rel.zip
    try:
        download(url, zpath, timeout)
        rel.check_zip(zpath)
    except Unreachable as exc:
        raise Unreachable(f"could not fetch {name}: {exc}. {how}") from None
    except FetchError as exc:
        raise FetchError(f"could not fetch {name}: {exc}. {how}") from None
    return _unpack(zpath, work / name), "the published zip"


def _given(rel: Release, name: str, path: Path, work: Path, how: str) -> tuple[Path, str]:
    """Unpack (a zip, checked against the published one) or copy (a folder) what the user gave
    into `work`: the folder and what was checked."""
    if path.is_file() and path.suffix.lower() == ".zip":
        try:
            rel.check_zip(path)
        except FetchError as exc:
            raise FetchError(
                f"{exc}; a zip is installed only when it is the published one: "
                "to install another copy, unpack it and give the folder "
                "(checked as the format)"
            ) from None
        return _unpack(path, work / name), "the published zip"
    if path.is_dir():
        return _copy_folder(path, name, work / name), "the format"
    raise FetchError(f"{path}: not {rel.zip} nor a folder of the MovieLens files; {how}")


def fetch(
    name: str,
    datasets_dir: Path,
    *,
    local_path: Path | None = None,
    base_url: str = GROUPLENS_BASE_URL,
    timeout: float = 5.0,
    force: bool = False,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    published: Release | None = None,
) -> FetchResult:
    """Install a MovieLens-latest release under datasets_dir/NAME and return where it is.

    Args:
        name: ml-latest-small, ml-25m or ml-32m.
        datasets_dir: GENREC_HOME/datasets.
        local_path: the zip a user downloaded (checked against the published size and checksums)
            or its unpacked folder (checked as the format); without it, the zip is downloaded
            from `base_url`.
        base_url: the folder the zip is published in (GroupLens's, or a mirror of it).
        timeout: seconds to wait for the server before giving up (there is no other source).
        force: install again even when a complete copy is there.
        published: the release to check against (default: movielens_releases.json's entry).

    Raises:
        Unreachable: the server could not be reached (the message says how to use --from).
        FetchError: what arrived is not the release (size, checksum, format), or the path is not
            a zip or folder of it. Nothing is installed then.
    """
    rel = published or release(name)
    target = dataset_dir(name, datasets_dir)
    if not force and is_installed(name, datasets_dir):
        return FetchResult(target, json.loads((target / MANIFEST).read_text())["source"], True)
    datasets_dir = Path(datasets_dir)
    datasets_dir.mkdir(parents=True, exist_ok=True)
    _swap.clean_leftovers(datasets_dir)
    _swap.recover(target, MANIFEST)
    url = base_url.rstrip("/") + "/" + rel.zip
    how = (f"Download {rel.zip} (from {GROUPLENS_BASE_URL} or a mirror) and run: genrec data "
           f"fetch {name} --from PATH (the zip or its unpacked folder), or set movielens_base_url "
           "(GENREC_MOVIELENS_BASE_URL) to a mirror")
    with tempfile.TemporaryDirectory(dir=datasets_dir, prefix=_swap.work_prefix(name)) as tmp:
        work = Path(tmp)
        if local_path is None:
            source = url
            log(f"fetching {name} from {url} ...")
            layout, verified = _downloaded(rel, name, url, work, timeout, how)
        else:
            path = Path(local_path).expanduser()
            source = f"local:{path}"
            log(f"installing {name} from {path} ...")
            layout, verified = _given(rel, name, path, work, how)
        facts = validate_layout(layout)
        files = facts["files"]
        assert isinstance(files, dict)
        if rel.files and all(files.get(f) == h for f, h in rel.files.items()):
            verified += f"; its files are the published {name}'s"
        _install(layout, target, {"name": name, "source": source, "checked": verified, **facts})
    log(f"{name} installed in {target} (source: {source}; checked: {verified})")
    return FetchResult(target, source, False)


# ---------------------------------------------------------------- read


def _top_tags(tags: pd.DataFrame, k: int = TAGS_PER_ITEM) -> dict[int, list[tuple[str, int]]]:
    """Per movie, its k tags given by the most distinct viewers (ties by tag), lower case."""
    key = tags["tag"].astype(str).str.lower().str.split().str.join(" ")
    df = pd.DataFrame({"user": tags["userId"], "item": tags["movieId"], "tag": key})
    df = df[(df["tag"] != "") & ~df["tag"].isin(BOOKKEEPING_TAGS)].drop_duplicates()
    counts = df.groupby(["item", "tag"]).size().reset_index(name="n")
    counts = counts.sort_values(["item", "n", "tag"], ascending=[True, False, True], kind="stable")
    out: dict[int, list[tuple[str, int]]] = {}
    for item, tag, n in counts.groupby("item").head(k).itertuples(index=False):
        out.setdefault(int(item), []).append((str(tag), int(n)))
    return out


def _links(path: Path) -> dict[int, dict[str, str]]:
    if not path.is_file():
        return {}
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = {}
    for mid, imdb, tmdb in df[["movieId", "imdbId", "tmdbId"]].itertuples(index=False):
        ids = {}
        if imdb.strip().isdigit():
            ids["imdb_id"] = "tt" + imdb.strip().zfill(7)
        if tmdb.strip().isdigit():
            ids["tmdb_id"] = tmdb.strip()
        out[int(mid)] = ids
    return out


def load_layout(path: Path, name: str | None = None) -> Dataset:
    """Read an installed MovieLens-latest folder into a Dataset (ratings in file order)."""
    path = Path(path)
    name = name or path.name
    movies = pd.read_csv(
        path / "movies.csv",
        dtype={"movieId": "int64", "title": str, "genres": str},
        keep_default_na=False,
    )
    tags = {}
    if (path / "tags.csv").is_file():
        tags = _top_tags(pd.read_csv(path / "tags.csv", dtype={"tag": str}, keep_default_na=False))
    links = _links(path / "links.csv")
    items = []
    for mid, raw, genre_field in movies[["movieId", "title", "genres"]].itertuples(index=False):
        parsed = split_title(raw)
        genres = tuple(
            g.strip() for g in genre_field.split("|") if g.strip() and g.strip() != NO_GENRES
        )
        extra: dict[str, object] = dict(links.get(int(mid), {}))
        if int(mid) in tags:
            extra["tags"] = tags[int(mid)]
        items.append(
            Item(int(mid), parsed.title, parsed.year, genres, None, raw, extra, parsed.aliases)
        )
    ratings = pd.read_csv(path / "ratings.csv", dtype={"userId": "int64", "movieId": "int64",
                                                       "rating": "float32", "timestamp": "int64"})
    ratings = ratings.rename(columns={"userId": "user", "movieId": "item"})
    return Dataset(
        name, Catalog(items, name=name, item_noun=ITEM_NOUN), Ratings(ratings, scale=SCALE)
    )
