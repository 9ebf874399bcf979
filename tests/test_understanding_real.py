"""Understanding what people actually type: precise titles, sentence acts (questions and
descriptions change nothing), negation, changes of mind, asking when a common word is the only
evidence; the real-dialogue scorer; and a slice of the INSPIRED gold labels (skipped without
../shared)."""

from __future__ import annotations

import pytest

from genrec.agent.state import DialogueState, apply_reading
from genrec.agent.understanding.acts import preference_text, sentences
from genrec.agent.understanding.extraction import CatalogExtractor
from genrec.data import Catalog, Item
from genrec.evaluation.real_dialogues import (
    GoldTurn,
    default_corpus_path,
    half_of,
    load_dialogues,
    load_gold,
)
from genrec.evaluation.understanding_readers import KeywordReader, state_change
from genrec.evaluation.understanding_score import (
    Expected,
    GoldGrounder,
    Reading,
    SlotCounts,
    false_additions,
)

(
    FRIDAY,
    GOOD_MORNING,
    WOLF,
    BATMAN,
    BLOB,
    BLADE_RUNNER,
    INFINITY,
    ALIEN,
    ALIEN_3,
    T2,
    GOODFELLAS,
    PULP,
    HEAT,
    GREASE,
    STAR_WARS,
    TOY_STORY,
    FARGO,
    MY_FAMILY,
) = range(1, 19)


@pytest.fixture(scope="module")
def extractor() -> CatalogExtractor:
    return CatalogExtractor(
        Catalog(
            [
                Item(FRIDAY, "Friday", 1995, ("Comedy",)),
                Item(GOOD_MORNING, "Good Morning", 1971, ("Comedy",)),
                Item(WOLF, "Wolf", 1994, ("Drama", "Horror")),
                Item(BATMAN, "Batman", 1989, ("Action", "Crime")),
                Item(BLOB, "The Blob", 1958, ("Horror", "Sci-Fi")),
                Item(BLADE_RUNNER, "Blade Runner", 1982, ("Sci-Fi",)),
                Item(INFINITY, "Infinity", 1996, ("Drama",)),
                Item(ALIEN, "Alien", 1979, ("Horror", "Sci-Fi")),
                Item(ALIEN_3, "Alien 3", 1992, ("Horror", "Sci-Fi")),
                Item(T2, "Terminator 2: Judgment Day", 1991, ("Action", "Sci-Fi")),
                Item(GOODFELLAS, "GoodFellas", 1990, ("Crime",)),
                Item(PULP, "Pulp Fiction", 1994, ("Crime",)),
                Item(HEAT, "Heat", 1995, ("Action", "Crime")),
                Item(GREASE, "Grease", 1978, ("Comedy", "Musical")),
                Item(STAR_WARS, "Star Wars", 1977, ("Action", "Sci-Fi")),
                Item(TOY_STORY, "Toy Story", 1995, ("Animation", "Children's", "Comedy")),
                Item(FARGO, "Fargo", 1996, ("Crime", "Drama")),
                Item(MY_FAMILY, "My Family", 1995, ("Drama",)),
                Item(
                    99,
                    "Casablanca",
                    1942,
                    (
                        "Drama",
                        "Romance",
                        "War",
                        "Thriller",
                        "Horror",
                        "Film-Noir",
                        "Western",
                        "Mystery",
                        "Fantasy",
                        "Documentary",
                        "Adventure",
                    ),
                ),
            ]
        )
    )


def said(extractor: CatalogExtractor, text: str, state: DialogueState | None = None) -> dict:
    ex = extractor.extract(text, state)
    return {
        k: v
        for k, v in ex.model_dump(
            include={
                "liked",
                "disliked",
                "seen",
                "wanted_genres",
                "avoided_genres",
                "preferred_genres",
                "year_min",
                "year_max",
                "dropped_genres",
            }
        ).items()
        if v
    }


# ---- 1. precise titles --------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "i want something like Friday Night Lights, the show not the movie",
    "Hi there. Good morning!",
    "leo was amazing in The Wolf of Wall Street tbh",
    "honestly i hated Batman v Superman",
    "have you seen The Blob (1988)? the remake",
    "Blade Runner 2049 blew me away",
    "Avengers: Infinity War was so good",
    "i will bring my family to see it for sure",
    "the new Batman looks dark",
])
def test_a_title_inside_a_longer_or_other_title_is_not_taken(extractor, text):
    ex = said(extractor, text)
    assert not {k: v for k, v in ex.items() if k in ("liked", "disliked", "seen")}, ex
    assert "wanted_genres" not in ex, ex  # "Infinity War" wants no War


