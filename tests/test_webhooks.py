"""Webhook delivery against a real HTTP server on 127.0.0.1: body, signature, retries, filters."""

import json
import logging
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from docingest.errors import ConfigError
from docingest.webhooks import (
    OUTCOME_EVENTS,
    PROGRESS_EVENTS,
    DeliveryResult,
    Endpoint,
    WebhookDispatcher,
    build_body,
    deliver,
    sign,
    verify,
)
from tests.webhook_server import Receiver, closed_port_url, receiver

SECRET = "s3cr3t-shared-value"


class CeilingRandom(random.Random):
    """Full jitter at its ceiling: the delays the backoff schedule allows at most."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Sleeps(list[float]):
    """A fake sleep that records its delays."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def dispatcher(*endpoints: Endpoint, sleeps: Sleeps | None = None) -> WebhookDispatcher:
    sleep = Sleeps() if sleeps is None else sleeps
    return WebhookDispatcher(endpoints, sleep=sleep, rng=CeilingRandom())


def test_body_and_headers(server: Receiver) -> None:
    endpoint = Endpoint(f"{server.url}/hook", secret=SECRET)
    [result] = dispatcher(endpoint).emit(
        "parse.error",
        document_id="reports/q1.pdf",
        status="failed",
        error_code="CORRUPT_FILE",
        error_message="not a PDF",
        counts={"pages": 0},
        run_id="run-1",
        extra={"stage": "parse"},
    )
    assert result.ok and result.attempts == 1 and result.status_code == 200
    [request] = server.requests
    assert request.path == "/hook"
    body = json.loads(request.body)
    assert body == {
        "event": "parse.error",
        "document_id": "reports/q1.pdf",
        "status": "failed",
        "error_code": "CORRUPT_FILE",
        "error_message": "not a PDF",
        "counts": {"pages": 0},
        "run_id": "run-1",
        "correlation_id": None,
        "stage": "parse",
        "timestamp": body["timestamp"],
    }
    assert request.body == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    sent = datetime.fromisoformat(body["timestamp"])
    assert sent.utcoffset() == UTC.utcoffset(None) and body["timestamp"].endswith("Z")
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 60
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Docingest-Event"] == "parse.error"
    assert abs(int(headers["X-Docingest-Timestamp"]) - time.time()) < 60
    assert uuid.UUID(headers["X-Docingest-Delivery"]).version == 4
    assert headers["X-Docingest-Delivery"] == result.delivery_id
    assert headers["X-Docingest-Signature"].startswith("sha256=")


def test_signature_verifies_with_the_shared_secret_only(server: Receiver) -> None:
    dispatcher(Endpoint(server.url, secret=SECRET)).emit("ingest.success", status="succeeded")
    [request] = server.requests
    timestamp, signature = (
        request.headers["X-Docingest-Timestamp"],
        request.headers["X-Docingest-Signature"],
    )
    assert signature == "sha256=" + sign(SECRET, timestamp, request.body)
    assert verify(SECRET, timestamp, request.body, signature)
    assert verify(SECRET, timestamp, request.body, signature, tolerance_s=300)
    assert not verify("another-secret", timestamp, request.body, signature)
    assert not verify(SECRET, timestamp, request.body + b" ", signature)
    assert not verify(SECRET, str(int(timestamp) + 1), request.body, signature)
    assert not verify(SECRET, timestamp, request.body, signature, tolerance_s=300, now=1e10)
    assert not verify(SECRET, timestamp, request.body, None)


def test_the_signed_message_is_timestamp_dot_body() -> None:
    # A fixed vector, computed independently with
    # printf '1700000000.{"event":"batch.completed"}' | openssl dgst -sha256 -hmac whsec-test
    # so receivers in other languages can check their implementation against it.
    expected = "c71864d28526be82e9a033fa3d52053856cdfbb47f9bdbe00702c5e8a1b1de6c"
    body = b'{"event":"batch.completed"}'
    assert sign("whsec-test", "1700000000", body) == expected
    assert verify("whsec-test", "1700000000", body, f"sha256={expected}")


