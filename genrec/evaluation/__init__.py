"""Evaluation: metrics, user simulator, conversational harness and reports."""