@pytest.mark.parametrize("text, liked", [
    ("i loved alien", [ALIEN]),
    ("termnator 2 was awesome", [T2]),
    ("goodfelas and pulp fiction", [GOODFELLAS, PULP]),
    ("The Blob (1958) is a classic, loved it", [BLOB]),
    ("alien 3 was great actually", [ALIEN_3]),
])
def test_lowercase_and_misspelt_titles_framed_as_titles_are_found(extractor, text, liked):
    assert said(extractor, text).get("liked") == liked


# ---- 2. questions and descriptions change nothing ----------------------------------------------
@pytest.mark.parametrize("text", [
    "who is in Heat?",
    "is the first one a comedy??",
    "any romance in it",
    "was it scary tho?",
    "Is it comedy, or horror?",
    "is fargo any good?",
    "it made me cry and laugh lol",
    "a bit creepy for a 5 year old",
    "would you say its family friendly?",
    "Live action would be best",
    "do you like horror movies",
])
def test_questions_and_descriptions_add_no_preference(extractor, text):
    assert said(extractor, text) == {}


def test_a_question_next_to_a_statement_keeps_the_statement(extractor):
    ex = extractor.extract("who is in Heat? i loved Fargo though")
    assert ex.liked == [FARGO] and [q.item_id for q in ex.item_questions] == [HEAT]
    ex = extractor.extract("have you seen Heat? i loved Fargo though")
    assert ex.liked == [FARGO] and ex.asked_about == [HEAT]


def test_sentence_acts():
    assert [s.act for s in sentences("Any good comedies? I love Fargo. It was creepy.")] == [
        "request", "statement", "description"]
    assert preference_text("That's good, I enjoy romantic ones").strip() == "I enjoy romantic ones"


# ---- 3. negation and polarity --------------------------------------------------------------------
@pytest.mark.parametrize("text, key, ids", [
    ("i don't care for Grease, not my type of movie", "disliked", [GREASE]),
    ("I could never get into the Star Wars movies tbh", "disliked", [STAR_WARS]),
    ("loved Alien. Alien 3 not so much", "disliked", [ALIEN_3]),
])
def test_negations_decide_polarity(extractor, text, key, ids):
    assert said(extractor, text)[key] == ids


def test_negated_genre_then_a_request(extractor):
    ex = said(extractor, "i dont really like horror, what about thrillers?")
    assert ex["avoided_genres"] == ["Horror"] and ex["wanted_genres"] == ["Thriller"]


def test_a_kind_of_a_genre_does_not_avoid_the_genre(extractor):
    ex = said(extractor, "I like comedies, but not gross-out ones")
    assert "Comedy" not in ex.get("avoided_genres", []) and "Comedy" in ex["preferred_genres"]


# ---- 4. changes of mind -------------------------------------------------------------------------
def test_forget_the_kids_stuff_undoes_the_kids_rule(extractor):
    state = apply_reading(DialogueState(), extractor.extract("something for my 6 year old please"))
    assert "Children's" in state.wanted_genres and "Horror" in state.avoided_genres
    state = apply_reading(
        state, extractor.extract("ok forget the kids stuff, back to me: sci-fi from the 80s")
    )
    assert state.wanted_genres == ["Sci-Fi"] and state.avoided_genres == []
    assert (state.year_min, state.year_max) == (1980, 1989)


def test_fine_again_takes_back_an_avoided_genre(extractor):
    state = apply_reading(DialogueState(), extractor.extract("no war movies and no thrillers"))
    assert set(state.avoided_genres) == {"War", "Thriller"}
    ex = extractor.extract("actually war and thrillers are fine again")
    state = apply_reading(state, ex)
    assert state.avoided_genres == [] and not ex.allow_repeats


# ---- 5. ask when a common word is the only evidence ---------------------------------------------
def test_a_common_word_title_is_asked_about_not_recorded(extractor):
    ex = extractor.extract("honestly Heat is the one i loved most")
    assert ex.liked == [] and [c.options for c in ex.ambiguous] == [[HEAT]]
    state = apply_reading(DialogueState(), ex)
    assert state.pending is not None and state.liked == []
    yes = extractor.extract("yes", state)
    assert apply_reading(state, yes).liked == [HEAT]
    no = extractor.extract("no, never mind", state)
    assert apply_reading(state, no).liked == []


def test_a_cue_is_evidence_enough_for_a_common_word(extractor):
    assert extractor.extract("i loved Heat").liked == [HEAT]


