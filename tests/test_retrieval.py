"""Retrieval on the real MovieLens 100K index (all-MiniLM-L6-v2 in embedded Chroma): item text,
filters that always hold, exact filtered top-k, impossible and invalid filters, quality, similar."""

from __future__ import annotations

import numpy as np
import pytest

from genrec.data import Item, UnknownItemError
from genrec.data.movielens import GENRES as _ML_GENRES
from genrec.data.splits import make_split
from genrec.retrieval import (
    ChromaStore,
    InvalidFilterError,
    SearchFilters,
    item_text,
    rating_counts,
    to_where,
    validate,
)
from genrec.retrieval.filters import FilterTable

FILTER_COMBOS = [
    SearchFilters(genres_any=["Comedy"]),
    SearchFilters(genres_any=["Animation", "Children's"], year_min=1990),
    SearchFilters(genres_none=["Drama", "Romance"], year_max=1980),
    SearchFilters(genres_any=["Sci-Fi"], genres_none=["Horror"], year_min=1970, year_max=1989),
    SearchFilters(year_min=1995, year_max=1995, exclude_ids=[1, 2, 3]),
    SearchFilters(genres_any=["Film-Noir"]),  # selective: 24 items
    SearchFilters(include_ids=list(range(1, 60)), genres_none=["Comedy"]),
    SearchFilters(genres_any=["western", "WAR"], year_max=1960),  # case-insensitive genres
]
GENRES = sorted(g for g in _ML_GENRES if g != "unknown")
QUERIES = [
    "a funny animated film for kids",
    "dark crime thriller in the city",
    "space adventure with aliens",
]


def _holds(item: Item, f: SearchFilters) -> bool:
    """The filter semantics, written independently of the store (f is canonicalised first)."""
    f = _canon(f)
    if f.genres_any and not set(f.genres_any) & set(item.genres):
        return False
    if set(f.genres_none) & set(item.genres):
        return False
    if f.year_min is not None and (item.year is None or item.year < f.year_min):
        return False
    if f.year_max is not None and (item.year is None or item.year > f.year_max):
        return False
    if item.item_id in f.exclude_ids:
        return False
    return f.include_ids is None or item.item_id in f.include_ids


_CANON: dict[str, SearchFilters] = {}


def _canon(f: SearchFilters) -> SearchFilters:
    key = f.model_dump_json()
    if key not in _CANON:
        _CANON[key] = validate(f, GENRES)
    return _CANON[key]


@pytest.fixture(scope="module")
def vectors(ml100k_store: ChromaStore) -> dict[int, np.ndarray]:
    got = ml100k_store.collection.get(include=["embeddings"])
    return {int(i): np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"])}


def test_item_text_template_uses_title_year_genres_description_and_extra() -> None:
    item = Item(
        7,
        "Alien",
        1979,
        ("Horror", "Sci-Fi"),
        "A crew meets a deadly creature.",
        "Alien (1979)",
        {
            "director": "Ridley Scott",
            "cast": ["Sigourney Weaver", "Tom Skerritt"],
            "imdb_url": "http://x",
            "release_date": "01-Jan-1979",
        },
    )
    text = item_text(item)
    assert text.startswith("Alien (1979). Genres: Horror, Sci-Fi (horror, science fiction film).")
    assert "A crew meets a deadly creature." in text
    assert "Director: Ridley Scott." in text and "Cast: Sigourney Weaver, Tom Skerritt." in text
    assert "http" not in text and "Jan" not in text and "Imdb" not in text
    assert item_text(Item(8, "Untitled")) == "Untitled."


@pytest.mark.slow
def test_index_matches_catalog_and_stores_the_embedded_text(
    ml100k_store: ChromaStore, ml100k
) -> None:
    st = ml100k_store.status()
    assert st.state == "ok" and st.count == len(ml100k.catalog) == 1682
    got = ml100k_store.collection.get(ids=["1", "50"], include=["documents", "metadatas"])
    docs = dict(zip(got["ids"], got["documents"]))
    assert docs["1"] == item_text(ml100k.catalog[1])
    md = dict(zip(got["ids"], got["metadatas"]))["1"]
    assert md["year"] == 1995 and md["g_Animation"] is True and md["g_Drama"] is False
    assert (
        "popularity" not in md
    )  # ratings stay out of the index (schema 2): one index serves every split


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.slow
def test_results_sorted_unique_at_most_k(ml100k_store: ChromaStore, query: str) -> None:
    for k in (1, 10, 25):
        res = ml100k_store.search(query, k)
        ids = [r.item.item_id for r in res]
        assert len(res) == k and len(set(ids)) == len(ids)
        scores = [r.score for r in res]
        assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0001 for s in scores)
        assert all(r.text == item_text(r.item) for r in res)


