"""Hostile file names, links and half-written files, through the real sensor and pipeline."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.documents import register_document
from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import file_stem_for, path_for_document_id, sha256_bytes
from docingest.listing import ListingStore
from docingest.models import ParseResult
from docingest.search import search_points
from docingest.state import read_state
from docingest.storage import DocumentStore
from pipelines.definitions import build_definitions
from pipelines.ingest import ingest_folder, run_documents
from pipelines.sensors import load_cursor, upload_folder_sensor
from resources import ParserResource, SourceResource, build_resources
from resources import source as source_module
from tests.hardening import corpus

FAST = ParserResource(engine="fast")
OLD = time.time() - 3600
SECRET = "TOP-SECRET-outside-the-upload-folder"

# Names a data engineer's upload folder really gets: Latin-1 from an old share, the longest
# name the file system takes, deep folders, dots, spaces, unicode, percent signs, a newline.
NAMES = [
    os.fsdecode(b"caf\xe9 latin-1.pdf"),
    "n" * 251 + ".pdf",  # 255 bytes, the ext4 limit
    "/".join(["deep-" + "d" * 40] * 20) + "/bottom.pdf",  # 20 levels, ~880 characters
    "report..final.pdf",
    "a. .b..pdf",
    " leading and trailing spaces .pdf",
    "ünïcödé 文件 📄.pdf",
    "100%25 literal%2Fpercent.pdf",
    "line\nbreak.pdf",
]


def _listing(cursor: str | None, folder: Path) -> dict[str, list[Any]]:
    """The files the tick that returned `cursor` saw."""
    listings = ListingStore(build_resources()["storage"].store.base_dir, folder)
    return load_cursor(cursor, listings)[0]


def _tick(
    instance: dg.DagsterInstance, folder: Path, cursor: str | None, settle_seconds: float = 0
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "source": SourceResource(root=str(folder), settle_seconds=settle_seconds),
            "storage": build_resources()["storage"],
        },
        definitions=build_definitions(),
    )
    result = upload_folder_sensor()(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _write(path: Path, data: bytes, mtime: float = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def _requested(result: dg.SensorResult) -> list[str]:
    """The new partitions the tick asks for."""
    requests = result.dynamic_partitions_requests or []
    return sorted(key for request in requests for key in request.partition_keys or [])


@pytest.mark.slow
def test_hostile_names_are_listed_ingested_and_map_back(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    for number, name in enumerate(NAMES):
        _write(folder / name, corpus.good_pdf([f"Document number {number} with an odd name."]))

    tick = _tick(instance, folder, None)
    ids = _requested(tick)
    assert len(ids) == len(NAMES)
    # Each id is a valid partition key and maps back to exactly its file.
    assert {path_for_document_id(i, folder) for i in ids} == {folder / n for n in NAMES}
    assert {"caf%E9 latin-1.pdf", "report.%2Efinal.pdf", "line%0Abreak.pdf"} <= set(ids)
    assert all("..." not in i and "\n" not in i for i in ids)

    summary = ingest_folder(instance, folder, overrides={"parser": FAST})
    assert (summary.succeeded, summary.failed) == (len(NAMES), 0)
    store = DocumentStore(home)
    for document_id in ids:
        assert read_state(store, document_id).status == "succeeded"
        for path in (store.parsed_path(document_id), store.chunks_path(document_id)):
            assert path.parent.parent == home and len(path.name.encode()) <= 255
    # The documents differ only by their number: an exact-term (BM25) search tells them apart;
    # the embedding barely does, and reads each odd file name as the title. The default hybrid
    # search keeps the decisive BM25 match first (DBSF; reciprocal-rank fusion ranked it 3rd).
    for mode in ("sparse", "hybrid"):
        hit = search_points("Document number 0 with an odd name", top_k=1, mode=mode)[0]
        assert hit["document_id"] == "caf%E9 latin-1.pdf", mode


def test_links_leaving_the_folder_loops_pipes_and_devices_are_never_read(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder, outside = tmp_path / "uploads", tmp_path / "outside"
    _write(folder / "inside.txt", b"An ordinary note inside the upload folder.\n")
    _write(outside / "secret.txt", f"{SECRET}\n".encode())
    (folder / "leak.txt").symlink_to(outside / "secret.txt")
    (folder / "leak-dir").symlink_to(outside, target_is_directory=True)
    (folder / "loop-a.txt").symlink_to(folder / "loop-b.txt")
    (folder / "loop-b.txt").symlink_to(folder / "loop-a.txt")
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)  # a folder loop
    (folder / "zeros.txt").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.txt")

    tick = _tick(instance, folder, None)
    assert _requested(tick) == ["inside.txt"]

    # Registered by hand, or left over from before a link was swapped in: refused for good
    # (not retried), never read.
    codes = {
        "leak.txt": "FILE_OUTSIDE_SOURCE_ROOT",
        "leak-dir/secret.txt": "FILE_OUTSIDE_SOURCE_ROOT",
        "leak-dir": "FILE_OUTSIDE_SOURCE_ROOT",
        "zeros.txt": "FILE_OUTSIDE_SOURCE_ROOT",  # a link to /dev/zero
        "pipe.txt": "FILE_TYPE_NOT_SUPPORTED",
    }
    store = _run_refused(instance, folder, codes)
    assert "links outside the source root" in read_state(store, "leak.txt").error.message
    assert "not a regular file" in read_state(store, "pipe.txt").error.message
    # A link loop names nothing: missing (retryable, as a file may yet appear there).
    with pytest.raises(DocIngestError) as loop:
        register_document("loop-a.txt", SourceResource(root=str(folder)), store)
    assert loop.value.code is ErrorCode.UNABLE_TO_DOWNLOAD_FILE
    assert not any(SECRET.encode() in p.read_bytes() for p in home.rglob("*") if p.is_file())


TRAVERSALS = [
    "..%2Foutside%2Fsecret.txt",
    "../outside/secret.txt",
    "%2E%2E/%2E%2E/outside/secret.txt",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "a%00b.txt",
    "a%2F..%2F..%2Foutside%2Fsecret.txt",
]


def _run_refused(
    instance: dg.DagsterInstance, folder: Path, codes: dict[str, str]
) -> DocumentStore:
    """Run the keys as partitions; each must fail with its code, not retryable, no retry."""
    keys = list(codes)
    instance.add_dynamic_partitions("documents", keys)
    resources = build_resources(
        source=SourceResource(root=str(folder), settle_seconds=0), parser=FAST
    )
    assert run_documents(instance, "ingest_job", keys, resources, {}) == dict.fromkeys(keys, False)
    store = build_resources()["storage"].store
    for key in keys:
        error = read_state(store, key).error
        assert error.code == codes[key] and not error.retryable, (key, error)
    (run,) = instance.get_runs()
    kinds = {e.dagster_event.event_type_value for e in instance.all_logs(run.run_id)
             if e.dagster_event}  # fmt: skip
    assert "STEP_UP_FOR_RETRY" not in kinds
    return store


def test_partition_keys_cannot_traverse(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder, outside = tmp_path / "uploads", tmp_path / "outside"
    folder.mkdir()
    _write(outside / "secret.txt", f"{SECRET}\n".encode())
    store = _run_refused(instance, folder, dict.fromkeys(TRAVERSALS, "FILE_OUTSIDE_SOURCE_ROOT"))
    assert "outside the source root" in read_state(store, "../outside/secret.txt").error.message
    # As `docingest status` reports them, from its own process.
    cli = [sys.executable, "-m", "pipelines.cli", "status", "--failed", "--json"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    listed = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120, check=True)
    rows = {row["document_id"]: row for row in json.loads(listed.stdout)}
    assert sorted(rows) == sorted(TRAVERSALS)
    assert {(row["code"], row["retryable"]) for row in rows.values()} == {
        ("FILE_OUTSIDE_SOURCE_ROOT", False)
    }
    # Outputs stay flat under DOCINGEST_HOME: one state file per key, named by the escaped id.
    written = [p for p in home.rglob("*") if p.is_file() and "dagster" not in p.parts]
    assert sorted(p.name for p in written) == sorted(f"{file_stem_for(k)}.json" for k in TRAVERSALS)
    assert all(p.parent == home / "state" for p in written)
    assert not any(SECRET.encode() in p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_files_still_being_written_are_left_for_a_later_tick(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "uploads"
    # One PDF's bytes throughout: each build gets a random /ID, whose escaping varies its length.
    pdf = corpus.good_pdf()
    _write(folder / "done.pdf", pdf)
    growing = _write(folder / "growing.pdf", pdf[:500], mtime=time.time())

    first = _tick(instance, folder, None, settle_seconds=60)
    assert _requested(first) == ["done.pdf"]
    assert "growing.pdf" not in _listing(first.cursor, folder)

    # Its mtime now says settled, but it is written to while the sensor hashes it.
    _write(growing, pdf[:900])
    real_hash = source_module.sha256_file

    def hash_while_writing(path: Path) -> str:
        digest = real_hash(path)
        if path.name == "growing.pdf" and path.stat().st_size < 1000:
            with path.open("ab") as handle:
                handle.write(pdf[900:])
        return digest

    monkeypatch.setattr(source_module, "sha256_file", hash_while_writing)
    instance.add_dynamic_partitions("documents", ["done.pdf"])
    second = _tick(instance, folder, first.cursor, settle_seconds=60)
    assert not second.run_requests
    assert "1 still being written" in str(second.skip_reason)

    os.utime(growing, (OLD, OLD))
    third = _tick(instance, folder, second.cursor, settle_seconds=60)
    assert _requested(third) == ["growing.pdf"]
    assert _listing(third.cursor, folder)["growing.pdf"][0] == len(pdf)


def test_a_file_that_vanishes_or_cannot_be_read_does_not_fail_the_tick(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "uploads"
    _write(folder / "a.pdf", corpus.good_pdf())
    _write(folder / "locked.pdf", corpus.good_pdf())
    real_hash = source_module.sha256_file

    def hash_or_refuse(path: Path) -> str:
        if path.name == "locked.pdf":
            raise PermissionError(13, "Permission denied")
        return real_hash(path)

    monkeypatch.setattr(source_module, "sha256_file", hash_or_refuse)
    tick = _tick(instance, folder, None)
    assert _requested(tick) == ["a.pdf"]


@pytest.mark.slow
@pytest.mark.usefixtures("no_retry_waits")  # the failure is retryable: the step retries it
def test_a_file_rewritten_between_registration_and_parsing_is_not_indexed_half_way(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    path = _write(folder / "report.pdf", corpus.good_pdf(["The first version of the report."]))
    final = corpus.good_pdf(["The final version, about solar panels on the depot roof."])

    class RewrittenWhileParsing(ParserResource):
        def parse(
            self, path: Path, document_id: str, overrides: dict[str, Any] | None = None
        ) -> ParseResult:
            if path.read_bytes() != final:
                path.write_bytes(final)  # the uploader finishes writing just now
            return super().parse(path, document_id, overrides)

    instance.add_dynamic_partitions("documents", ["report.pdf"])
    resources = build_resources(
        source=SourceResource(root=str(folder), settle_seconds=0),
        # The step's own parse: a parse made ahead is used only if it read what registration
        # hashed (tests/assets/test_parse_ahead.py); one made before registration reads the
        # new content, which registration then hashes too.
        parser=RewrittenWhileParsing(engine="fast", parse_ahead=0),
    )
    assert run_documents(instance, "ingest_job", ["report.pdf"], resources, {}) == {
        "report.pdf": False
    }
    store = DocumentStore(home)
    error = read_state(store, "report.pdf").error
    assert error.code == "UNABLE_TO_DOWNLOAD_FILE" and error.retryable
    assert not store.parsed_path("report.pdf").exists()  # nothing of either version kept

    # The next run (the sensor sees a new size and mtime) registers and indexes it whole.
    assert run_documents(instance, "ingest_job", ["report.pdf"], resources, {}) == {
        "report.pdf": True
    }
    assert read_state(store, "report.pdf").sha256 == sha256_bytes(final)
    hit = search_points("solar panels on the depot roof", top_k=1)[0]
    assert "final version" in hit["text"] and path.read_bytes() == final
