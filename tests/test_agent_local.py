"""One real conversation turn with the embedded SmolLM2 model (CPU, in process): slow but real.

The 135M model writes weak JSON; the agent must still answer correctly, within 2 LLM calls.
"""

from __future__ import annotations

import pytest

from genrec.agent import Recommender, SessionStore
from genrec.llm import get_llm

STAR_WARS = 50


@pytest.mark.slow
def test_local_smollm2_end_to_end(ml100k, ml100k_ranker, ml100k_store, local_llm_settings,
                                  tmp_path):
    llm = get_llm("local", local_llm_settings)
    rec = Recommender(catalog=ml100k.catalog, ranker=ml100k_ranker, store=ml100k_store, llm=llm,
                      policy="auto", sessions=SessionStore(tmp_path / "s.sqlite"))
    assert rec.policy_name == "guided" and rec.backend_name.startswith("local")
    reply = rec.chat("smol", "I loved Star Wars. Something from the 80s please, no horror.")
    assert 1 <= reply.llm_calls <= 2
    assert reply.recommendations and STAR_WARS not in reply.item_ids
    for r in reply.recommendations:
        it = ml100k.catalog[r.item_id]
        assert 1980 <= it.year <= 1989 and "Horror" not in it.genres
        assert r.verified and r.rationale
    assert "Rules you always follow" not in reply.text
    assert rec.state("smol").liked == [STAR_WARS]
