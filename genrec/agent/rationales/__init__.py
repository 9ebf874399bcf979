"""Rationales: an evidence pack per recommended item (`evidence`), templated reasons
(`reasons`), and the checker that LLM text must pass (`fact_check`)."""

from genrec.agent.rationales.evidence import (
    Evidence,
    build_evidence,
    item_nouns,
    matched_tags,
    shown_rating,
)
from genrec.agent.rationales.fact_check import CheckResult, FactChecker, check_text
from genrec.agent.rationales.reasons import template_rationale, template_rationales

__all__ = [
    "CheckResult", "Evidence", "FactChecker", "build_evidence", "check_text", "item_nouns",
    "matched_tags", "shown_rating", "template_rationale", "template_rationales",
]
