"""Credentials and endpoint for an S3-compatible object store, shared by source and storage."""

import os
from typing import Any

import dagster as dg
from pydantic import BaseModel, Field

from docingest.locations import Location, location

ENDPOINT_ENV = "AWS_ENDPOINT_URL"
ACCESS_KEY_ENV = "AWS_ACCESS_KEY_ID"
SECRET_KEY_ENV = "AWS_SECRET_ACCESS_KEY"


class ObjectStoreFields(BaseModel):
    """Where an `s3://` location is served and who reads it. Unset fields fall back to what
    botocore reads itself (the AWS environment variables, ~/.aws), so a worker configured by
    its environment needs no run config."""

    endpoint_url: str | None = Field(
        default=None,
        description="S3-compatible endpoint (MinIO, Ceph, a test server); unset means AWS.",
    )
    access_key_id: str | None = Field(default=None, description="S3 access key id.")
    secret_access_key: str | None = Field(default=None, description="S3 secret access key.")

    def storage_options(self) -> dict[str, Any]:
        options = {
            "endpoint_url": self.endpoint_url,
            "key": self.access_key_id,
            "secret": self.secret_access_key,
        }
        # Outside a run (the CLI reading the store) a field bound with dg.EnvVar still holds
        # the variable's name: resolve it here as a run would.
        return {
            name: value.get_value() if isinstance(value, dg.EnvVar) else value
            for name, value in options.items()
            if value
        }

    def location(self, value: str) -> Location:
        """`value` as a local Path or, for a URL, a UPath with these credentials."""
        return location(value, **self.storage_options())


def object_store_env() -> dict[str, Any]:
    """The fields bound to the AWS variables that are set, as dg.EnvVar: the UI and run config
    show the names, and each process (a celery worker) resolves them in its own environment."""
    names = {
        "endpoint_url": ENDPOINT_ENV,
        "access_key_id": ACCESS_KEY_ENV,
        "secret_access_key": SECRET_KEY_ENV,
    }
    return {field: dg.EnvVar(env) for field, env in names.items() if os.environ.get(env)}