# ---- the scorer ---------------------------------------------------------------------------------
def test_slot_counts_and_false_additions():
    c = SlotCounts()
    c.add({1, 2}, {2, 3})
    assert c.scores()["precision"] == 0.5 and c.scores()["recall"] == 0.5
    ex = Expected(liked={5}, mentioned={5}, wanted={"Comedy"})
    r = Reading(liked={5, 6}, wanted={"Comedy", "Horror"}, years={("min", 1990)})
    assert false_additions(ex, r) == ["item 6", "wanted Horror", "years min 1990"]


def test_gold_titles_ground_only_when_title_and_year_agree(extractor):
    g = GoldGrounder(extractor.catalog)
    assert g.item("Alien (1979)") == ALIEN and g.item("The Blob (1988)") is None
    gold = GoldTurn(dialog_id="d", utt_id=1, act="request", kids=True, liked=["Fargo (1996)"])
    ex = g.ground(gold)
    assert ex.liked == {FARGO} and "Children's" in ex.wanted and "Horror" in ex.avoided


def test_gold_titles_ground_at_a_subtitle_or_a_release_year_apart():
    catalog = Catalog([
        Item(1, "Star Wars: Episode IV - A New Hope", 1977, ("Sci-Fi",)),
        Item(2, "The Big Blue", 1988, ("Drama",)),
        Item(3, "Saw", 2003, ("Horror",)),
        Item(4, "Saw", 2004, ("Horror",)),
        Item(5, "Paranormal Activity", 2009, ("Horror",)),
    ])
    g = GoldGrounder(catalog)
    assert g.item("Star Wars (1977)") == 1  # the catalog's longer title, same year
    assert g.item("Star Wars (1980)") is None  # a subtitle is no licence to change the year
    assert g.item("Big (1988)") is None  # a word that begins another title is not it
    assert g.item("Saw (2004)") == 4  # the same year decides between two films of one name
    assert g.item("Paranormal Activity (2007)") == 5  # festival year vs release year


def test_keyword_baseline_reads_words_only(extractor):
    r = KeywordReader(extractor.catalog).read("s", "i don't like horror, loved pulp fiction")
    assert r.avoided == {"Horror"} and r.liked == {PULP}


def test_gold_labels_are_valid_and_split_in_halves():
    gold = load_gold()
    assert len(gold) == 1678 and len({(g.dialog_id, g.utt_id) for g in gold}) == 1678
    halves = {half_of(g.dialog_id) for g in gold}
    assert halves == {"tune", "heldout"}


def test_gold_that_names_no_corpus_line_is_refused(tmp_path):
    corpus = tmp_path / "dev.tsv"
    corpus.write_text("dialog_id\tutt_id\tspeaker\ttext\nd1\t1\tSEEKER\thi\n")
    with pytest.raises(ValueError, match="name no seeker utterance"):
        load_dialogues(corpus, [GoldTurn(dialog_id="d2", utt_id=1, act="greeting")])
    with pytest.raises(FileNotFoundError, match="GENREC_INSPIRED"):
        load_dialogues(tmp_path / "missing.tsv", [])


# ---- a slice of the real gold, read from the shared corpus --------------------------------------
# (dialog_id, utt_id): questions, greetings, requests, tastes and reactions of real seekers
GOLD_SLICE = [
    ("20191202-103716_425_live.pkl", 2),
    ("20191202-103716_425_live.pkl", 4),
    ("20191202-103716_425_live.pkl", 7),
    ("20191203-162434_412_live.pkl", 5),
    ("20191130-193845_247_live.pkl", 24),
    ("20191130-193845_247_live.pkl", 41),
    ("20200220-114336_264_live.pkl", 24),
    ("20200223-171453_152_live.pkl", 16),
    ("20200219-233123_155_live.pkl", 39),
    ("20200219-233123_155_live.pkl", 21),
    ("20191126-112828_788_live.pkl", 6),
]


@pytest.mark.skipif(
    not default_corpus_path().exists(),
    reason="INSPIRED dev.tsv not found (../shared/data/inspired/"
    "dev.tsv or $GENREC_INSPIRED); CI has it",
)
def test_real_seeker_turns_from_the_gold_slice(ml100k):
    dialogues = {d.dialog_id: d for d in load_dialogues()}
    extractor = CatalogExtractor(ml100k.catalog)
    grounder = GoldGrounder(ml100k.catalog)
    checked = 0
    for dialog_id, utt_id in GOLD_SLICE:
        d = dialogues[dialog_id]
        turn, gold = next((t, g) for t, g in zip(d.turns, d.gold) if t.utt_id == utt_id)
        before = DialogueState()
        after = apply_reading(before, extractor.extract(turn.text, before))
        r = state_change(before, after)
        want = grounder.ground(gold)
        assert false_additions(want, r) == [], (turn.text, gold)
        assert want.wanted <= r.wanted and want.avoided <= r.avoided, (turn.text, r)
        checked += 1
    assert checked == len(GOLD_SLICE)


