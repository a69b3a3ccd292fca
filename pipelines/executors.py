"""How a run's steps execute: in the run's own process (default), in subprocesses, or on celery.

Chosen by `DOCINGEST_EXECUTOR` when the definitions are built, so moving from one machine to
many is configuration only: the same jobs, assets and resources run everywhere.

- `in_process` (default): steps run one after another in the run's process. Qdrant local mode
  admits a single process per store, and per-step subprocesses cost seconds each.
- `multiprocess`: each step in its own subprocess on this machine.
- `celery`: each step is a task on a celery broker (`DOCINGEST_CELERY_BROKER`, default the
  local RabbitMQ; `redis://...` works too), picked up by `dagster-celery worker start` workers
  listening on `DOCINGEST_CELERY_QUEUE` (default `dagster`). Results come back through
  `DOCINGEST_CELERY_BACKEND` (default `rpc://`). Workers need the same code, the same Dagster
  instance (PostgreSQL across machines) and the same stores (a Qdrant server across machines).
"""

import importlib
import os
from typing import Any

import dagster as dg

EXECUTOR_ENV = "DOCINGEST_EXECUTOR"
BROKER_ENV = "DOCINGEST_CELERY_BROKER"
BACKEND_ENV = "DOCINGEST_CELERY_BACKEND"
QUEUE_ENV = "DOCINGEST_CELERY_QUEUE"

DEFAULT_BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
DEFAULT_BACKEND = "rpc://"
DEFAULT_QUEUE = "dagster"
# Imported by every worker at start (before its pool forks), so the first task does not pay
# for importing the project's modules, and a worker that cannot import them fails at once. The
# code location itself is built when a task reconstructs its job (`defs` is a function).
WORKER_INCLUDES = ["pipelines.definitions"]

EXECUTORS = ("in_process", "multiprocess", "celery")


class ExecutorConfigError(ValueError):
    """`DOCINGEST_EXECUTOR` names an unknown executor, or one whose package is missing."""


def celery_executor_config() -> dict[str, Any]:
    """The celery executor's config from the environment; also what a worker's `-y` file holds
    under `execution: config:` (the broker, backend and queue must match the workers')."""
    return {
        "broker": os.environ.get(BROKER_ENV) or DEFAULT_BROKER,
        "backend": os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND,
        "include": list(WORKER_INCLUDES),
        # Steps without a `dagster-celery/queue` tag go to this queue.
        "config_source": {"task_default_queue": os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE},
    }


def _celery_executor() -> dg.ExecutorDefinition:
    try:
        # Optional extra (`pip install 'docingest[celery]'`): imported only when selected.
        module = importlib.import_module("dagster_celery")
    except ImportError as error:
        raise ExecutorConfigError(
            f"{EXECUTOR_ENV}=celery needs dagster-celery: pip install 'docingest[celery]'"
        ) from error
    executor: dg.ExecutorDefinition = module.celery_executor.configured(celery_executor_config())
    return executor


def build_executor() -> dg.ExecutorDefinition:
    """The executor named by `DOCINGEST_EXECUTOR` (in_process, multiprocess or celery)."""
    name = (os.environ.get(EXECUTOR_ENV) or "in_process").strip().lower()
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "celery":
        return _celery_executor()
    raise ExecutorConfigError(f"{EXECUTOR_ENV}={name!r} is not one of {', '.join(EXECUTORS)}")
