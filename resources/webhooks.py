"""Webhooks: the endpoints notified of document and batch events, as resource config."""

import json
import os

import dagster as dg
from pydantic import Field, field_validator

from docingest.errors import ConfigError
from docingest.webhooks import (
    OUTCOME_EVENTS,
    PROGRESS_EVENTS,
    Endpoint,
    WebhookDispatcher,
    validate_events,
)

URL_ENV = "DOCINGEST_WEBHOOK_URL"
EVENTS_ENV = "DOCINGEST_WEBHOOK_EVENTS"
SECRET_ENV = "DOCINGEST_WEBHOOK_SECRET"
HEADERS_ENV = "DOCINGEST_WEBHOOK_HEADERS"


def split_headers(spec: dict[str, object]) -> tuple[dict[str, str], dict[str, str]]:
    """`{"X-Team": "ops", "Authorization": {"env": "HOOK_TOKEN"}}` (the `webhook_headers` of
    DOCINGEST_WEBHOOK_HEADERS) -> (literal headers, header -> environment variable)."""
    literal: dict[str, str] = {}
    from_env: dict[str, str] = {}
    for name, value in spec.items():
        if isinstance(value, str):
            literal[name] = value
        elif isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
            from_env[name] = value["env"]
        else:
            raise ConfigError(f'webhook header {name!r}: a string or {{"env": "VARIABLE"}}')
    return literal, from_env


class WebhookEndpointConfig(dg.Config):
    """One receiver of webhook POSTs."""

    url: str = Field(description="http(s) URL that receives the JSON POSTs.")
    events: list[str] = Field(
        default_factory=list,
        description=(
            f"Events to send, empty = the outcomes ({', '.join(OUTCOME_EVENTS)}); "
            f"progress events only when named: {', '.join(PROGRESS_EVENTS)}."
        ),
    )
    # repr=False: the secret stays out of reprs and logs; bind it with dg.EnvVar, never a
    # literal, so the Dagster UI shows the variable's name, not its value.
    secret: str | None = Field(
        default=None,
        repr=False,
        description=(
            f'Shared HMAC-SHA256 signing secret; bind with dg.EnvVar("{SECRET_ENV}"). '
            "Unset = requests are not signed."
        ),
    )
    timeout_s: float = Field(default=5.0, gt=0, description="Seconds per attempt.")
    max_attempts: int = Field(default=4, ge=1, description="Attempts per delivery, retries incl.")
    backoff_s: float = Field(
        default=0.5, ge=0, description="Base of the exponential backoff between attempts."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra HTTP headers sent as they are (shown in the UI: no secrets here).",
    )
    header_env: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Extra HTTP headers whose value is read from an environment variable when a run "
            'starts, header -> variable, e.g. {"Authorization": "HOOK_TOKEN"}: the UI and the '
            "logs show the variable's name, never its value."
        ),
    )

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        return list(validate_events(events))

    def endpoint(self) -> Endpoint:
        """The endpoint, its `header_env` values read now; ConfigError for an unset variable."""
        missing = sorted(v for v in self.header_env.values() if os.environ.get(v) is None)
        if missing:
            raise ConfigError(f"webhook header variable(s) not set: {', '.join(missing)}")
        from_env = {name: os.environ[variable] for name, variable in self.header_env.items()}
        return Endpoint(
            url=self.url,
            events=tuple(self.events) or OUTCOME_EVENTS,
            secret=self.secret or None,
            timeout_s=self.timeout_s,
            max_attempts=self.max_attempts,
            backoff_s=self.backoff_s,
            headers={**self.headers, **from_env},
        )


class WebhookResource(dg.ConfigurableResource):
    """Notifies the configured endpoints of `parse.*`, `ingest.*` and `batch.completed` events:
    signed JSON with the endpoint's own headers, retried with backoff, never failing the
    ingestion. No endpoints = no-op."""

    endpoints: list[WebhookEndpointConfig] = Field(
        default_factory=list, description="Receivers; empty disables webhooks."
    )

    @classmethod
    def from_env(cls) -> "WebhookResource":
        """At binding time: one endpoint when DOCINGEST_WEBHOOK_URL is set (events from
        DOCINGEST_WEBHOOK_EVENTS, a comma list; signed when DOCINGEST_WEBHOOK_SECRET is set;
        headers from DOCINGEST_WEBHOOK_HEADERS, a JSON object of name -> value or
        {"env": "VARIABLE"}), none otherwise. URL and secret are bound as dg.EnvVar so their
        values stay out of the UI; header variables are read when a run starts.
        """
        if not os.environ.get(URL_ENV):
            return cls(endpoints=[])
        events = [e.strip() for e in os.environ.get(EVENTS_ENV, "").split(",") if e.strip()]
        secret = dg.EnvVar(SECRET_ENV) if os.environ.get(SECRET_ENV) else None
        try:
            spec = json.loads(os.environ.get(HEADERS_ENV) or "{}")
        except json.JSONDecodeError as error:
            raise ConfigError(f"{HEADERS_ENV} is not JSON: {error.msg}") from error
        if not isinstance(spec, dict):
            raise ConfigError(f"{HEADERS_ENV} must be a JSON object of header -> value")
        headers, header_env = split_headers(spec)
        endpoint = WebhookEndpointConfig(
            url=dg.EnvVar(URL_ENV),
            events=events,
            secret=secret,
            headers=headers,
            header_env=header_env,
        )
        return cls(endpoints=[endpoint])

    def dispatcher(self) -> WebhookDispatcher:
        """A dispatcher for this step: create one per run step, as it remembers dead endpoints."""
        return WebhookDispatcher(endpoint.endpoint() for endpoint in self.endpoints)