# ---- with an LLM: its reading decides, the rules only ground titles -----------------------------
def _scripted_reader(readings: dict[str, dict]):
    """A scripted FAKE LLM: the extraction call gets the reading scripted for the message (keys as
    the LLM gives them), the writer call a plain reply."""
    import json as _json

    def reply(request):
        text = request.last_user_text
        if "Extract the user's" in text:
            message = text.rsplit("Message: ", 1)[-1].strip()
            return _json.dumps(readings.get(message, {"liked_titles": []}))
        return {"text": "Here are a few picks.", "rationales": []}

    return reply


def _fake_llm_recommender(ml100k, ml100k_ranker, ml100k_store, readings):
    from genrec.agent import Recommender, SessionStore
    from genrec.llm import fake_backend

    llm = fake_backend([_scripted_reader(readings)] * 400, supports_tools=False)
    return Recommender(catalog=ml100k.catalog, ranker=ml100k_ranker, store=ml100k_store, llm=llm,
                       policy="guided", sessions=SessionStore(None))


def _gold_reading(gold: GoldTurn, grounder: GoldGrounder) -> dict:
    wanted, avoided = list(gold.genres_wanted), list(gold.genres_avoided)
    if gold.kids:
        wanted.append("Children's")
        avoided += [g for g in grounder.kids_avoid if g not in wanted]
    return {
        "liked_titles": gold.liked,
        "disliked_titles": gold.disliked,
        "mentioned_titles": gold.mentioned,
        "wanted_genres": wanted,
        "avoided_genres": avoided,
        "dropped_genres": gold.genres_dropped,
        "year_min": gold.year_min,
        "year_max": gold.year_max,
    }


def test_fake_llm_reading_decides_over_the_rules(small_films, small_ranker, small_store):
    cat = small_films.catalog
    fargo = next(it.item_id for it in cat if it.title == "Fargo")
    heat = next(it.item_id for it in cat if it.title == "Heat")
    readings = {
        "who is in Heat? i loved Fargo tho": {
            "liked_titles": ["Fargo"],
            "mentioned_titles": ["Heat"],
        },
        "no horror pls, and i did not like Heat": {"avoided_genres": ["horror"]},
    }
    rec = _fake_llm_recommender(small_films, small_ranker, small_store, readings)
    rec.chat("s", "who is in Heat? i loved Fargo tho")
    assert rec.state("s").liked == [fargo] and heat not in rec.state("s").mentioned()
    rec.chat(
        "s", "no horror pls, and i did not like Heat"
    )  # the LLM read no dislike: none is added
    state = rec.state("s")
    assert state.avoided_genres == ["Horror"] and state.disliked == []


@pytest.mark.skipif(
    not default_corpus_path().exists(),
    reason="INSPIRED dev.tsv not found (../shared/data/inspired/"
    "dev.tsv or $GENREC_INSPIRED); CI has it",
)
@pytest.mark.slow
def test_fake_llm_returning_the_gold_reading_ends_in_the_gold_state(
    ml100k, ml100k_ranker, ml100k_store
):
    dialogues = [d for d in load_dialogues(half="heldout")][:4]
    grounder = GoldGrounder(ml100k.catalog)
    readings = {
        t.text: _gold_reading(g, grounder) for d in dialogues for t, g in zip(d.turns, d.gold)
    }
    rec = _fake_llm_recommender(ml100k, ml100k_ranker, ml100k_store, readings)
    turns = 0
    for d in dialogues:
        for turn, gold in zip(d.turns, d.gold):
            before = rec.state(d.dialog_id) if rec.session_exists(d.dialog_id) else DialogueState()
            rec.chat(d.dialog_id, turn.text)
            r = state_change(before, rec.state(d.dialog_id))
            want = grounder.ground(gold)
            assert (r.liked, r.disliked) == (want.liked, want.disliked), turn.text
            assert (r.wanted, r.avoided) == (
                want.wanted - set(before.wanted_genres) - set(before.preferred_genres),
                want.avoided - set(before.avoided_genres),
            ), turn.text
            turns += 1
    assert turns > 40


# ---- moods and "like X" -------------------------------------------------------------------------
def test_mood_words_lean_and_are_never_searched(extractor):
    ex = extractor.extract("something light, i had a long day")
    assert ex.mood_genres == ["Comedy"] and ex.wanted_genres == [] and ex.wishes == []
    ex = extractor.extract("i want something mind-bending about dreams")
    assert "Sci-Fi" in ex.mood_genres and ex.wishes and "mind" not in ex.wishes[0]
    assert extractor.extract("nothing too intense please").mood_genres == []
    assert extractor.extract("have fun!").mood_genres == []


