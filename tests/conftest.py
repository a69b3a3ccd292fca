"""Shared fixtures: an isolated DOCINGEST_HOME and Dagster instance, real PDFs, bad inputs."""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pymupdf
import pytest

from docingest.vectorstore import close_local_clients

if TYPE_CHECKING:
    from tests.object_store import S3Server

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "odl-bench" / "pdfs"
# The layout engine as a test parameter: it runs the layout model, so `make test-fast` leaves
# it out (marker real_model) and `make test` runs it.
LAYOUT = pytest.param("layout", marks=pytest.mark.real_model, id="layout")
# Three corpus documents on distinct topics, and a phrase each answers.
CORPUS_QUERIES = {
    "01030000000001.pdf": "bootstrapping parameter distributions and confidence intervals",
    "01030000000002.pdf": "deviance of a fitted model follows a chi-square distribution",
}


@pytest.fixture(autouse=True)
def _process_state_left_as_found() -> Iterator[None]:
    """What one test's Dagster runs leave in this process does not reach the next test:
    - SIGTERM's disposition: a run executed in this thread points SIGTERM at SIGINT's handler
      as it ends (`dagster._utils.interrupts`); when pytest was started with SIGINT ignored (a
      background shell, a CI runner) SIGTERM stayed ignored, and every process started later
      inherited it (a run in another thread then waited 2 x 30 s for its compute-log `tail`s).
      `pipelines.ingest.run_documents` restores it itself (`sigterm_kept`, used here too);
      tests that call `execute_in_process` directly do not.
    - Dagster's current definitions-state storage (a context variable an instance sets when
      entered): one left behind by a disposed instance failed a later test's
      `build_definitions` with "Attempted to resolve undefined DagsterInstance weakref"."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    from pipelines.ingest import sigterm_kept

    with sigterm_kept(), set_defs_state_storage(None):
        yield


@pytest.fixture
def no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The step's RetryPolicy retries without its backoff sleeps (2, 4, 8 s). A run executed in
    process always retries: `execute_in_process` ignores the executor's `retries` config, so a
    test cannot turn the retries off, only their waits."""
    monkeypatch.setattr(dg.RetryPolicy, "calculate_delay", lambda self, attempt_num: 0)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh DOCINGEST_HOME (and DAGSTER_HOME under it) for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("DOCINGEST_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    for name in (
        "QDRANT_URL", "QDRANT_API_KEY", "DOCINGEST_SOURCE_DIR", "DOCINGEST_DATA_URL",
        "DOCINGEST_COLLECTION",
        "DOCINGEST_WEBHOOK_URL", "DOCINGEST_WEBHOOK_EVENTS", "DOCINGEST_WEBHOOK_SECRET",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    yield home
    close_local_clients()


@pytest.fixture
def instance(home: Path) -> Iterator[dg.DagsterInstance]:
    from pipelines.instance import get_instance

    instance = get_instance()
    yield instance
    instance.dispose()


def corpus_pdf(name: str) -> Path:
    path = CORPUS / name
    if not path.exists():
        pytest.fail(f"the shared corpus is missing {path}")
    return path


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """An upload folder with two real corpus PDFs."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    for name in CORPUS_QUERIES:
        shutil.copyfile(corpus_pdf(name), folder / name)
    return folder


def build_pdf(path: Path, pages: list[str], *, password: str | None = None) -> Path:
    """A PDF whose pages hold the given HTML, rendered by PyMuPDF."""
    doc = pymupdf.open()
    for html in pages:
        page = doc.new_page()
        page.insert_htmlbox(pymupdf.Rect(50, 50, 550, 800), html)
    kwargs = {}
    if password:
        kwargs = {
            "encryption": pymupdf.PDF_ENCRYPT_AES_256,
            "user_pw": password,
            "owner_pw": password + "-owner",
        }
    doc.save(path, **kwargs)
    doc.close()
    return path


SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "documents"
BAD_INPUTS = {
    "truncated.pdf": "CORRUPT_FILE",
    # MuPDF repairs it into 3 pages without a character: it used to "succeed" with 0 chunks.
    "truncated-5000-bytes.pdf": "CORRUPT_FILE",
    "encrypted.pdf": "PASSWORD_PROTECTED_FILE",
    "empty.pdf": "CORRUPT_FILE",
    "text-named.pdf": "FILE_TYPE_NOT_SUPPORTED",
    "image-named.pdf": "FILE_TYPE_NOT_SUPPORTED",
}


def write_bad_inputs(folder: Path) -> dict[str, str]:
    """The broken files of the end-to-end issue, each with the code it must get."""
    real = corpus_pdf("01030000000001.pdf").read_bytes()
    (folder / "truncated.pdf").write_bytes(real[:300])
    (folder / "truncated-5000-bytes.pdf").write_bytes(
        (SAMPLES / "error-codes.pdf").read_bytes()[:5000]
    )
    build_pdf(folder / "encrypted.pdf", ["<p>secret</p>"], password="s3cret")
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "text-named.pdf").write_text("just some text pretending to be a PDF\n" * 20)
    # PNG and the other image types PyMuPDF opens are parsed (through OCR); a GIF is not.
    (folder / "image-named.pdf").write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    return dict(BAD_INPUTS)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator["S3Server"]:
    """moto's S3 server on a free port of 127.0.0.1, one for the session."""
    from tests.object_store import start_s3_server

    yield from start_s3_server(tmp_path_factory.mktemp("s3") / "requests.log")


@pytest.fixture
def s3_bucket(s3_server: "S3Server", monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the test S3 server, with this process's AWS variables pointing at it
    (botocore and s3fs read them, as a deployment's processes do)."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server.create_bucket()
