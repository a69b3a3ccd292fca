"""The document store on S3 (moto's server on 127.0.0.1): same layout as on disk, Parquet that
pandas reads from the bucket, and writes that no reader or crash ever sees half done."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from upath import UPath

from docingest.chunking.chunker import chunk_document
from docingest.errors import ConfigError
from docingest.locations import check_reachable, location
from docingest.parsing import ParseOptions
from docingest.parsing.runner import parse_in_process
from docingest.storage import DocumentStore
from tests.conftest import corpus_pdf
from tests.object_store import S3Server

DOCUMENT_ID = "reports/01030000000001.pdf"
REPO = Path(__file__).resolve().parents[1]


def _objects(bucket: str, prefix: str) -> list[str]:
    fs = UPath(f"s3://{bucket}").fs
    return sorted(
        name.removeprefix(f"{bucket}/{prefix}/") for name in fs.find(f"{bucket}/{prefix}")
    )


def test_store_on_s3_keeps_the_disk_layout_and_pandas_reads_it(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    parsed = parse_in_process(
        corpus_pdf("01030000000001.pdf"), DOCUMENT_ID, ParseOptions(engine="fast")
    )
    chunks = chunk_document(parsed, "recursive", {"chunk_size": 300})
    on_disk = DocumentStore(tmp_path / "data")
    on_s3 = DocumentStore(location(f"s3://{s3_bucket}/docingest"))
    for store in (on_disk, on_s3):
        store.write_json("sources", DOCUMENT_ID, {"document_id": DOCUMENT_ID, "size": 1})
        store.write_parse_result(parsed)
        store.write_chunks(DOCUMENT_ID, chunks, {"strategy": "recursive"})

    local = sorted(
        p.relative_to(tmp_path / "data").as_posix() for p in (tmp_path / "data").rglob("*")
    )
    assert _objects(s3_bucket, "docingest") == [name for name in local if "." in name]
    # Read back through the store: the same records as from disk.
    assert on_s3.read_parse_result(DOCUMENT_ID).to_dict() == (
        on_disk.read_parse_result(DOCUMENT_ID).to_dict()
    )
    assert on_s3.read_chunks(DOCUMENT_ID) == chunks
    assert on_s3.read_chunk_params(DOCUMENT_ID) == {"strategy": "recursive"}
    assert on_s3.find_parse(parsed.sha256, parsed.options_hash) is not None
    assert [r["document_id"] for r in on_s3.iter_json("sources")] == [DOCUMENT_ID]
    # Without this project: pandas with s3fs, given the endpoint.
    frame = pd.read_parquet(
        str(on_s3.chunks_path(DOCUMENT_ID)),
        storage_options={"endpoint_url": s3_server.endpoint},
    )
    assert frame["text"].tolist() == [c.text for c in chunks]

    removed = on_s3.delete_document(DOCUMENT_ID)
    assert len(removed) == 3
    assert [name for name in _objects(s3_bucket, "docingest") if "parse_index" not in name] == []
    assert on_s3.read_parse_header(DOCUMENT_ID) is None
    assert on_s3.read_json("sources", DOCUMENT_ID) is None


def test_a_missing_bucket_is_a_config_error(s3_bucket: str) -> None:
    check_reachable(location(f"s3://{s3_bucket}/docingest"))  # exists: passes
    with pytest.raises(ConfigError, match="does not exist"):
        check_reachable(location(f"s3://{s3_bucket}-missing/docingest"))


def test_an_unreachable_endpoint_is_a_config_error(s3_bucket: str) -> None:
    root = location(f"s3://{s3_bucket}/docingest", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="cannot reach"):
        check_reachable(root)


# The writer: one large JSON record (a digest inside says whether it is whole), written through
# the store as a run writes its records; the payload's size keeps the PUT in flight long enough
# for the kill to land during it.
_WRITER = """
import hashlib, json, os, sys
from docingest.locations import location
from docingest.storage import DocumentStore