def test_like_x_is_an_anchor_but_i_like_x_is_not(extractor):
    assert extractor.extract("got anything like toy story?").anchors == [TOY_STORY]
    assert extractor.extract("movies similar to fargo pls").anchors == [FARGO]
    ex = extractor.extract("i like Fargo")
    assert ex.liked == [FARGO] and ex.anchors == []


def test_something_like_toy_story_gives_animated_and_family_films(
    make_small_recommender, settings
):
    rec = make_small_recommender(settings)
    r = rec.chat("toy", "something like toy story")
    top = r.recommendations[:6]
    family = [x for x in top if {"Animation", "Children's"} & set(x.genres)]
    assert len(family) >= 4, [(x.title, x.genres) for x in top]
    assert all(x.title != "Toy Story" for x in r.recommendations)


def test_a_light_mood_finds_comedies_not_title_words(make_small_recommender, settings):
    rec = make_small_recommender(settings)
    r = rec.chat("mood", "something light, I had a long day")
    titles = [x.title for x in r.recommendations]
    assert not any("Light" in t or "Day" in t for t in titles), titles
    assert sum("Comedy" in x.genres for x in r.recommendations[:6]) >= 4
    assert rec.state("mood").mood_genres == ["Comedy"] and rec.state("mood").wanted_genres == []


def test_moods_and_anchors_show_as_chips_that_one_click_removes(extractor):
    from genrec.ui.chat.preference_chips import chips_of

    said = extractor.extract("something light like toy story, long day")
    state = apply_reading(DialogueState(), said)
    labels = [c.label for c in chips_of(state, extractor.catalog)]
    assert "in the mood for Comedy" in labels and "more like Toy Story" in labels
    assert state.remove("mood_genre", "Comedy") and state.remove("anchor", TOY_STORY)
    assert state.mood_genres == [] and state.anchors == []


@pytest.mark.skipif(
    not (default_corpus_path().parents[1] / "ml-latest-small" / "movies.csv").exists(),
    reason="../shared/data/ml-latest-small not found; CI has it",
)
def test_aliases_and_moved_articles_are_titles_on_the_current_catalog():
    from genrec.data.movielens_latest import load_layout

    ds = load_layout(default_corpus_path().parents[1] / "ml-latest-small", "ml-latest-small")
    extractor = CatalogExtractor(ds.catalog)
    labels = lambda ids: [ds.catalog[i].label for i in ids]  # noqa: E731
    assert labels(extractor.extract("I loved 12 Monkeys").liked) == ["Twelve Monkeys (1995)"]
    assert labels(extractor.extract("i loved the matrix and inception").liked) == [
        "The Matrix (1999)", "Inception (2010)"]
    assert extractor.extract("enjoy your weekend, perfect!").mentioned() == []


@pytest.mark.parametrize(
    "text",
    [
        "While isn't the most recent movie that has come out, "
        "the most recent one I have watched is Fargo",
        "the latest film i saw was heat, loved it",
        "my recent favorite is fargo",
    ],
)
def test_recency_told_about_a_film_seen_is_no_request_for_recent_films(extractor, text):
    ex = extractor.extract(text)
    assert ex.year_min is None and ex.year_max is None, text


@pytest.mark.parametrize("text", ["something recent pls", "any recent comedies?",
                                  "recent movies that i might not have seen"])
def test_asking_for_recent_films_still_sets_the_years(extractor, text):
    assert extractor.extract(text).year_min is not None, text


# ---- how well known a film is: the film of a shared name people mean, rare films asked about ----
THING_1982, THING_2011, PARASITE_1982, WATER_2005, SAW_2003, SAW_2004, INCEPTION = range(201, 208)


@pytest.fixture(scope="module")
def known_films() -> CatalogExtractor:
    catalog = Catalog([
        Item(THING_1982, "The Thing", 1982, ("Horror", "Sci-Fi")),
        Item(THING_2011, "The Thing", 2011, ("Horror",)),
        Item(PARASITE_1982, "Parasite", 1982, ("Horror",)),
        Item(WATER_2005, "Water", 2005, ("Drama",)),
        Item(SAW_2003, "Saw", 2003, ("Horror",)),
        Item(SAW_2004, "Saw", 2004, ("Horror",)),
        Item(INCEPTION, "Inception", 2010, ("Sci-Fi",)),
        *(Item(300 + k, f"Filler {k}", 2000, ("Drama",)) for k in range(8)),
    ])
    counts = {THING_1982: 45, THING_2011: 4, PARASITE_1982: 2, WATER_2005: 1, SAW_2003: 2,
              SAW_2004: 33, INCEPTION: 50, **{300 + k: 20 for k in range(8)}}
    return CatalogExtractor(catalog, popularity=counts)


