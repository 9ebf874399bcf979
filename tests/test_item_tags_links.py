"""Viewer tags and other titles as item text, "tagged X by N viewers" reasons, and the cards' IMDb /
TMDb links, on the small MovieLens-latest catalog of test_data_movielens_latest."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_data_movielens_latest import write_layout

from genrec.agent.rationales import Evidence, matched_tags, template_rationales
from genrec.agent.state import DialogueState
from genrec.config import Settings
from genrec.data import Item, movielens_latest
from genrec.retrieval import item_text, open_store
from genrec.retrieval.rows import fingerprint, index_rows
from genrec.ui.chat.cards import card_html


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    folder = write_layout(tmp_path_factory.mktemp("latest") / "ml-latest-small")
    return movielens_latest.load_layout(folder, "ml-latest-small")


def test_tags_and_other_titles_are_part_of_the_item_text(small) -> None:
    text = item_text(small.catalog[79132])
    assert text.startswith(
        "Inception (2010). Genres: Action, Crime, Drama, Mystery, Sci-Fi, Thriller, IMAX"
    )
    assert text.endswith("Tags: mind-bending, dreams.")
    assert "tt" not in text and "imdb" not in text.lower()  # ids and links are not meaning
    assert item_text(small.catalog[32]).startswith(
        "Twelve Monkeys (1995). Also known as: 12 Monkeys. "
    )
    assert "children's, family" in item_text(
        small.catalog[1]
    )  # "Children" reads as the family words
    untagged = [
        Item(
            it.item_id,
            it.title,
            it.year,
            it.genres,
            it.description,
            it.raw_title,
            {k: v for k, v in it.extra.items() if k != "tags"},
            it.aliases,
        )
        for it in small.catalog
    ]
    assert fingerprint(index_rows(small.catalog), "e") != fingerprint(
        index_rows(type(small.catalog)(untagged, name="x")), "e")  # new tags: the index is rebuilt


def test_movielens_100k_item_texts_are_unchanged(ml100k) -> None:
    """ML-100K items carry no tags or aliases: their texts, hashes and index stay as they were."""
    texts = [item_text(it) for it in ml100k.catalog]
    assert not [t for t in texts if "Tags:" in t or "Also known as:" in t]
    assert texts[0] == (
        "Toy Story (1995). Genres: Animation, Children's, Comedy (animated, children's, family, "
        "comedy film)."
    )


@pytest.mark.slow
def test_a_tag_word_finds_the_tagged_film(small, tmp_path: Path) -> None:
    store = open_store(Settings(home=tmp_path), small, build=True, progress=False)
    hits = store.search("something mind-bending", k=3)
    assert hits[0].item.item_id == 79132, [h.item.title for h in hits]
    assert store.search("pixar", k=1)[0].item.title == "Toy Story"


def test_reasons_say_which_asked_for_tag_viewers_gave_the_film() -> None:
    assert matched_tags(
        (("mind-bending", 3), ("dreams", 1)), ["Something MIND BENDING like Inception"]
    ) == [("mind-bending", 3)]
    assert matched_tags((("dreams", 1),), ["daydreams"]) == []  # whole words only
    state = DialogueState()
    evidence = [
        Evidence(
            item_id=i, title=t, year=2010, genres=["Sci-Fi"], matched_tags=[("mind-bending", n)]
        )
        for i, t, n in ((1, "Inception", 3), (2, "Primer", 1), (3, "Memento", 1))
    ]
    reasons = template_rationales(evidence, state)
    assert reasons[0].startswith("Tagged mind-bending by 3 viewers.")
    assert (
        "mind-bending" in reasons[1] and "1 viewer" in reasons[1] and "1 viewers" not in reasons[1]
    )
    assert (
        "mind-bending" in reasons[2] and reasons[2] != reasons[1]
    )  # no sentence repeated in a list
    assert (
        "tagged"
        not in template_rationales([evidence[0].model_copy(update={"matched_tags": []})], state)[
            0
        ].lower()
    )


def test_cards_link_to_the_film_s_pages_in_a_new_tab(small) -> None:
    card = {
        "item_id": 1,
        "title": "Toy Story",
        "year": 1995,
        "genres": ["Animation"],
        "rationale": "r",
    }
    page = card_html(card, small.catalog[1].links)
    assert (
        '<a href="https://www.imdb.com/title/tt0114709/" target="_blank" rel="noopener">IMDb</a>'
        in page
    )
    assert (
        '<a href="https://www.themoviedb.org/movie/862" target="_blank" rel="noopener">TMDb</a>'
        in page
    )
    assert "<a " not in card_html(card)  # a catalog without ids: no links
    hostile = card_html(card, [("IMDb", "javascript:alert(1)"), ("<b>", "https://x.test/\"onmouseover=1")])
    assert "javascript:" not in hostile and "<b>" not in hostile and '"onmouseover' not in hostile