store = DocumentStore(location(sys.argv[1]))
version = int(sys.argv[2])
blob = os.urandom(int(sys.argv[3])).hex()
record = {"version": version, "blob": blob, "sha256": hashlib.sha256(blob.encode()).hexdigest()}
print("writing", flush=True)
store.write_json("state", "big", record)
print("written", flush=True)
"""


def _whole(record: dict) -> bool:
    return hashlib.sha256(record["blob"].encode()).hexdigest() == record["sha256"]


@pytest.mark.slow
def test_a_writer_killed_mid_upload_leaves_the_previous_object_whole(
    s3_server: S3Server, s3_bucket: str
) -> None:
    url = f"s3://{s3_bucket}/docingest"
    env = {**os.environ, **s3_server.env(), "PYTHONPATH": str(REPO)}

    def write(version: int, size: int) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, str(version), str(size)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )

    first = write(1, 1 << 20)
    assert first.communicate(timeout=120)[0].split() == ["writing", "written"]
    store = DocumentStore(location(url))
    seen: list[tuple[int, bool]] = []
    stop = threading.Event()

    def read_all_the_time() -> None:
        while not stop.is_set():
            record = store.read_json("state", "big")  # None would mean the object vanished
            seen.append((record["version"], _whole(record)) if record else (0, False))

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    outcomes: list[int] = []  # per kill: the version the object had after it
    landed = False  # a kill during an upload: the object is still the version before
    try:
        # 40 MB hex (80 MB of JSON): the PUT takes about a second against moto. A kill that
        # lands after the PUT ended (a quiet machine) proves nothing: sooner the next time.
        for version, delay in enumerate((1.0, 0.5, 0.25, 0.1, 0.05), start=2):
            second = write(version, 40 << 20)
            assert second.stdout is not None and second.stdout.readline().strip() == "writing"
            time.sleep(delay)  # into the upload: the request body is being sent
            second.send_signal(signal.SIGKILL)
            assert second.wait(timeout=30) in (-signal.SIGKILL, 0)  # 0: done before the kill
            time.sleep(1.0)  # the server has dropped the cut-off request by now
            record = store.read_json("state", "big")
            assert record is not None and _whole(record), "a killed write left a damaged object"
            outcomes.append(record["version"])
            if record["version"] < version:
                landed = True
                break
    finally:
        stop.set()
        reader.join(timeout=120)
    assert seen, "the reader never read"
    assert all(whole for _, whole in seen), "a reader saw a partial or missing object"
    # A killed PUT that never completed left the version before it, whole.
    assert landed, f"no kill landed during an upload: versions after each {outcomes}"
    # The next run writes it whole.
    third = write(99, 1 << 20)
    assert third.communicate(timeout=120)[0].split() == ["writing", "written"]
    record = store.read_json("state", "big")
    assert record is not None and record["version"] == 99 and _whole(record)


def test_saved_images_go_to_the_bucket(s3_bucket: str) -> None:
    from docingest.parsing import parse_bytes
    from tests.parsing.test_features import _figure_pdf

    options = ParseOptions(
        engine="fast", image_mode="save", image_dir=f"s3://{s3_bucket}/docingest/images"
    )
    result = parse_bytes(
        _figure_pdf(), document_id="reports/a.pdf", source="a", filename="a.pdf", options=options
    )
    (image,) = result.metadata["images"]
    assert image == f"s3://{s3_bucket}/docingest/images/reports%2Fa.pdf/page-1-figure-1.png"
    assert UPath(image).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"]({image})" in result.markdown


def test_a_record_rewritten_while_read_is_read_whole(s3_bucket: str) -> None:
    """A run rewrites a document's state while `status` or the sensor reads it: each read is
    the old record or the new one, never an error because the object changed under it."""
    store = DocumentStore(location(f"s3://{s3_bucket}/docingest"))
    store.write_json("state", "a.pdf", {"version": 0, "pad": "x" * 5000})
    errors: list[BaseException] = []
    versions: list[int] = []
    stop = threading.Event()

    def read_all_the_time() -> None:
        while not stop.is_set():
            try:
                record = store.read_json("state", "a.pdf")
                versions.append(record["version"] if record else -1)
            except Exception as error:  # any failure of a read is the finding
                errors.append(error)

    readers = [threading.Thread(target=read_all_the_time) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for version in range(1, 40):
            store.write_json("state", "a.pdf", {"version": version, "pad": "x" * 5000})
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=60)
    assert errors == []
    assert versions and min(versions) >= 0  # never missing, never an error


def test_refused_credentials_are_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.object_store import start_s3_server

    servers = start_s3_server(tmp_path / "requests.log", check_credentials=True)
    server = next(servers)
    try:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)  # keys this server's IAM does not know
        with pytest.raises(ConfigError, match="access refused"):
            check_reachable(location("s3://any-bucket/docingest", endpoint_url=server.endpoint))
    finally:
        servers.close()