@pytest.mark.parametrize("f", FILTER_COMBOS, ids=[f"combo{i}" for i in range(len(FILTER_COMBOS))])
@pytest.mark.slow
def test_every_result_satisfies_its_filters_and_is_the_exact_filtered_top_k(
    ml100k_store: ChromaStore, vectors: dict[int, np.ndarray], ml100k, f: SearchFilters
) -> None:
    cat = ml100k.catalog
    matching = [it.item_id for it in cat if _holds(it, f)]
    assert matching, "each combo is chosen to match something"
    for query in QUERIES:
        res = ml100k_store.search(query, 10, f)
        assert len(res) == min(10, len(matching))
        assert all(_holds(r.item, f) for r in res), [
            r.item.label for r in res if not _holds(r.item, f)
        ]
        q = ml100k_store.embedder.embed([query])[0]
        exact = sorted(matching, key=lambda i: -float(vectors[i] @ q))[:10]
        got = [r.item.item_id for r in res]
        # HNSW is approximate; on 1682 items it must find at least 9 of the true 10
        assert len(set(got) & set(exact)) >= len(exact) - 1, (got, exact)
        for r in res:
            assert r.score == pytest.approx(float(vectors[r.item.item_id] @ q), abs=1e-4)


@pytest.mark.parametrize("f", FILTER_COMBOS[:6])
@pytest.mark.slow
def test_where_translation_selects_exactly_the_filtered_items_in_chroma(
    ml100k_store: ChromaStore, ml100k, f: SearchFilters
) -> None:
    vf = validate(f, ml100k.catalog.genres)
    got = ml100k_store.collection.get(where=to_where(vf), include=[])
    expected = {it.item_id for it in ml100k.catalog if _holds(it, f)}
    assert {int(i) for i in got["ids"]} == expected
    table = FilterTable.from_catalog(ml100k.catalog)
    assert set(table.ids[table.mask(vf)].tolist()) == expected


@pytest.mark.slow
def test_where_strategy_gives_the_same_results(ml100k_store: ChromaStore) -> None:
    via_where = ChromaStore(
        ml100k_store.client, ml100k_store.dataset, ml100k_store.embedder, strategy="where"
    )
    assert via_where.status().state == "ok"
    for f in FILTER_COMBOS[:5]:
        a = [r.item.item_id for r in ml100k_store.search("romantic comedy in paris", 10, f)]
        b = [r.item.item_id for r in via_where.search("romantic comedy in paris", 10, f)]
        assert len(set(a) & set(b)) >= 9


@pytest.mark.parametrize("f", [
    SearchFilters(genres_any=["Film-Noir"], year_min=2000),
    SearchFilters(genres_any=["Documentary"], genres_none=["Documentary"]),
    SearchFilters(include_ids=[]),
    SearchFilters(include_ids=[1, 2], exclude_ids=[1, 2]),
    SearchFilters(include_ids=[999999]),
])
@pytest.mark.slow
def test_impossible_filter_returns_empty_list(ml100k_store: ChromaStore, f: SearchFilters) -> None:
    assert ml100k_store.search("anything at all", 10, f) == []
    assert ml100k_store.similar(1, 10, f) == []


@pytest.mark.parametrize(
    "f, words",
    [
        (SearchFilters(year_min=99999), ["year_min=99999", "1800..2100"]),
        (SearchFilters(year_max=1200), ["year_max=1200"]),
        (SearchFilters(year_min=2000, year_max=1990), ["after", "swap"]),
        (
            SearchFilters(genres_any=["Telenovela"]),
            ["unknown genre 'Telenovela'", "Comedy", "Film-Noir"],
        ),
        (SearchFilters(genres_none=["Space Opera"]), ["genres_none", "known genres"]),
    ],
)
@pytest.mark.slow
def test_invalid_filters_get_a_clear_error(
    ml100k_store: ChromaStore, f: SearchFilters, words: list[str]
) -> None:
    with pytest.raises(InvalidFilterError) as exc:
        ml100k_store.search("comedy", 10, f)
    for w in words:
        assert w in str(exc.value)


@pytest.mark.slow
def test_quality_animated_movie_for_children(ml100k_store: ChromaStore) -> None:
    res = ml100k_store.search("animated movie for children", 10)
    kids = [r for r in res if {"Animation", "Children's"} & set(r.item.genres)]
    assert len(kids) >= 7, [r.item.label for r in res]


