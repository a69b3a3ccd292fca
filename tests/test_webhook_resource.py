"""WebhookResource: validated config, EnvVar-bound secrets, and binding from the environment."""

import json
from collections.abc import Iterator

import dagster as dg
import pytest
from pydantic import ValidationError

from docingest.errors import ConfigError
from docingest.webhooks import OUTCOME_EVENTS, verify
from resources import WebhookEndpointConfig, WebhookResource, build_resources
from tests.webhook_server import Receiver, receiver

SECRET = "env-secret-value"


@pytest.fixture
def server() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


@pytest.fixture
def no_webhook_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "DOCINGEST_WEBHOOK_URL",
        "DOCINGEST_WEBHOOK_EVENTS",
        "DOCINGEST_WEBHOOK_SECRET",
        "DOCINGEST_WEBHOOK_HEADERS",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_unknown_event_names_are_rejected_with_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"parse\.done.*known events.*batch\.completed"):
        WebhookEndpointConfig(url="http://127.0.0.1/hook", events=["parse.done"])


def test_the_resource_builds_a_dispatcher() -> None:
    resource = WebhookResource(
        endpoints=[
            WebhookEndpointConfig(url="http://127.0.0.1/a"),
            WebhookEndpointConfig(
                url="http://127.0.0.1/b", events=["ingest.error"], secret=SECRET, max_attempts=2
            ),
        ]
    )
    first, second = resource.dispatcher().endpoints
    assert first.events == OUTCOME_EVENTS and first.secret is None
    assert second.events == ("ingest.error",) and second.secret == SECRET
    assert second.max_attempts == 2
    assert SECRET not in repr(resource.endpoints[1]) and SECRET not in repr(second)


def test_without_a_url_webhooks_are_a_no_op(no_webhook_env: pytest.MonkeyPatch) -> None:
    resource = build_resources()["webhooks"]
    assert isinstance(resource, WebhookResource) and resource.endpoints == []
    assert resource.dispatcher().emit("batch.completed", status="succeeded") == []


def test_build_resources_binds_an_endpoint_from_the_environment(
    no_webhook_env: pytest.MonkeyPatch,
) -> None:
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_EVENTS", "ingest.error, batch.completed")
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_SECRET", SECRET)
    resource = build_resources()["webhooks"]
    # Bound as EnvVar: the config (what the UI shows) names the variables, not their values.
    [config] = resource.endpoints
    assert isinstance(config.secret, dg.EnvVar) and config.secret == "DOCINGEST_WEBHOOK_SECRET"
    assert isinstance(config.url, dg.EnvVar) and SECRET not in repr(resource)
    [endpoint] = resource.process_config_and_initialize().dispatcher().endpoints
    assert endpoint.url == "http://127.0.0.1:9/hook"
    assert endpoint.events == ("ingest.error", "batch.completed")
    assert endpoint.secret == SECRET and SECRET not in repr(endpoint)


def test_unknown_event_in_the_environment_fails_at_binding(
    no_webhook_env: pytest.MonkeyPatch,
) -> None:
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_EVENTS", "parse.sucess")
    with pytest.raises(ValidationError, match=r"parse\.sucess"):
        build_resources()


def test_a_run_delivers_signed_events_with_the_env_secret(
    server: Receiver, no_webhook_env: pytest.MonkeyPatch
) -> None:
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_URL", f"{server.url}/hook")
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_SECRET", SECRET)

    @dg.asset
    def notified(webhooks: WebhookResource) -> None:
        [result] = webhooks.dispatcher().emit("batch.completed", status="succeeded", run_id="r")
        assert result.ok

    result = dg.materialize([notified], resources={"webhooks": WebhookResource.from_env()})
    assert result.success
    assert not [event for event in result.all_events if SECRET in str(event)]
    [request] = server.requests
    headers = request.headers
    assert json.loads(request.body)["event"] == "batch.completed"
    assert verify(
        SECRET, headers["X-Docingest-Timestamp"], request.body, headers["X-Docingest-Signature"]
    )


HOOK_TOKEN = "Bearer t0ken-from-env"


def test_a_run_sends_headers_from_the_environment_without_showing_them(
    server: Receiver, no_webhook_env: pytest.MonkeyPatch
) -> None:
    """`webhook_headers` from DOCINGEST_WEBHOOK_HEADERS: a literal header and one read from
    another variable when the run starts; the UI's config names the variable only."""
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_URL", f"{server.url}/hook")
    no_webhook_env.setenv(
        "DOCINGEST_WEBHOOK_HEADERS",
        json.dumps({"X-Team": "ops", "Authorization": {"env": "HOOK_TOKEN"}}),
    )
    no_webhook_env.setenv("HOOK_TOKEN", HOOK_TOKEN)
    resource = build_resources()["webhooks"]
    [config] = resource.endpoints
    assert config.header_env == {"Authorization": "HOOK_TOKEN"}
    assert config.headers == {"X-Team": "ops"}

    @dg.asset
    def notified(webhooks: WebhookResource) -> None:
        [result] = webhooks.dispatcher().emit("batch.completed", status="succeeded", run_id="r")
        assert result.ok

    result = dg.materialize([notified], resources={"webhooks": resource})
    assert result.success
    assert not [event for event in result.all_events if HOOK_TOKEN in str(event)]
    [request] = server.requests
    assert request.headers["Authorization"] == HOOK_TOKEN
    assert request.headers["X-Team"] == "ops"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("not json", "not JSON"),
        ('["Authorization"]', "JSON object"),
        ('{"Authorization": {"env": 1}}', "VARIABLE"),
        ('{"Authorization": {"value": "x"}}', "VARIABLE"),
    ],
)
def test_malformed_header_specs_fail_at_binding(
    no_webhook_env: pytest.MonkeyPatch, spec: str, message: str
) -> None:
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    no_webhook_env.setenv("DOCINGEST_WEBHOOK_HEADERS", spec)
    with pytest.raises(ConfigError, match=message):
        WebhookResource.from_env()


def test_an_unset_header_variable_is_named_when_the_dispatcher_is_built(
    no_webhook_env: pytest.MonkeyPatch,
) -> None:
    no_webhook_env.delenv("HOOK_TOKEN", raising=False)
    config = WebhookEndpointConfig(
        url="http://127.0.0.1/hook", header_env={"Authorization": "HOOK_TOKEN"}
    )
    with pytest.raises(ConfigError, match="HOOK_TOKEN"):
        WebhookResource(endpoints=[config]).dispatcher()
