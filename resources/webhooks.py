"""Webhooks: the endpoints notified of document and batch events, as resource config."""

import os

import dagster as dg
from pydantic import Field, field_validator

from docingest.webhooks import EVENTS, Endpoint, WebhookDispatcher, validate_events

URL_ENV = "DOCINGEST_WEBHOOK_URL"
EVENTS_ENV = "DOCINGEST_WEBHOOK_EVENTS"
SECRET_ENV = "DOCINGEST_WEBHOOK_SECRET"


class WebhookEndpointConfig(dg.Config):
    """One receiver of webhook POSTs."""

    url: str = Field(description="http(s) URL that receives the JSON POSTs.")
    events: list[str] = Field(
        default_factory=list,
        description=f"Events to send, empty = all: {', '.join(EVENTS)}.",
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

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        return list(validate_events(events))

    def endpoint(self) -> Endpoint:
        return Endpoint(
            url=self.url,
            events=tuple(self.events) or EVENTS,
            secret=self.secret or None,
            timeout_s=self.timeout_s,
            max_attempts=self.max_attempts,
            backoff_s=self.backoff_s,
        )


class WebhookResource(dg.ConfigurableResource):
    """Notifies the configured endpoints of `parse.*`, `ingest.*` and `batch.completed` events:
    signed JSON, retried with backoff, never failing the ingestion. No endpoints = no-op."""

    endpoints: list[WebhookEndpointConfig] = Field(
        default_factory=list, description="Receivers; empty disables webhooks."
    )

    @classmethod
    def from_env(cls) -> "WebhookResource":
        """At binding time: one endpoint when DOCINGEST_WEBHOOK_URL is set (events from
        DOCINGEST_WEBHOOK_EVENTS, a comma list; signed when DOCINGEST_WEBHOOK_SECRET is set),
        none otherwise. URL and secret are bound as dg.EnvVar so their values stay out of the UI.
        """
        if not os.environ.get(URL_ENV):
            return cls(endpoints=[])
        events = [e.strip() for e in os.environ.get(EVENTS_ENV, "").split(",") if e.strip()]
        secret = dg.EnvVar(SECRET_ENV) if os.environ.get(SECRET_ENV) else None
        return cls(
            endpoints=[WebhookEndpointConfig(url=dg.EnvVar(URL_ENV), events=events, secret=secret)]
        )

    def dispatcher(self) -> WebhookDispatcher:
        """A dispatcher for this step: create one per run step, as it remembers dead endpoints."""
        return WebhookDispatcher(endpoint.endpoint() for endpoint in self.endpoints)
