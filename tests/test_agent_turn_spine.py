"""The turn's spine without a catalog: the commit writes a turn's changes in one place, in order,
and the report streams its notes before the reply text."""

from __future__ import annotations

from genrec.agent.state import DialogueState, FeedbackEvent, TurnChanges, commit
from genrec.agent.turn import TurnReport, word_deltas
from genrec.agent.understanding.extraction import Extraction


def test_commit_writes_every_change_in_order_and_leaves_the_prior_state_alone():
    prior = DialogueState(liked=[1], user_id=7, recommended=[5])
    reading = Extraction(liked=[2], wanted_genres=["Comedy"])
    changes = TurnChanges(reading=reading, forget_user=True,
                          feedback=[FeedbackEvent(item_id=3, liked=False, source="tool")],
                          shown=[8, 9], asked="decade")
    after = commit(prior, changes, end_turn=True)
    assert (after.liked, after.disliked, after.wanted_genres) == ([1, 2], [3], ["Comedy"])
    assert after.user_id is None and after.recommended == [5, 8, 9]
    assert (after.last_recommended, after.asked, after.asking, after.turns) == ([8, 9], ["decade"],
                                                                               "decade", 1)
    assert prior == DialogueState(liked=[1], user_id=7, recommended=[5])


def test_the_state_so_far_is_the_commit_without_counting_the_turn():
    prior = DialogueState(turns=4)
    changes = TurnChanges(reading=Extraction(wanted_genres=["Drama"]))
    so_far = commit(prior, changes)
    changes.feedback.append(FeedbackEvent(item_id=11, liked=True, source="tool"))
    assert so_far.turns == 4 and so_far.liked == []
    assert commit(prior, changes).liked == [11]
    assert commit(prior, changes, end_turn=True).turns == 5


def test_a_reset_keeps_what_was_shown_and_the_turn_count():
    prior = DialogueState(liked=[1], recommended=[2], turns=3, wanted_genres=["Horror"])
    after = commit(prior, TurnChanges(reading=Extraction(reset=True)))
    assert (after.liked, after.wanted_genres, after.recommended, after.turns) == ([], [], [2], 3)


def test_the_report_streams_its_notes_once_before_the_text():
    shown: list[str] = []
    report = TurnReport(notes=["Noted: you like Heat."], on_text=shown.append)
    report.stream_text("Here")
    report.stream_text(" they are")
    assert shown == ["Noted: you like Heat.\n", "Here", " they are"]
    assert report.preface() == "Noted: you like Heat.\n"


def test_word_deltas_join_back_to_the_text():
    text = "  Two  words\nand more "
    assert "".join(word_deltas(text)) == text
