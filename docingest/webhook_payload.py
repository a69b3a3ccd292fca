"""Webhook payloads: the event names, the JSON body, and its signature.

Signature scheme (when an endpoint has a secret). Each attempt sends
`X-Docingest-Timestamp: T` (integer Unix seconds at send time) and
`X-Docingest-Signature: sha256=H` where H is the lowercase hex HMAC-SHA256, keyed with the
UTF-8 secret, of the bytes `f"{T}."` followed by the raw request body. A receiver recomputes H
over the body exactly as received (before any JSON parsing), compares in constant time, and may
reject timestamps too far from its clock (`verify(..., tolerance_s=300)`) to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from docingest.errors import ConfigError

# A document's outcomes and the batch's: what an endpoint that names no events receives.
OUTCOME_EVENTS: tuple[str, ...] = (
    "parse.success",
    "parse.partial_success",  # parsed, but some pages failed (replaced per failed_page_mode)
    "parse.error",
    "parse.cancelled",  # its run was cancelled before the document finished
    "ingest.success",
    "ingest.error",
    "classify.success",
    "classify.error",
    "batch.completed",
)
# Progress, two more POSTs per document: sent only to endpoints that name them.
PROGRESS_EVENTS: tuple[str, ...] = (
    "parse.pending",  # the run has the document, waiting for its turn in the batch
    "parse.running",  # its parse started
)
EVENTS: tuple[str, ...] = (*PROGRESS_EVENTS, *OUTCOME_EVENTS)
SIGNATURE_PREFIX = "sha256="


def validate_events(events: Iterable[str]) -> tuple[str, ...]:
    """The events as a tuple, or ConfigError naming the unknown ones and the known ones."""
    events = tuple(events)
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ConfigError(f"unknown webhook event(s) {unknown}; known events: {list(EVENTS)}")
    return events


def utc_timestamp() -> str:
    """Now, ISO-8601 in UTC with milliseconds, e.g. 2025-01-31T12:00:00.000Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_body(
    event: str,
    *,
    status: str,
    document_id: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    counts: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    correlation_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The JSON body: compact, sorted keys, UTF-8; `extra` keys sit beside the standard ones.
    `correlation_id` is the caller's id of the batch (`docingest ingest --correlation-id`)."""
    validate_events([event])
    body: dict[str, Any] = {
        "event": event,
        "document_id": document_id,
        "status": status,
        "error_code": error_code,
        "error_message": error_message,
        "counts": dict(counts or {}),
        "run_id": run_id,
        "correlation_id": correlation_id,
        "timestamp": utc_timestamp(),
    }
    clash = sorted(set(extra or {}) & set(body))
    if clash:
        raise ValueError(f"extra webhook fields would overwrite {clash}")
    body.update(extra or {})
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `f"{timestamp}.".encode() + body`, keyed with the UTF-8 secret."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature_header: str | None,
    *,
    tolerance_s: float | None = None,
    now: float | None = None,
) -> bool:
    """Whether `X-Docingest-Signature` matches (constant time) and, given a tolerance, whether
    the timestamp is within `tolerance_s` seconds of `now` (default: the clock)."""
    if not signature_header or not signature_header.startswith(SIGNATURE_PREFIX):
        return False
    if tolerance_s is not None:
        try:
            age = abs((time.time() if now is None else now) - int(timestamp))
        except ValueError:
            return False
        if age > tolerance_s:
            return False
    expected = SIGNATURE_PREFIX + sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), signature_header.encode())
