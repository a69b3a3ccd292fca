"""Outbound webhooks: signed JSON notifications of document and batch events, with retries.

Pure standard library. A delivery never raises for a receiver's failure: a webhook must never
fail the ingestion it reports on. Payload and signature scheme: `docingest.webhook_payload`
(re-exported here). `X-Docingest-Delivery` (a uuid4) is the same on every retry of one
delivery, so receivers can dedupe on it; `X-Docingest-Timestamp` and the signature are fresh
on each attempt, so a receiver's replay window holds for late retries too.
"""

from __future__ import annotations

import http.client
import logging
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from docingest.errors import ConfigError
from docingest.webhook_payload import (
    EVENTS,
    OUTCOME_EVENTS,
    PROGRESS_EVENTS,
    SIGNATURE_PREFIX,
    build_body,
    sign,
    utc_timestamp,
    validate_events,
    verify,
)

__all__ = [
    "EVENTS",
    "OUTCOME_EVENTS",
    "PROGRESS_EVENTS",
    "DeliveryResult",
    "Endpoint",
    "WebhookDispatcher",
    "build_body",
    "deliver",
    "redact_url",
    "sign",
    "utc_timestamp",
    "validate_events",
    "verify",
]

# Receivers answering these may succeed later; any other 4xx will answer the same again.
RETRYABLE_STATUS = frozenset({408, 429})
MAX_BACKOFF_S = 30.0
# Consecutive failed deliveries after which a dispatcher stops calling an endpoint, so a dead
# receiver costs a batch a few timeouts, not a few per document.
BREAKER_THRESHOLD = 3

# An endpoint's own headers may not replace these: the receiver's checks rest on them.
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "user-agent"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token

log = logging.getLogger(__name__)
Sleep = Callable[[float], None]


def redact_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe to log (tokens often live there)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The endpoint's own headers, or ConfigError (never quoting a value: it may be a token)."""
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ConfigError(f"webhook header name {name!r} is not a valid HTTP header name")
        lower = name.lower()
        if lower in _RESERVED_HEADERS or lower.startswith("x-docingest-"):
            raise ConfigError(f"webhook header {name!r} is set by docingest itself")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise ConfigError(f"webhook header {name!r}: the value must be one line of text")
    return dict(headers)