def test_the_better_known_film_of_a_shared_name_is_taken_and_the_others_noted(known_films):
    ex = known_films.extract("i loved the thing, carpenter at his best")
    assert ex.liked == [THING_1982] and ex.alternatives[THING_1982] == [THING_2011]
    ex = known_films.extract('Not into movies like "Saw" and The Thing tbh')
    assert sorted(ex.disliked) == [THING_1982, SAW_2004] and not ex.ambiguous


def test_without_rating_counts_a_shared_name_is_asked_about(known_films):
    plain = CatalogExtractor(known_films.catalog)
    ex = plain.extract("i loved The Thing")
    assert not ex.liked and ex.ambiguous and set(ex.ambiguous[0].options) == {
        THING_1982, THING_2011}


def test_a_rare_film_named_by_one_word_is_asked_about_not_recorded(known_films):
    ex = known_films.extract("I saw Parasite last week and it was so good")
    assert not (ex.liked or ex.seen)
    assert [c.options for c in ex.ambiguous] == [[PARASITE_1982]]
    # a name that is one letter off a rare film's title is a name
    ex = known_films.extract("i do hope they continue the story with David and Walter.")
    assert ex.mentioned() == [] and not ex.ambiguous and not ex.asked_about


# ---- praise or blame elsewhere in the sentence; comparisons judge nothing ------------------------
@pytest.mark.parametrize("text, key, ids", [
    ("she was incredible in Fargo honestly", "liked", [FARGO]),
    ("Toy Story came out when i was 6 so it holds a special place in my heart", "liked",
     [TOY_STORY]),
    ("i find him so funny, especially in Grease", "liked", [GREASE]),
    ("watched Heat on a plane, what a boring mess", "disliked", [HEAT]),
    ("I saw Fargo, it's not my favorite tbh", "seen", [FARGO]),
    ("i saw star wars with my dad, he hated it", "seen", [STAR_WARS]),
])
def test_praise_or_blame_in_the_sentence_gives_the_verdict(extractor, text, key, ids):
    assert said(extractor, text) == {key: ids}


@pytest.mark.parametrize("text", [
    "It's like a Fargo sort of film",
    "sounds like a female take on Pulp Fiction, could be fun",
    "kinda like grease but with zombies",
    "it reminded me of Toy Story a bit",
])
def test_a_title_named_to_describe_another_film_is_only_mentioned(extractor, text):
    ex = extractor.extract(text)
    assert not (ex.liked or ex.disliked or ex.seen) and len(ex.asked_about) == 1


# ---- genre words that ask for no genre -----------------------------------------------------------
def test_not_liking_one_kind_of_a_genre_does_not_avoid_the_genre(extractor):
    ex = said(extractor, "i don't like potty humor or \"stupid\" comedy, can't stand that stuff")
    assert "Comedy" not in ex.get("avoided_genres", [])
    assert said(extractor, "no comedy tonight please")["avoided_genres"] == ["Comedy"]


def test_a_lower_case_title_with_a_genre_word_names_no_genre(extractor):
    ex = said(extractor, "i also saw a new star wars was coming out but wasnt sure about that one")
    assert "War" not in ex.get("wanted_genres", [])
    assert said(extractor, "maybe a war movie then")["wanted_genres"] == ["War"]


def test_a_family_in_a_story_is_not_a_request_for_family_films(extractor):
    assert "wanted_genres" not in said(extractor, "the family was so head strong lol")
    assert "Children's" in said(extractor, "something for the family tonight")["wanted_genres"]


def test_a_typo_keeps_its_sequel_number_and_a_name_is_not_a_typo(known_films):
    catalog = Catalog([
        Item(1, "The Conjuring", 2013, ("Horror",)),
        Item(2, "The Conjuring 2", 2016, ("Horror",)),
        Item(3, "Water", 2005, ("Drama",)),
        Item(4, "Insidious", 2010, ("Horror",)),
    ])
    reader = CatalogExtractor(catalog, popularity={1: 40, 2: 2, 3: 9, 4: 3})
    assert reader.extract("I recently watched The Conjouring 2, it was so good").liked == [2]
    assert reader.extract("i have also watched incidious really liked that one").liked == [4]
    assert reader.extract("hope they continue the story with David and Walter.").mentioned() == []
    assert reader.extract("ooo yes Insidous is one of my all time favorites!").liked == [4]


