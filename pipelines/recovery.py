"""Pool slots that no live run holds are given back before the CLI starts runs.

`docingest ingest` runs in its own process, with no daemon watching it, and its runs claim the
one slot of the `qdrant_writer` pool. Two faults leave that slot claimed, and every later run
waits for it forever:

- the process is killed mid-run (SIGKILL, out of memory, a reboot): its run stays STARTED.
  Each CLI run is tagged with the process that runs it; the runs of dead processes on this host
  are marked failed and their slots freed.
- the run ends while the instance's database is unreachable (PostgreSQL restarted): the run is
  marked failed but the slot's release is lost. Slots held by finished runs are freed, as the
  monitoring daemon does (`free_slots_after_run_end_seconds` in dagster.yaml).

Unfinished runs launched by the daemon are left to the run monitoring daemon.
"""

import os
import socket
from pathlib import Path

import dagster as dg

OPERATION_TAG = "docingest/operation"
PROCESS_TAG = "docingest/process"
_FINISHED = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
]
_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tag() -> str:
    """host:pid:start time (clock ticks since boot; with the pid it names one process, even
    after the pid is reused)."""
    fields = _stat(os.getpid())
    return f"{socket.gethostname()}:{os.getpid()}:{fields[19] if fields else ''}"


def is_alive(tag: str) -> bool:
    """False only when the tagged process is certainly gone (it ran on this host)."""
    host, pid_text, start = [*tag.rsplit(":", 2), "", ""][:3]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's process: not ours to judge
    pid = int(pid_text)
    fields = _stat(pid)
    if fields is not None:  # a zombie is dead; a new start time means the pid was reused
        return fields[0] != "Z" and (not start or fields[19] == start)
    try:  # no /proc entry: gone on Linux; elsewhere ask the kernel
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the unfinished CLI runs whose process is gone, free their pool slots; their ids."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=_UNFINISHED, tags={OPERATION_TAG: "cli"})
    )
    failed = []
    for record in records:
        run = record.dagster_run
        tag = run.tags.get(PROCESS_TAG)
        if not tag or is_alive(tag):
            continue
        instance.report_run_failed(
            run, f"the process that ran this run ({tag}) died without finishing it"
        )
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


def free_slots_of_finished_runs(instance: dg.DagsterInstance) -> list[str]:
    """Free the pool slots still claimed by runs that have finished; their ids."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = storage.get_concurrency_run_ids()
    if not holders:
        return []
    records = instance.get_run_records(
        filters=dg.RunsFilter(run_ids=sorted(holders), statuses=_FINISHED)
    )
    for record in records:
        storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
    return [record.dagster_run.run_id for record in records]


def release_stale_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the CLI runs of dead processes and free every slot no live run holds."""
    return fail_dead_runs(instance) + free_slots_of_finished_runs(instance)
