"""Understanding: what one message says, read against the catalog (titles, polarity, genres,
years, sentence acts, questions about items) into an `Extraction`, by rules or by an LLM."""