@pytest.mark.parametrize("text", [
    "i think i'd love Fargo tbh",
    "ok I will definitely check out Heat this weekend",
    "i havent seen Fargo yet",
    "i'm curious about Toy Story",
])
def test_a_film_not_seen_yet_is_of_interest_not_liked_or_seen(extractor, text):
    ex = extractor.extract(text)
    assert not (ex.liked or ex.seen) and len(ex.interested) == 1


def test_the_reply_says_a_film_not_seen_yet_was_taken_as_of_interest(
    make_small_recommender, settings
):
    rec = make_small_recommender(settings)
    reply = rec.chat("s", "i havent seen pulp fiction yet but ill definitely check it out")
    assert "you'd like to see Pulp Fiction (1994)" in reply.text
    assert rec.state("s").interested and not rec.state("s").seen


def test_a_one_word_title_that_opens_a_list_of_titles_is_a_title(extractor):
    assert said(extractor, "Heat, Pulp Fiction, Fargo") == {"liked": [HEAT, PULP, FARGO]}
    assert said(extractor, "Heat and The Blob were great") == {"liked": [HEAT, BLOB]}


def test_a_lower_case_word_in_a_question_names_only_a_well_known_film(known_films):
    # "inception" is a well-known film; "water" names a film rated once
    ex = known_films.extract("is inception any good?")
    assert [q.item_id for q in ex.item_questions] == [INCEPTION]
    ex = known_films.extract("do they mean holiday as in water?")
    assert not (ex.asked_about or ex.mentioned() or ex.item_questions)


@pytest.mark.parametrize("text", [
    "do you have anything similar that came out this year?",
    "have anything newer?",
    "Current oscar nominated movie, thank you",
])
def test_other_words_for_recent_ask_for_recent_films(extractor, text):
    assert said(extractor, text)["year_min"] >= 1990  # the catalog's last years


@pytest.mark.parametrize("text", [
    "this year has been rough lol",
    "I watched Toy Story in theaters with some friends.",
    "i just saw the trailer of a movie that just came out!",
    "i havent seen many of his newer movies",
])
def test_recent_films_told_about_or_small_talk_ask_for_no_years(extractor, text):
    assert "year_min" not in said(extractor, text)


def test_they_after_a_list_of_films_is_the_films(extractor):
    assert said(extractor, 'Seen "Fargo" and "Heat" already, they were good.') == {
        "liked": [FARGO, HEAT]}


@pytest.mark.parametrize("text, avoided, wanted", [
    ("i don't do scary movies", ["Horror"], []),
    ("anything but romance tbh", ["Romance"], []),
    ("i can't handle gore", ["Horror"], []),
    ("scary movies aren't my cup of tea", ["Horror"], []),
    ("horror is a hard no for me", ["Horror"], []),
    ("keep it away from horror pls, im scared of those", ["Horror"], []),
    ("no horror, but thrillers are fine", ["Horror"], ["Thriller"]),
    ("no horror, thrillers, or romance", ["Horror", "Thriller", "Romance"], []),
])
def test_ways_people_say_no_to_a_genre(extractor, text, avoided, wanted):
    ex = said(extractor, text)
    assert ex.get("avoided_genres", []) == avoided and ex.get("wanted_genres", []) == wanted


@pytest.mark.parametrize("text", [
    "lol that's funny",
    "my kids are watching something in the other room",
    "i think the actor was in a lot of action movies",
    "hi! how are you doing today?",
    "oh i've heard of that, is it any good?",
    "yeah the ending was sad, i cried lol",
])
def test_small_talk_and_descriptions_add_nothing(extractor, text):
    assert said(extractor, text) == {}


def test_a_request_after_small_talk_words_is_still_a_request(extractor):
    assert said(extractor, "haha ok, something funny please")["wanted_genres"] == ["Comedy"]


@pytest.mark.parametrize("text, key, ids", [
    ("my all time fav is pulp fiction", "liked", [PULP]),
    ("Fargo blew my mind", "liked", [FARGO]),
    ("honestly grease is a classic", "liked", [GREASE]),
    ("I couldn't get through Pulp Fiction", "disliked", [PULP]),
    ("i fell asleep during star wars lol", "disliked", [STAR_WARS]),
])
def test_more_ways_people_give_a_verdict_on_a_film(extractor, text, key, ids):
    assert said(extractor, text) == {key: ids}


