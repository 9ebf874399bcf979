"""genrec: a conversational recommender (LLM agent + Chroma retrieval + CF ranker)."""

__version__ = "0.1.0"
