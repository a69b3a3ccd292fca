"""The UI as a user sees it: `dagster dev` (webserver and daemon) on a free port, driven by
headless Chromium through Selenium, on a temporary DAGSTER_HOME and DOCINGEST_HOME.

The module starts one `dagster dev` the way `make dev` does, switches the upload folder sensor
on from its page, lets the daemon ingest two PDFs and a broken file, then checks what a person
sees: the asset graph, the failed document's code and message, a partition materialized from
the Materialize dialog, and the sensor's ticks. Each page's screenshot is kept under
tests/artifacts/ui/ (git-ignored).
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tests.conftest import CORPUS_QUERIES, corpus_pdf

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts" / "ui"
VENV_BIN = Path(sys.executable).parent
GOOD = sorted(CORPUS_QUERIES)  # two real single-page PDFs
BROKEN = "broken.pdf"  # text named .pdf: FILE_TYPE_NOT_SUPPORTED
SENSOR = "upload_folder_sensor"
# As in the Makefile's `dev` target: Dagster 1.13's notice that `dagster dev` is superseded by
# `dg dev`, filtered by its text; every other warning stays visible (and fails the test).
DEV_WARNINGS = "ignore:Function `dev_command` is superseded"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
]
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _require(what: str, found: object) -> None:
    """The browser is part of CI (.ci/run installs it): missing there is a failure."""
    if found:
        return
    message = f"{what} is missing (apt-get install chromium chromium-driver; pip install selenium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(what: str, probe: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Ui:
    url: str
    home: Path
    instance: dg.DagsterInstance
    log: Path
    browser: Any  # selenium.webdriver.Chrome

    def open(self, path: str, ready_text: str, timeout: float = 60) -> str:
        """Load a page and wait until its text shows `ready_text`; returns the page text."""
        self.browser.get(self.url + path)
        return str(
            _wait_for(f"{ready_text!r} on {path}", lambda: self.text_with(ready_text), timeout)
        )

    def open_current(self, ready_text: str, timeout: float = 60) -> str:
        """Wait until the page the browser is on shows `ready_text`; returns the page text."""
        return str(
            _wait_for(f"{ready_text!r} on the page", lambda: self.text_with(ready_text), timeout)
        )

    def text_with(self, needle: str) -> str | None:
        self.dismiss_popups()
        text = str(self.browser.execute_script("return document.body.innerText"))
        return text if needle in text else None

    def dismiss_popups(self) -> None:
        """The first visit shows a community newsletter dialog over the page: skip it."""
        from selenium.webdriver.common.by import By

        for button in self.browser.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
            if button.is_displayed():
                button.click()

    def click(self, xpath: str, timeout: float = 30) -> None:
        from selenium.webdriver.common.by import By

        def clickable() -> Any:
            self.dismiss_popups()
            for element in self.browser.find_elements(By.XPATH, xpath):
                if element.is_displayed() and element.is_enabled():
                    return element
            return None

        element = _wait_for(f"clickable {xpath}", clickable, timeout, every=0.5)
        self.browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.browser.save_screenshot(str(path))
        return path

    def runs(self) -> list[dg.DagsterRun]:
        return list(self.instance.get_runs())


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QDRANT_", "DOCINGEST_", "DAGSTER_")) and k != "PYTHONWARNINGS"
    }
    env.update(
        PYTHONPATH=str(REPO),
        DOCINGEST_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        DOCINGEST_PARSE_ENGINE="fast",  # the layout model would cost minutes here
        PYTHONWARNINGS=DEV_WARNINGS,
    )
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    """dagster dev and everything it started (webserver, daemon, code servers, run workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived their parent
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    _require("chromium", shutil.which("chromium"))
    _require("chromedriver", shutil.which("chromedriver"))
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _require("selenium", None)
        raise
    home = tmp_path_factory.mktemp("ui") / "home"
    uploads = home / "uploads"  # SourceResource's default folder
    uploads.mkdir(parents=True)
    for name in GOOD:
        shutil.copyfile(corpus_pdf(name), uploads / name)
    (uploads / BROKEN).write_text("this is text, not a PDF\n")
    env = _env(home)
    ensure_home = "from pipelines.instance import ensure_dagster_home; ensure_dagster_home()"
    subprocess.run([sys.executable, "-c", ensure_home], env=env, cwd=REPO, check=True)
    # Storage created here, before dagster dev's processes start: several processes creating
    # the same SQLite schema at once race on its migrations.
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    instance.get_runs(limit=1)
    port = _free_port()
    log = home / "dagster-dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "dagster"), "dev", "-w", str(REPO / "workspace.yaml"), "-p", str(port)],
            cwd=env["DAGSTER_HOME"],  # as `make dev`: no other dagster.yaml beside it
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: stopped as a whole
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={home / 'chromium'}"]:
        options.add_argument(flag)
    browser = None
    try:
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for("the webserver", lambda: _answers(f"{url}/server_info"), 180)
        except AssertionError as error:
            raise AssertionError(f"{error}; dagster dev printed:\n{log.read_text()}") from None
        browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        browser.set_page_load_timeout(60)
        yield Ui(url=url, home=home, instance=instance, log=log, browser=browser)
    finally:
        if browser is not None:
            browser.quit()
        _stop(process)
        instance.dispose()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


SENSOR_QUERY = """
query Sensor($name: String!) {
  sensorOrError(sensorSelector: {repositoryLocationName: "docingest",
      repositoryName: "__repository__", sensorName: $name}) {
    ... on Sensor { sensorState { status ticks(limit: 50) { status runIds error { message } } } }
  }
}"""


def _sensor_state(ui: Ui) -> dict[str, Any]:
    """The sensor's status and ticks, from the webserver's GraphQL API (what the page shows)."""
    request = urllib.request.Request(
        f"{ui.url}/graphql",
        data=json.dumps({"query": SENSOR_QUERY, "variables": {"name": SENSOR}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict[str, Any] = json.loads(response.read())
    assert not body.get("errors"), body
    state: dict[str, Any] = body["data"]["sensorOrError"]["sensorState"]
    return state


def _all_runs_done(ui: Ui) -> list[dg.DagsterRun] | None:
    runs = ui.runs()
    return runs if runs and all(run.status in TERMINAL for run in runs) else None


@pytest.fixture(scope="module")
def ingested(ui: Ui) -> list[dg.DagsterRun]:
    """The sensor switched on from its page, as a user does; the daemon's runs finished."""
    ui.open(f"/locations/docingest/sensors/{SENSOR}", "Latest tick")
    ui.click("//label[contains(@class, 'formatSwitch')]")
    _wait_for("the sensor on", lambda: _sensor_state(ui)["status"] == "RUNNING", 15)
    ui.shot("01_sensor_switched_on")
    # The daemon ticks, registers the three files and runs ingest_job over them.
    runs = _wait_for("the sensor's runs to finish", lambda: _all_runs_done(ui), 150, every=2)
    assert all(run.job_name == "ingest_job" for run in runs)
    return list(runs)


def test_the_asset_graph_shows_the_four_assets(ui: Ui) -> None:
    text = ui.open("/asset-groups", "vector_store_entries")
    for asset in ("source_documents", "parsed_pages", "chunks", "vector_store_entries"):
        assert asset in text
    ui.shot("02_asset_graph")


def test_the_sensor_has_ticks_and_none_failed(ui: Ui, ingested: list[dg.DagsterRun]) -> None:
    ticks = _sensor_state(ui)["ticks"]
    assert ticks, "the daemon never ticked"
    assert [t for t in ticks if t["status"] == "FAILURE"] == []
    requested = {run_id for tick in ticks for run_id in tick["runIds"]}
    assert {run.run_id for run in ingested} <= requested
    # Every document was registered as a partition by the sensor's tick.
    assert sorted(ui.instance.get_dynamic_partitions("documents")) == sorted([*GOOD, BROKEN])
    text = ui.open(f"/locations/docingest/sensors/{SENSOR}", "Latest tick")
    assert "Failure" not in text
    ui.shot("03_sensor_ticks")


def test_a_failed_document_shows_its_code_and_message(
    ui: Ui, ingested: list[dg.DagsterRun]
) -> None:
    text = ui.open(
        f"/assets/parsed_pages?view=partitions&partition={BROKEN}", "did not materialize"
    )
    assert "Failed (1)" in text
    ui.shot("04_failed_partition")
    # The partition page says the run failed; the Events tab holds the document's observation.
    ui.click("//a[normalize-space()='Events'] | //button[normalize-space()='Events']")
    ui.click(f"//span[normalize-space()='{BROKEN}']")
    text = ui.open_current("error_message")
    assert "FILE_TYPE_NOT_SUPPORTED" in text
    assert "content is text but the file name says .pdf" in text
    for key in ("retryable", "stage", "attempts"):
        assert key in text
    ui.shot("05_failed_partition_event")


def test_materialize_one_partition_from_the_dialog(ui: Ui, ingested: list[dg.DagsterRun]) -> None:
    before = {run.run_id for run in ui.runs()}
    document = GOOD[0]
    ui.open("/asset-groups", "Materialize all")
    ui.click("//button[contains(., 'Materialize all')]")
    ui.click("//*[contains(text(), 'Select a partition or create one')]")
    ui.click(f"//div[@role='menuitem'][contains(., '{document}')]")
    ui.click("//*[contains(text(), 'Launch runs to materialize')]")  # closes the menu
    ui.shot("06_materialize_dialog")
    ui.click("//button[normalize-space()='Launch 1 run']")

    def launched() -> dg.DagsterRun | None:
        new = [run for run in ui.runs() if run.run_id not in before]
        return new[0] if new and new[0].status in TERMINAL else None

    run = _wait_for("the run launched from the UI", launched, 120, every=2)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags.get("dagster/partition") == document
    text = ui.open(f"/runs/{run.run_id}", "Success")
    assert document in text
    ui.shot("07_materialized_run")


def test_a_chunks_partition_shows_its_table_and_tokens(
    ui: Ui, ingested: list[dg.DagsterRun]
) -> None:
    text = ui.open(f"/assets/chunks?view=partitions&partition={GOOD[1]}", "token_histogram")
    for shown in ("sample_chunks", "dagster/row_count", "tokens_p95", "chunk_size"):
        assert shown in text
    ui.shot("08_chunks_partition_metadata")
    ui.browser.execute_script(
        "[...document.querySelectorAll('td')].find(e => e.innerText === 'token_histogram')"
        ".scrollIntoView({block: 'start'})"
    )
    ui.shot("08b_chunks_token_histogram_and_samples")
    text = ui.open("/assets/chunks", "Columns")
    for column in ("chunk_id", "token_count", "bboxes", "headings"):
        assert column in text
    ui.shot("09_chunks_overview_columns")


def test_the_launchpad_has_no_pickling_io_manager(ui: Ui) -> None:
    text = ui.open("/locations/docingest/jobs/ingest_job/playground", "Launch Run")
    # Dagster's default io_manager says "...stores and retrieves values using pickling".
    assert "pickling" not in text
    assert "Passes nothing between steps" in text  # resources.storage.NothingStoredIOManager
    ui.shot("10_launchpad")
    # A misspelled strategy is refused in the editor, before any run starts.
    typo = "ops:\n  document_pipeline:\n    config:\n      strategy: recursve\n"
    ui.browser.execute_script(
        "document.querySelector('.CodeMirror').CodeMirror.setValue(arguments[0])", typo
    )
    text = ui.open_current("not in enum type ChunkingStrategy")
    assert "got recursve" in text
    ui.shot("11_launchpad_typo")


def test_dagster_dev_printed_no_warning(ui: Ui, ingested: list[dg.DagsterRun]) -> None:
    """Run last in this module: everything the webserver, daemon and code server printed."""
    log = ui.log.read_text(errors="replace")
    assert "Serving dagster-webserver" in log
    warnings = [line for line in log.splitlines() if "Warning" in line or "WARNING" in line]
    assert warnings == []
