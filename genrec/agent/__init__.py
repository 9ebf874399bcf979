"""Agent: one turn as a pipeline of typed stages, and the Recommender facade over it.

Data flow: state -> operations (typed) -> understanding / candidates -> respond ->
policies -> recommender; `llm_tools` is the LLM-facing layer and `builder` wires the parts.
LLM backends live in genrec.llm; everything else a caller needs is re-exported here.
"""

from genrec.agent.builder import AgentParts, build_parts
from genrec.agent.policies import AgentConfig
from genrec.agent.recommender import Recommender
from genrec.agent.replies import Recommendation, Reply, ToolCallRecord
from genrec.agent.sessions.store import SessionStore
from genrec.agent.state import DialogueState, FeedbackEvent

__all__ = [
    "AgentConfig", "AgentParts", "DialogueState", "FeedbackEvent", "Recommendation", "Recommender",
    "Reply", "SessionStore", "ToolCallRecord", "build_parts",
]
