"""The payload keys the pipeline writes are the keys user metadata may not shadow."""

from assets.vector_store import EMBED_KEY, point_payload
from docingest.classify import Classification
from docingest.metadata import RESERVED_KEYS
from docingest.models import Chunk


def test_reserved_keys_are_exactly_the_pipelines_payload_keys() -> None:
    chunk = Chunk("c", "a.pdf", 0, "text", 1, 1, 1, [], [], ["text"], "token_size", "h")
    classes = Classification("invoice", 0.8, None, None, {}, {}, {"blank": [2]}, [], "r")
    written = set(point_payload(chunk, {"path": "/a.pdf", "sha256": "0"}, "model", classes))
    assert written | {EMBED_KEY} == RESERVED_KEYS