@pytest.mark.slow
def test_quality_scary_space_alien_finds_alien(ml100k_store: ChromaStore) -> None:
    res = ml100k_store.search(
        "scary movie about an alien on a spaceship", 10, SearchFilters(year_max=1990)
    )
    assert "Alien" in [r.item.title for r in res]


@pytest.mark.slow
def test_include_and_exclude_ids(ml100k_store: ChromaStore) -> None:
    res = ml100k_store.search(
        "animated movie for children", 10, SearchFilters(include_ids=[1, 50, 100, 181])
    )
    assert sorted(r.item.item_id for r in res) == [1, 50, 100, 181]
    assert res[0].item.item_id == 1  # Toy Story is the animated one
    top = ml100k_store.search("animated movie for children", 5)
    ex = [r.item.item_id for r in top]
    res2 = ml100k_store.search("animated movie for children", 5, SearchFilters(exclude_ids=ex))
    assert not set(ex) & {r.item.item_id for r in res2} and len(res2) == 5


@pytest.mark.slow
def test_similar_uses_the_stored_vector_and_excludes_the_item(
    ml100k_store: ChromaStore, vectors
) -> None:
    res = ml100k_store.similar(1, 10)  # Toy Story
    ids = [r.item.item_id for r in res]
    assert 1 not in ids and len(ids) == 10
    assert res[0].score == pytest.approx(float(vectors[ids[0]] @ vectors[1]), abs=1e-4)
    assert sum("Animation" in r.item.genres or "Children's" in r.item.genres for r in res) >= 6
    f = SearchFilters(genres_none=["Animation"], year_min=1990)
    assert all(_holds(r.item, f) and r.item.item_id != 1 for r in ml100k_store.similar(1, 10, f))
    with pytest.raises(UnknownItemError):
        ml100k_store.similar(999999)


@pytest.mark.slow
def test_blank_query_lists_matching_items_by_popularity(ml100k_store: ChromaStore, ml100k) -> None:
    f = SearchFilters(genres_any=["Sci-Fi"], year_min=1970, year_max=1989)
    res = ml100k_store.search("  ", 5, f)
    counts = ml100k.ratings.df["item"].value_counts()
    pops = [int(counts.get(r.item.item_id, 0)) for r in res]
    assert (
        len(res) == 5 and pops == sorted(pops, reverse=True) and all(_holds(r.item, f) for r in res)
    )
    assert res[0].item.title == "Star Wars"


@pytest.mark.slow
def test_store_opened_with_training_popularity_never_counts_held_out_ratings(
    ml100k_store: ChromaStore, ml100k
) -> None:
    split = make_split(ml100k.ratings, "u1")
    train, whole = rating_counts(split.train), rating_counts(ml100k.ratings)
    assert any(whole[i] != train.get(i, 0) for i in whole)  # u1 holds out ratings of many items
    store = ChromaStore(ml100k_store.client, ml100k, ml100k_store.embedder, popularity=train)
    assert store.status().state == "ok"  # the same index serves the split: ratings are not in it
    ids = [int(i) for i in ml100k.catalog.ids]
    assert {i: store.popularity[i] for i in ids} == {i: train.get(i, 0) for i in ids}
    by_train = sorted(ids, key=lambda i: (-train.get(i, 0), i))
    assert [r.item.item_id for r in store.search("", len(ids))] == by_train
    assert [
        r.item.item_id for r in ml100k_store.search("", len(ids))
    ] != by_train  # the default counts all
    f = SearchFilters(genres_any=["Sci-Fi"], year_min=1970, year_max=1989)
    got = [r.item.item_id for r in store.search(" ", 20, f)]
    assert got == [i for i in by_train if _holds(ml100k.catalog[i], f)][:20]
    got_md = store.collection.get(ids=[str(i) for i in ids[:50]], include=["metadatas"])[
        "metadatas"
    ]
    assert not any(
        "popularity" in md for md in got_md
    )  # nothing in the index reports whole-data counts


@pytest.mark.slow
def test_k_larger_than_matches_and_k_zero(ml100k_store: ChromaStore) -> None:
    f = SearchFilters(genres_any=["Film-Noir"], year_max=1950)
    n = sum(
        1 for it in ml100k_store.catalog if "Film-Noir" in it.genres and it.year and it.year <= 1950
    )
    assert 0 < n < 50
    assert len(ml100k_store.search("detective", 50, f)) == n
    assert ml100k_store.search("detective", 0) == []