def test_but_not_gives_the_second_title_the_opposite_verdict(extractor):
    assert said(extractor, "I liked Fargo but not Pulp Fiction") == {
        "liked": [FARGO], "disliked": [PULP]}
    assert said(extractor, "hated Grease, but not Toy Story") == {
        "disliked": [GREASE], "liked": [TOY_STORY]}


def _after(extractor: CatalogExtractor, *messages: str) -> DialogueState:
    state = DialogueState()
    for m in messages:
        state = apply_reading(state, extractor.extract(m, state))
    return state


def test_a_genre_said_instead_replaces_the_one_asked_for(extractor):
    st = _after(extractor, "i want a comedy", "hmm actually make it a drama instead")
    assert st.wanted_genres == ["Drama"]
    st = _after(extractor, "sci-fi please", "scratch that, fantasy")
    assert st.wanted_genres == ["Fantasy"]
    st = _after(extractor, "i want a comedy", "and a drama too")
    assert st.wanted_genres == ["Comedy", "Drama"]


def test_any_decade_takes_back_the_years(extractor):
    st = _after(extractor, "a comedy from the 90s", "actually any decade is fine")
    assert (st.year_min, st.year_max) == (None, None) and st.wanted_genres == ["Comedy"]


def test_scary_but_not_gory_wants_horror_without_avoiding_it(extractor):
    assert said(extractor, "something scary but not gory") == {"wanted_genres": ["Horror"]}
    assert said(extractor, "a horror film, nothing too gory pls") == {"wanted_genres": ["Horror"]}
    assert said(extractor, "no gory movies") == {"avoided_genres": ["Horror"]}


def test_intervals_resample_dialogues_and_pair_with_the_baseline():
    from genrec.evaluation.understanding_score import TurnResult, intervals

    def turn(d: str, read: set[str], gold: set[str]) -> TurnResult:
        ex, r = Expected(wanted=gold), Reading(wanted=read)
        return TurnResult(d, 1, "t", "preference", ex, r, false_additions(ex, r))

    good = [turn(f"d{i}", {"Comedy"}, {"Comedy"}) for i in range(8)] + [
        turn("d8", {"Horror"}, {"Comedy"}), turn("d9", set(), {"Drama"})]
    ci = intervals(good, 2000, baseline=good, resamples=300)
    lo, hi = ci["f1"]["genres_wanted"]
    assert lo < 0.8 < hi and hi - lo > 0.1  # 8 of 10 right, two dialogues wrong: F1 0.84
    assert ci["f1_minus_baseline"]["genres_wanted"] == [0.0, 0.0]  # a reader against itself
    assert ci["false_addition_rate"][1] > 0  # d8 added Horror
    worse = [turn(t.dialog_id, set(), t.expected.wanted) for t in good]
    assert intervals(good, 2000, baseline=worse, resamples=300)["f1_minus_baseline"][
        "genres_wanted"][0] > 0.5


@pytest.mark.parametrize("text", [
    "Happy Friday!",
    "hi! doing well, getting ready for friday lol",
    "what should i watch on Friday night?",
])
def test_days_and_holidays_said_as_such_are_not_titles(extractor, text):
    ex = extractor.extract(text)
    assert not ex.mentioned() and not ex.ambiguous and not ex.asked_about


@pytest.mark.parametrize("text, key, ids", [
    ("I watched Heat on Netflix last night, so good", "liked", [HEAT]),
    ("saw Fargo on Friday and loved it", "liked", [FARGO]),
    ("I watched Friday with my brother, hilarious", "liked", [FRIDAY]),
])
def test_a_platform_or_a_day_after_a_title_starts_no_longer_title(extractor, text, key, ids):
    assert said(extractor, text) == {key: ids}


def test_a_genre_word_that_describes_a_film_judged_asks_for_nothing(extractor):
    assert said(extractor, "watched Grease with my sister, hilarious") == {"liked": [GREASE]}
    assert said(extractor, "loved Fargo, something funny like that please")["wanted_genres"] == [
        "Comedy"]


@pytest.mark.parametrize("text, expected", [
    ("I've seen Toy Story like a million times with my kids", {"seen": [TOY_STORY]}),
    ("i liked Toy Story but the sequels not so much", {"liked": [TOY_STORY]}),
    ("Star Wars is the best superhero movie ever", {"liked": [STAR_WARS]}),
])
def test_asides_in_a_statement_about_a_film_add_nothing_else(extractor, text, expected):
    assert said(extractor, text) == expected


def test_a_film_to_watch_with_the_kids_is_a_request_for_kids_films(extractor):
    ex = said(extractor, "something to watch with my kids tonight")
    assert ex["wanted_genres"] == ["Children's"] and "Horror" in ex["avoided_genres"]
