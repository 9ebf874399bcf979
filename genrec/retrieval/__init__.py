"""Retrieval: item text, embedders and the Chroma item index with filtered semantic search."""

from genrec.retrieval.embedders import (
    Embedder,
    EmbeddingError,
    HashEmbedder,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    UnknownEmbedderError,
    get_embedder,
)
from genrec.retrieval.filters import InvalidFilterError, SearchFilters, to_where, validate
from genrec.retrieval.server import ChromaServer
from genrec.retrieval.store import (
    BuildReport,
    ChromaStore,
    IndexStatus,
    SearchResult,
    StoreError,
    list_indexes,
    make_client,
    open_store,
)
from genrec.retrieval.text import item_text

__all__ = [
    "BuildReport", "ChromaServer", "ChromaStore", "Embedder", "EmbeddingError", "HashEmbedder",
    "IndexStatus", "InvalidFilterError", "OpenAIEmbedder", "SearchFilters", "SearchResult",
    "SentenceTransformerEmbedder", "StoreError", "UnknownEmbedderError", "get_embedder", "item_text",
    "list_indexes", "make_client", "open_store", "to_where", "validate",
]
