"""A chunk's payload: the keys `PointPayload` declares are the ones written, and the ones user
metadata may not shadow."""

import pytest

from docingest.classify import Classification
from docingest.errors import ConfigError
from docingest.filters import PATH_PREFIXES_KEY
from docingest.metadata import merge_metadata
from docingest.models import Chunk
from docingest.payload import EMBED_KEY, RESERVED_KEYS, point_payload
from docingest.vectorstore import DOCUMENT_ID_KEY, MODEL_KEY, PRECISION_KEY

CHUNK = Chunk("c", "a/b.pdf", 0, "text", 1, 1, 1, [], [], ["text"], "token_size", "h")
REGISTERED = {"path": "/a/b.pdf", "sha256": "0", "vector_store_metadata": {"team": "ops"}}


def test_a_classified_point_writes_every_declared_key_beside_the_metadata() -> None:
    classes = Classification("invoice", 0.8, None, None, {}, {}, {"blank": [2]}, [], "r")
    written = point_payload(CHUNK, REGISTERED, "model", classes)
    # The index stage adds the embedding key; the store stamps the precision.
    assert set(written) | {EMBED_KEY, PRECISION_KEY} == RESERVED_KEYS | {"team"}
    assert written["document_type"] == "invoice" and written["page_class"] == []
    assert written[PATH_PREFIXES_KEY] == ["a"]


def test_an_unclassified_point_has_no_class_keys() -> None:
    written = point_payload(CHUNK, REGISTERED, "model")
    assert not {"document_type", "document_type_score", "page_class"} & set(written)


def test_the_keys_other_modules_name_are_declared() -> None:
    named = {PATH_PREFIXES_KEY, DOCUMENT_ID_KEY, MODEL_KEY, PRECISION_KEY, EMBED_KEY}
    assert named <= RESERVED_KEYS


@pytest.mark.parametrize("key", sorted(RESERVED_KEYS))
def test_metadata_may_not_shadow_a_payload_key(key: str) -> None:
    with pytest.raises(ConfigError, match="reserved"):
        merge_metadata({key: "x"}, {})