def test_unsigned_endpoint_sends_no_signature(server: Receiver) -> None:
    dispatcher(Endpoint(server.url)).emit("batch.completed", status="succeeded")
    assert "X-Docingest-Signature" not in server.requests[0].headers


def test_receiver_failing_twice_gets_it_on_the_third_attempt(server: Receiver) -> None:
    server.script(500, 500)
    sleeps = Sleeps()
    endpoint = Endpoint(server.url, secret=SECRET, backoff_s=0.5)
    [result] = dispatcher(endpoint, sleeps=sleeps).emit("ingest.error", status="failed")
    assert result.ok and result.attempts == 3 and result.status_code == 200
    assert sleeps == [0.5, 1.0]  # exponential: backoff_s * 2**(attempt-1), jitter at ceiling
    deliveries = {request.headers["X-Docingest-Delivery"] for request in server.requests}
    assert len(server.requests) == 3 and deliveries == {result.delivery_id}
    assert len({request.body for request in server.requests}) == 1
    for request in server.requests:  # each attempt is signed afresh, and verifies
        headers = request.headers
        assert verify(
            SECRET, headers["X-Docingest-Timestamp"], request.body, headers["X-Docingest-Signature"]
        )


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_transient_statuses_retry_with_full_jitter(server: Receiver, status: int) -> None:
    server.script(*[status] * 4)
    sleeps = Sleeps()
    endpoint = Endpoint(server.url, max_attempts=4, backoff_s=0.5)
    result = deliver(endpoint, "parse.success", b"{}", sleep=sleeps, rng=random.Random(7))
    assert not result.ok and result.attempts == 4 and result.status_code == status
    assert result.error == f"HTTP {status}"
    assert len(sleeps) == 3
    for delay, ceiling in zip(sleeps, [0.5, 1.0, 2.0], strict=True):
        assert 0 <= delay <= ceiling


@pytest.mark.parametrize("status", [400, 401, 404, 410, 302])
def test_other_4xx_and_redirects_are_not_retried(server: Receiver, status: int) -> None:
    server.script(status)
    sleeps = Sleeps()
    result = deliver(Endpoint(server.url, secret=SECRET), "parse.success", b"{}", sleep=sleeps)
    assert not result.ok and result.attempts == 1 and result.status_code == status
    assert sleeps == [] and len(server.requests) == 1


def test_connection_refused_gives_up_quietly() -> None:
    sleeps = Sleeps()
    endpoint = Endpoint(closed_port_url(), max_attempts=3, backoff_s=0.1)
    result = deliver(endpoint, "ingest.success", b"{}", sleep=sleeps, rng=CeilingRandom())
    assert not result.ok and result.attempts == 3 and result.status_code is None
    assert "refused" in (result.error or "").lower()
    assert sleeps == pytest.approx([0.1, 0.2])


def test_a_slow_receiver_times_out_and_is_retried(server: Receiver) -> None:
    server.delay_s = 0.5
    endpoint = Endpoint(server.url, timeout_s=0.1, max_attempts=2, backoff_s=0)
    result = deliver(endpoint, "ingest.success", b"{}", sleep=Sleeps())
    assert not result.ok and result.attempts == 2 and "timed out" in (result.error or "")


def test_endpoints_receive_only_their_events(server: Receiver) -> None:
    errors_only = Endpoint(f"{server.url}/errors", events=("parse.error", "ingest.error"))
    everything = Endpoint(f"{server.url}/all")
    hooks = dispatcher(errors_only, everything)
    # Naming no events means the outcomes; progress events only when named.
    assert everything.events == OUTCOME_EVENTS
    assert not set(PROGRESS_EVENTS) & set(everything.events)
    assert [r.url for r in hooks.emit("parse.success", status="succeeded")] == [everything.url]
    assert len(hooks.emit("ingest.error", status="failed")) == 2
    received = [(r.path, json.loads(r.body)["event"]) for r in server.requests]
    assert received == [
        ("/all", "parse.success"),
        ("/errors", "ingest.error"),
        ("/all", "ingest.error"),
    ]
    assert dispatcher().emit("batch.completed", status="succeeded") == []


