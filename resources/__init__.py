"""One ConfigurableResource per external system, and the one function that binds them."""

import os
from typing import Any

import dagster as dg

from docingest.embedding import PRECISION_ENV, precision_of
from docingest.parsing.options import Engine
from resources.chunker import ChunkerResource
from resources.classifier import RULES_ENV, ClassifierResource
from resources.embedder import EmbedderResource, EmbeddingPrecision
from resources.object_store import object_store_env
from resources.parser import ParserResource
from resources.qdrant import QdrantResource
from resources.source import SourceResource
from resources.storage import NothingStoredIOManager, StorageResource
from resources.webhooks import WebhookEndpointConfig, WebhookResource

PDF_PASSWORD_ENV = "DOCINGEST_PDF_PASSWORD"
PARSE_WORKERS_ENV = "DOCINGEST_PARSE_WORKERS"
PARSE_AHEAD_ENV = "DOCINGEST_PARSE_AHEAD"

__all__ = [
    "ChunkerResource",
    "ClassifierResource",
    "EmbedderResource",
    "NothingStoredIOManager",
    "ParserResource",
    "QdrantResource",
    "SourceResource",
    "StorageResource",
    "WebhookEndpointConfig",
    "WebhookResource",
    "build_resources",
]


def build_resources(**overrides: Any) -> dict[str, Any]:
    """The resources for this environment, under the same keys everywhere.

    Embedded default: Qdrant local mode and Parquet under `$DOCINGEST_HOME`. Setting
    `QDRANT_URL` (and `QDRANT_API_KEY`) switches to a Qdrant server; nothing else changes.
    `DOCINGEST_WEBHOOK_URL` (with `DOCINGEST_WEBHOOK_EVENTS`, `DOCINGEST_WEBHOOK_SECRET`) adds a
    webhook endpoint; without it, webhooks are a no-op. `DOCINGEST_PARSE_ENGINE` picks the
    parse engine (`layout`, the default, `fast` or `auto`); `DOCINGEST_PARSE_WORKERS` the parser's
    worker processes (default one per core) and `DOCINGEST_PARSE_AHEAD` how many documents a
    run parses ahead (default as many; 0: none); `DOCINGEST_PDF_PASSWORD` opens encrypted
    PDFs; `DOCINGEST_CLASSIFY_RULES` names a classification rules file;
    `DOCINGEST_EMBED_PRECISION` (`auto`, `fp32`, `int8`) the embedding precision. Secrets are
    bound as dg.EnvVar: the UI and run config show their names, not values.

    Object storage: `DOCINGEST_SOURCE_DIR` and `DOCINGEST_DATA_URL` may be `s3://` URLs; the
    endpoint and keys are the AWS variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
    `AWS_SECRET_ACCESS_KEY`), bound as dg.EnvVar when set.
    """
    object_store = object_store_env()
    if os.environ.get("QDRANT_URL"):
        qdrant = QdrantResource(
            url=dg.EnvVar("QDRANT_URL"),
            api_key=dg.EnvVar("QDRANT_API_KEY") if os.environ.get("QDRANT_API_KEY") else None,
            collection=os.environ.get("DOCINGEST_COLLECTION", "documents"),
        )
    else:
        qdrant = QdrantResource(collection=os.environ.get("DOCINGEST_COLLECTION", "documents"))
    resources: dict[str, Any] = {
        "source": SourceResource(**object_store),
        "parser": ParserResource(
            engine=Engine(os.environ.get("DOCINGEST_PARSE_ENGINE") or "layout"),
            parse_workers=int(os.environ.get(PARSE_WORKERS_ENV) or 0),
            parse_ahead=int(ahead) if (ahead := os.environ.get(PARSE_AHEAD_ENV)) else None,
            password=dg.EnvVar(PDF_PASSWORD_ENV) if os.environ.get(PDF_PASSWORD_ENV) else None,
        ),
        "chunker": ChunkerResource(),
        "classifier": ClassifierResource(rules_path=os.environ.get(RULES_ENV) or None),
        "embedder": EmbedderResource(
            precision=EmbeddingPrecision(precision_of(os.environ.get(PRECISION_ENV)) or "auto")
        ),
        "qdrant": qdrant,
        "storage": StorageResource(**object_store),
        "io_manager": NothingStoredIOManager(),
        "webhooks": WebhookResource.from_env(),
    }
    resources.update(overrides)
    return resources
