"""The Chroma client: embedded or server per settings, the pointer collection, and the index
listing.

Every other retrieval module reaches Chroma through what is made here; `StoreError` is the one
error a store raises when the index cannot be used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from genrec.config import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

POINTER_COLLECTION = "genrec-index-pointers"
DEFAULT_MAX_BATCH = 5000


class StoreError(RuntimeError):
    """The index cannot be used: not built, server unreachable, or inconsistent."""


def make_client(settings: Settings) -> ClientAPI:
    """A Chroma client per settings: PersistentClient under settings.chroma_dir, or HttpClient.

    Raises:
        StoreError: server mode and no Chroma server answers at chroma_host:chroma_port.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    cs = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_mode == "server":
        try:
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=cs
            )
            client.heartbeat()
        except Exception as exc:  # noqa: BLE001 - any connection failure means the same to the user
            raise StoreError(
                f"no Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                f"({type(exc).__name__}: {exc}); "
                "start one with `genrec index serve` or set GENREC_CHROMA_MODE=embedded"
            ) from None
        return client
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=cs)


def collection_names(client: ClientAPI) -> list[str]:
    """Names of every collection (chroma returns names or collection objects, by version)."""
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def get_collection(client: ClientAPI, name: str) -> Collection | None:
    """The collection called `name`, or None when there is none."""
    try:
        return client.get_collection(name, embedding_function=None)
    except Exception:  # noqa: BLE001 - chroma raises NotFoundError / ValueError by version
        return None


def max_batch(client: ClientAPI) -> int:
    """The most records one Chroma write may carry."""
    try:
        return int(client.get_max_batch_size())
    except Exception:  # noqa: BLE001 - older clients: the documented default
        return DEFAULT_MAX_BATCH


def read_pointer(client: ClientAPI, key: str) -> dict[str, Any] | None:
    """The pointer record of index `key` ("dataset|embedder"): which generation is in use."""
    pointers = client.get_or_create_collection(POINTER_COLLECTION, embedding_function=None)
    got = pointers.get(ids=[key], include=["metadatas"])
    metadatas = got["metadatas"] or []
    return dict(metadatas[0]) if got["ids"] else None


def write_pointer(client: ClientAPI, key: str, record: dict[str, Any]) -> None:
    """Switch index `key` to the generation `record` names (one upsert: atomic for readers)."""
    pointers = client.get_or_create_collection(POINTER_COLLECTION, embedding_function=None)
    embedding: list[Sequence[float]] = [[1.0]]  # the pointer collection is looked up by id only
    pointers.upsert(ids=[key], embeddings=embedding, metadatas=[record], documents=[key])


def list_indexes(client: ClientAPI) -> list[dict[str, Any]]:
    """Every (dataset, embedder) index the pointer collection knows, plus leftover staging
    builds."""
    pointers = get_collection(client, POINTER_COLLECTION)
    if pointers is None:  # nothing was ever built
        return []
    got = pointers.get(include=["metadatas"])
    metadatas = got["metadatas"] or []
    active = {md["collection"] for md in metadatas}
    out = [dict(md, key=k, in_use=True) for k, md in zip(got["ids"], metadatas)]
    for cname in collection_names(client):
        if cname.startswith("gr-") and cname not in active:
            out.append(
                {
                    "collection": cname,
                    "in_use": False,
                    "note": "staging build not finished (resumed by the next build)",
                }
            )
    return out
