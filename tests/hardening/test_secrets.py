"""Secrets (Qdrant API key, PDF password, webhook secret) are used, and never shown.

A run uses all three for real (the key reaches Qdrant, the password opens a PDF, the secret
signs the webhooks), fails in the ways that write the most text (a wrong password, a Qdrant
that refuses the key, a traceback), and then every byte the run left behind is searched: the
whole DOCINGEST_HOME (Dagster's SQLite event log and run storage, Parquet, state), every event
and run record through the instance API, Python logging, stdout/stderr, the webhook requests,
the repository snapshot the UI shows, and the resources' reprs.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from assets.pipeline import document_pipeline
from docingest.state import read_state
from docingest.storage import DocumentStore
from docingest.webhooks import verify
from pipelines.batching import RANGE_END, RANGE_START
from pipelines.definitions import build_definitions
from pipelines.jobs import ingest_job
from resources import (
    ParserResource,
    QdrantResource,
    SourceResource,
    WebhookEndpointConfig,
    build_resources,
)
from tests.hardening import corpus
from tests.webhook_server import receiver

QDRANT_KEY = "qdrant-api-key-3f9d2c71"
WEBHOOK_SECRET = "webhook-secret-a81c44e0"
PDF_PASSWORD = corpus.PASSWORD
SECRETS = (QDRANT_KEY, WEBHOOK_SECRET, PDF_PASSWORD)


@contextmanager
def refusing_qdrant() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP server that answers every request 401, as Qdrant does for a bad API key."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = b'{"status": {"error": "Unauthorized: invalid api-key"}, "time": 0.0}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _refuse

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return [secret for secret in SECRETS if secret.encode() in data]


def test_resource_reprs_hide_secrets() -> None:
    shown = [
        repr(ParserResource(password=PDF_PASSWORD)),
        repr(QdrantResource(url="http://qdrant:6333", api_key=QDRANT_KEY)),
        repr(WebhookEndpointConfig(url="http://hook", secret=WEBHOOK_SECRET)),
        repr(ParserResource(password=PDF_PASSWORD).options()),
    ]
    assert not _leaks("\n".join(shown)), shown


@pytest.mark.slow
@pytest.mark.usefixtures("no_retry_waits")  # Qdrant's refusal is retryable: the step retries it
def test_secrets_never_appear_in_logs_metadata_ui_or_errors(
    home: Path,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "locked.pdf").write_bytes(corpus.encrypted(PDF_PASSWORD))
    (folder / "other-password.pdf").write_bytes(corpus.encrypted("another-password"))
    (folder / "plain.pdf").write_bytes(corpus.good_pdf())
    documents = ["locked.pdf", "other-password.pdf", "plain.pdf"]
    caplog.set_level("DEBUG")

    with refusing_qdrant() as (qdrant_url, qdrant_requests), receiver() as hooks:
        monkeypatch.setenv("QDRANT_URL", qdrant_url)
        monkeypatch.setenv("QDRANT_API_KEY", QDRANT_KEY)
        monkeypatch.setenv("DOCINGEST_WEBHOOK_URL", hooks.url)
        monkeypatch.setenv("DOCINGEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
        monkeypatch.setenv("DOCINGEST_PDF_PASSWORD", PDF_PASSWORD)
        monkeypatch.setenv("DOCINGEST_PARSE_ENGINE", "fast")
        resources = build_resources(source=SourceResource(root=str(folder), settle_seconds=0))
        instance.add_dynamic_partitions("documents", documents)
        result = (
            build_definitions()
            .resolve_job_def(ingest_job.name)
            .execute_in_process(
                instance=instance,
                resources=resources,
                tags={RANGE_START: documents[0], RANGE_END: documents[-1]},
                raise_on_error=False,
            )
        )
        snapshot = RepositorySnap.from_def(
            dg.Definitions(
                assets=[document_pipeline], resources=build_resources()
            ).get_repository_def()
        )

    # The secrets were used: the password opened the PDF, the key reached Qdrant, the webhook
    # secret signed the notifications.
    assert not result.success
    store = DocumentStore(home)
    assert read_state(store, "locked.pdf").stage == "index"  # parsed, then Qdrant refused
    wrong = read_state(store, "other-password.pdf").error
    assert wrong is not None and wrong.code == "PASSWORD_PROTECTED_FILE"
    assert qdrant_requests and all(r.get("api-key") == QDRANT_KEY for r in qdrant_requests)
    assert hooks.requests
    for request in hooks.requests:
        signature = request.headers["X-Docingest-Signature"]
        timestamp = request.headers["X-Docingest-Timestamp"]
        assert verify(WEBHOOK_SECRET, timestamp, request.body, signature)
        assert not _leaks(request.body) and not _leaks(repr(request.headers))

    # ... and shown nowhere.
    leaks: dict[str, list[str]] = {}
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        if found := _leaks(path.read_bytes()):
            leaks[str(path.relative_to(home))] = found
    for run in instance.get_runs():
        if found := _leaks(serialize_value(run)):
            leaks[f"run {run.run_id}"] = found
        for entry in instance.all_logs(run.run_id):
            if found := _leaks(serialize_value(entry)):
                leaks[f"event {entry.dagster_event_type or entry.user_message[:40]}"] = found
    captured = capfd.readouterr()
    for name, text in {
        "python logging": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        "repository snapshot (UI)": serialize_value(snapshot),
    }.items():
        if found := _leaks(text):
            leaks[name] = found
    assert not leaks
    # The UI shows which variables hold the secrets.
    assert "QDRANT_API_KEY" in serialize_value(snapshot)
    assert "DOCINGEST_PDF_PASSWORD" in serialize_value(snapshot)