def test_unknown_events_and_bad_urls_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"parse\.done.*known events"):
        Endpoint("http://127.0.0.1/hook", events=("parse.done",))
    with pytest.raises(ConfigError, match="unknown webhook event"):
        dispatcher(Endpoint("http://127.0.0.1/hook")).emit("parse.done", status="x")
    with pytest.raises(ConfigError, match="unknown webhook event"):
        build_body("nope", status="x")
    for url in ("file:///etc/passwd", "127.0.0.1:80/hook", "http:///hook", "http://h:bad/"):
        with pytest.raises(ConfigError, match="http"):
            Endpoint(url)


def test_dead_endpoint_is_skipped_after_repeated_failures(server: Receiver) -> None:
    dead = Endpoint(closed_port_url(), max_attempts=1)
    hooks = dispatcher(dead, Endpoint(server.url))
    for _ in range(3):
        assert [r.ok for r in hooks.emit("ingest.success", status="succeeded")] == [False, True]
    skipped, live = hooks.emit("batch.completed", status="succeeded")
    assert skipped.attempts == 0 and "skipped" in (skipped.error or "") and live.ok


def test_the_secret_never_shows(server: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="docingest.webhooks")
    url_token = "tok3n-in-query"
    endpoints = [
        Endpoint(f"http://user:{url_token}@127.0.0.1:1/hook?token={url_token}", secret=SECRET),
        Endpoint(f"{server.url}/hook?token={url_token}", secret=SECRET),
    ]
    server.script(500, 500, 500, 500)
    hooks = WebhookDispatcher(endpoints, sleep=Sleeps())
    results = hooks.emit("ingest.error", status="failed")
    assert [r.ok for r in results] == [False, False]
    shown: list[object] = [*endpoints, hooks, *results, caplog.text]
    for thing in shown:
        for text in (repr(thing), str(thing)):
            assert SECRET not in text and url_token not in text
    assert "signed=True" in repr(endpoints[0])
    assert all(isinstance(r, DeliveryResult) for r in results)


def test_custom_headers_reach_the_receiver_beside_the_signature(server: Receiver) -> None:
    token = "Bearer hook-t0ken"
    endpoint = Endpoint(
        server.url, secret=SECRET, headers={"Authorization": token, "X-Team": "ops"}
    )
    [result] = dispatcher(endpoint).emit("parse.cancelled", status="cancelled", run_id="r")
    assert result.ok
    [request] = server.requests
    assert request.headers["Authorization"] == token and request.headers["X-Team"] == "ops"
    assert request.headers["X-Docingest-Event"] == "parse.cancelled"
    assert verify(
        SECRET,
        request.headers["X-Docingest-Timestamp"],
        request.body,
        request.headers["X-Docingest-Signature"],
    )
    assert token not in repr(endpoint) and "Authorization" in repr(endpoint)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Docingest-Signature": "sha256=forged"}, "set by docingest"),
        ({"content-type": "text/plain"}, "set by docingest"),
        ({"Bad Name": "x"}, "not a valid HTTP header name"),
        ({"X-Injected": "a\r\nX-Evil: 1"}, "one line"),
    ],
)
def test_headers_that_would_break_the_request_are_config_errors(
    headers: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        Endpoint("http://127.0.0.1/hook", headers=headers)
    assert "forged" not in str(raised.value) and "Evil" not in str(raised.value)


def test_progress_events_go_to_the_endpoints_that_name_them(server: Receiver) -> None:
    progress = Endpoint(f"{server.url}/progress", events=("parse.pending", "parse.running"))
    outcomes = Endpoint(f"{server.url}/outcomes")
    hooks = dispatcher(progress, outcomes)
    for event in ("parse.pending", "parse.running", "parse.partial_success"):
        hooks.emit(event, status="x", document_id="a.pdf", correlation_id="batch-1")
    received = [(r.path, json.loads(r.body)) for r in server.requests]
    assert [(path, body["event"]) for path, body in received] == [
        ("/progress", "parse.pending"),
        ("/progress", "parse.running"),
        ("/outcomes", "parse.partial_success"),
    ]
    assert {body["correlation_id"] for _, body in received} == {"batch-1"}
