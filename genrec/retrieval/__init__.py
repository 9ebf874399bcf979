"""Retrieval: item text, embedders and the Chroma item index with filtered semantic search.

Modules: text (item text), embedders, filters, client (Chroma client, pointers), rows (what the
index holds), index (builds, status), popularity, search (kNN, exact, blank query), store (the
`ChromaStore` facade and `open_store`), server (`chroma run`).
"""

from genrec.retrieval.client import StoreError, list_indexes, make_client
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
from genrec.retrieval.index import BuildReport, IndexStatus, ItemIndex
from genrec.retrieval.popularity import rating_counts
from genrec.retrieval.search import Searcher, SearchResult
from genrec.retrieval.server import ChromaServer
from genrec.retrieval.store import ChromaStore, iter_ids, open_store
from genrec.retrieval.text import item_text

__all__ = [
    "BuildReport",
    "ChromaServer",
    "ChromaStore",
    "Embedder",
    "EmbeddingError",
    "HashEmbedder",
    "IndexStatus",
    "InvalidFilterError",
    "ItemIndex",
    "OpenAIEmbedder",
    "SearchFilters",
    "SearchResult",
    "Searcher",
    "SentenceTransformerEmbedder",
    "StoreError",
    "UnknownEmbedderError",
    "get_embedder",
    "item_text",
    "iter_ids",
    "list_indexes",
    "make_client",
    "open_store",
    "rating_counts",
    "to_where",
    "validate",
]
