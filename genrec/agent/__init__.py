"""Agent: dialogue state, understanding, tools, policies, rationales, sessions and the Recommender.

LLM backends live in genrec.llm; everything else a caller needs is re-exported here.
"""

from genrec.agent.models import Recommendation, Reply, ToolCallRecord
from genrec.agent.policies import AgentConfig
from genrec.agent.recommender import Recommender
from genrec.agent.sessions import SessionStore
from genrec.agent.state import DialogueState, FeedbackEvent

__all__ = [
    "AgentConfig", "DialogueState", "FeedbackEvent", "Recommendation", "Recommender", "Reply",
    "SessionStore", "ToolCallRecord",
]
