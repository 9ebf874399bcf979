"""The chat banner's words (genrec.ui.chat.notices): the agent's real warning texts become one calm
sentence each, with no exception text, URL or server address in it (no browser, no LLM)."""

from __future__ import annotations

import pytest

from genrec.ui.chat.notices import LLM_DOWN, LLM_UNUSABLE, OTHER, TRUNCATED, user_notices

RAW_DOWN = ("LLM unavailable (Connection error: HTTPConnectionPool(host='10.1.2.3', port=8000): "
            "Max retries exceeded with url: /v1/chat/completions); answered with templated text")


@pytest.mark.parametrize("warning,sentence", [
    (RAW_DOWN, LLM_DOWN),
    ("LLM answer unusable (see https://example.com/&#x27;x); used templated text", LLM_UNUSABLE),
    ("LLM call failed (KeyError: 'choices')", LLM_UNUSABLE),
    ("LLM reply text failed the fact check; used templated text", LLM_UNUSABLE),
    ("invalid tool call repaired: ValidationError ...", LLM_UNUSABLE),
    ("message truncated from 5000 to 4000 characters", TRUNCATED),
    ("something new at http://internal:1234", OTHER),
])
def test_each_warning_becomes_one_sentence_without_raw_details(warning: str, sentence: str) -> None:
    shown = user_notices([warning])
    assert shown == [sentence]
    for raw in ("http", "10.1.2.3", "Error", "&#x27;", "(", "internal"):
        assert raw not in shown[0]


def test_an_llm_outage_reads_as_one_sentence_not_a_list() -> None:
    warnings = [RAW_DOWN, "LLM call failed (TimeoutError: x)", RAW_DOWN]
    assert user_notices(warnings) == [LLM_DOWN]
    assert user_notices([]) == []
