"""The one Definitions object: assets with their checks, jobs, sensor, schedule, resources."""

import warnings

import dagster as dg

from assets.pipeline import document_pipeline, with_code_versions
from pipelines.executors import build_executor
from pipelines.jobs import classify_job, delete_documents_job, ingest_job, rechunk_job
from pipelines.schedules import reconcile_schedule
from pipelines.sensors import upload_folder_sensor
from resources import build_resources

resources = build_resources()

defs = dg.Definitions(
    assets=[
        with_code_versions(
            document_pipeline,
            resources["parser"],
            resources["chunker"],
            resources["embedder"],
            resources["classifier"],
        )
    ],
    jobs=[ingest_job, rechunk_job, classify_job, delete_documents_job],
    sensors=[upload_folder_sensor],
    schedules=[reconcile_schedule],
    resources=resources,
    # By default steps of one run execute in its own process, one after another: Qdrant local
    # mode admits a single process per store, and per-step subprocesses cost seconds each.
    # DOCINGEST_EXECUTOR=multiprocess or celery (with a Qdrant server) scales out instead.
    executor=build_executor(),
)

with warnings.catch_warnings():
    # Binding resources to delete_documents_job re-creates upload_folder_sensor with `owners=[]`
    # (Dagster 1.13, SensorDefinition.with_attributes), which warns that `owners`, a parameter
    # this project never sets, is beta. Resolve once here, where the warning can be filtered;
    # the code server, the daemon and the CLI reuse the cached repository.
    warnings.filterwarnings("ignore", message="Parameter `owners`", category=dg.BetaWarning)
    defs.get_repository_def()