@dataclass(frozen=True)
class Endpoint:
    """One receiver: its URL, the events it wants (empty = the outcome events), its secret,
    its own headers (e.g. an auth token; values never shown) and retry policy."""

    url: str
    events: tuple[str, ...] = OUTCOME_EVENTS
    secret: str | None = field(default=None, repr=False)
    timeout_s: float = 5.0
    max_attempts: int = 4
    backoff_s: float = 0.5
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        try:
            parts = urllib.parse.urlsplit(self.url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises on a malformed port
        except ValueError:
            valid = False
        if not valid:
            raise ConfigError("webhook URL must be http(s)://host[:port]/...")
        object.__setattr__(self, "events", validate_events(self.events) or OUTCOME_EVENTS)
        object.__setattr__(self, "headers", _check_headers(self.headers))
        if self.max_attempts < 1 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise ConfigError("webhook max_attempts >= 1, timeout_s > 0, backoff_s >= 0")

    def __repr__(self) -> str:
        return (
            f"Endpoint(url={redact_url(self.url)!r}, events={self.events!r}, "
            f"signed={self.secret is not None}, headers={sorted(self.headers)!r}, "
            f"timeout_s={self.timeout_s}, "
            f"max_attempts={self.max_attempts}, backoff_s={self.backoff_s})"
        )

    __str__ = __repr__

    def wants(self, event: str) -> bool:
        return event in self.events


@dataclass(frozen=True)
class DeliveryResult:
    """How one delivery ended. `url` is redacted; nothing here holds the secret."""

    ok: bool
    attempts: int
    status_code: int | None
    error: str | None
    event: str = ""
    url: str = ""
    delivery_id: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answered, not followed: following would resend the signature elsewhere
    (and urllib turns a redirected POST into a GET without its body)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _headers(endpoint: Endpoint, event: str, body: bytes, delivery_id: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    headers = {
        **endpoint.headers,
        "Content-Type": "application/json",
        "User-Agent": "docingest-webhooks/1",
        "X-Docingest-Event": event,
        "X-Docingest-Timestamp": timestamp,
        "X-Docingest-Delivery": delivery_id,
    }
    if endpoint.secret is not None:
        headers["X-Docingest-Signature"] = SIGNATURE_PREFIX + sign(endpoint.secret, timestamp, body)
    return headers


def _post(endpoint: Endpoint, headers: dict[str, str], body: bytes) -> tuple[int | None, str]:
    """One attempt: (status code or None, error text or "")."""
    request = urllib.request.Request(endpoint.url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(_NoRedirect)  # per call: proxies read from env now
    try:
        with opener.open(request, timeout=endpoint.timeout_s) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, f"HTTP {error.code}"
    except urllib.error.URLError as error:
        reason = error.reason
        return None, reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
    except (OSError, http.client.HTTPException) as error:  # timeouts, resets, bad responses
        return None, f"{type(error).__name__}: {error}"


def _retryable(status: int | None) -> bool:
    return status is None or status in RETRYABLE_STATUS or status >= 500


def deliver(
    endpoint: Endpoint,
    event: str,
    body: bytes,
    *,
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
) -> DeliveryResult:
    """POST the body, retrying connection errors, timeouts, 408, 429 and 5xx with exponential
    backoff and full jitter (delay before attempt n+1 is uniform in [0, backoff_s * 2**(n-1)],
    capped at 30 s); other statuses end the delivery. Never raises for a delivery failure."""
    rng = rng or random.Random()
    delivery_id = str(uuid.uuid4())
    url = redact_url(endpoint.url)
    status: int | None = None
    error = ""
    for attempt in range(1, endpoint.max_attempts + 1):
        status, error = _post(endpoint, _headers(endpoint, event, body, delivery_id), body)
        if status is not None and 200 <= status < 300:
            return DeliveryResult(True, attempt, status, None, event, url, delivery_id)
        log.debug("webhook %s to %s attempt %d: %s", event, url, attempt, error)
        if not _retryable(status) or attempt == endpoint.max_attempts:
            break
        sleep(rng.uniform(0, min(MAX_BACKOFF_S, endpoint.backoff_s * 2 ** (attempt - 1))))
    error = error or f"HTTP {status}"
    log.debug("webhook %s to %s failed after %d attempt(s): %s", event, url, attempt, error)
    return DeliveryResult(False, attempt, status, error, event, url, delivery_id)


class WebhookDispatcher:
    """Sends each event to the endpoints that want it, one after another; an endpoint that
    failed BREAKER_THRESHOLD deliveries in a row is skipped for the dispatcher's lifetime."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        *,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.endpoints = tuple(endpoints)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._failures = [0] * len(self.endpoints)

    def __repr__(self) -> str:
        return f"WebhookDispatcher({list(self.endpoints)!r})"

    def emit(self, event: str, **fields: Any) -> list[DeliveryResult]:
        """Deliver `event` (fields as for build_body) to every interested endpoint."""
        targets = [i for i, endpoint in enumerate(self.endpoints) if endpoint.wants(event)]
        if not targets:
            validate_events([event])
            return []
        body = build_body(event, **fields)
        results = []
        for i in targets:
            endpoint = self.endpoints[i]
            if self._failures[i] >= BREAKER_THRESHOLD:
                reason = f"skipped: {self._failures[i]} consecutive failed deliveries"
                results.append(
                    DeliveryResult(False, 0, None, reason, event, redact_url(endpoint.url))
                )
                continue
            result = deliver(endpoint, event, body, sleep=self._sleep, rng=self._rng)
            self._failures[i] = 0 if result.ok else self._failures[i] + 1
            results.append(result)
        return results
