"""The `docingest` command as a user runs it: a subprocess on a fresh home, results on stdout,
progress and diagnostics on stderr, exit codes."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

from docingest.writer_lock import writer_lock
from tests.conftest import build_pdf, corpus_pdf
from tests.deployment import BIN, REPO, Deployment

ENV = {"DOCINGEST_PARSE_ENGINE": "fast"}


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, **ENV)
    yield deployment
    deployment.stop()


def _ingest(deployment: Deployment, folder: Path, *args: str) -> tuple[int, dict]:
    result = deployment.docingest("ingest", str(folder), "--json", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_permanent_failures_stay_put_and_prune(deployment: Deployment, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copyfile(corpus_pdf("01030000000001.pdf"), folder / "good.pdf")
    shutil.copyfile(corpus_pdf("01030000000002.pdf"), folder / "other.pdf")
    (folder / "broken.pdf").write_text("plain text pretending to be a PDF\n" * 20)
    whole = corpus_pdf("01030000000074.pdf").read_bytes()
    (folder / "cut.pdf").write_bytes(whole[: len(whole) // 3])  # MuPDF repairs what is left

    code, first = _ingest(deployment, folder)
    assert code == 1 and first["succeeded"] == 3 and first["failed"] == 1
    assert first["errors"] == {"FILE_TYPE_NOT_SUPPORTED": 1}
    assert first["points"] == first["chunks"] > 0
    # Damaged but readable: it succeeds, flagged where people look.
    assert "repaired" in first["flagged"]["cut.pdf"]
    status = json.loads(deployment.docingest("status", "--json").stdout)
    assert status["flagged"]["repaired"] == 1

    # Unchanged, a file that failed for good is not run again, and the summary says so;
    # skipped documents add nothing to the counts.
    code, again = _ingest(deployment, folder)
    assert code == 0, again
    assert (again["succeeded"], again["failed"], again["skipped"]) == (0, 0, 3)
    assert again["not_retried"] == {"FILE_TYPE_NOT_SUPPORTED": 1}
    assert (again["pages"], again["chunks"], again["points"]) == (0, 0, 0)

    code, forced = _ingest(deployment, folder, "--retry-failed")
    assert code == 1 and forced["failed"] == 1 and forced["skipped"] == 3

    failed = json.loads(deployment.docingest("status", "--failed", "--json").stdout)
    (row,) = failed
    assert row["document_id"] == "broken.pdf" and row["code"] == "FILE_TYPE_NOT_SUPPORTED"
    assert row["stage"] == "parse" and row["attempts"] == 2 and row["run_id"]

    # Deletions without the sensor: --prune removes what left the folder.
    (folder / "other.pdf").unlink()
    code, pruned = _ingest(deployment, folder, "--prune")
    assert pruned["pruned"] == ["other.pdf"]
    status = json.loads(deployment.docingest("status", "--json").stdout)
    assert status["documents"]["total"] == 3  # good.pdf, cut.pdf and broken.pdf
    assert status["points"] == first["points"] - _points_of(first, "other.pdf", deployment)


def _points_of(summary: dict, document_id: str, deployment: Deployment) -> int:
    """Points the pruned document had: the first ingest's total minus what is left."""
    search = deployment.docingest("search", "bootstrap", "--top-k", "50", "--json")
    left = json.loads(search.stdout)
    assert all(hit["document_id"] != document_id for hit in left)
    return summary["points"] - len({hit["chunk_id"] for hit in left})


def test_two_folders_with_the_same_file_name_are_two_documents(
    deployment: Deployment, tmp_path: Path
) -> None:
    texts = {
        "alpha": "Tidal energy converts ocean tides into electricity.",
        "beta": "Sourdough bread rises with wild yeast and bacteria.",
    }
    for name, text in texts.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "notes.txt").write_text(text + "\n")
    assert _ingest(deployment, tmp_path / "alpha")[0] == 0
    code, second = _ingest(deployment, tmp_path / "beta")
    assert code == 0 and second["succeeded"] == 1
    status = json.loads(deployment.docingest("status", "--json").stdout)
    assert status["documents"]["total"] == 2
    for query, expected in (("ocean tides electricity", "notes.txt"),
                            ("bread yeast", "beta/notes.txt")):  # fmt: skip
        hits = json.loads(deployment.docingest("search", query, "--json").stdout)
        assert hits[0]["document_id"] == expected
    # Ingesting either folder again keeps its ids: nothing re-run, nothing duplicated.
    assert _ingest(deployment, tmp_path / "alpha")[1]["skipped"] == 1
    assert _ingest(deployment, tmp_path / "beta")[1]["skipped"] == 1


def test_reindex_recreate_drops_the_collection_and_indexes_again(
    deployment: Deployment, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copyfile(corpus_pdf("01030000000001.pdf"), folder / "a.pdf")
    code, first = _ingest(deployment, folder)
    assert code == 0 and first["points"] > 0
    shard = deployment.home / "qdrant" / "edge" / "documents" / "edge_config.json"
    before = shard.stat().st_ino

    result = deployment.docingest("reindex", "--recreate")
    assert result.returncode == 0, result.stderr
    assert "dropped the collection" in result.stderr
    assert shard.stat().st_ino != before  # a new shard, not the old one kept
    status = json.loads(deployment.docingest("status", "--json").stdout)
    assert status["points"] == first["points"]


def test_usage_errors_and_messages(deployment: Deployment, tmp_path: Path) -> None:
    usage = [
        ("search", "anything", "--top-k", "0"),
        ("search", "   "),
        ("parse", str(tmp_path / "missing.pdf"), "--out", str(tmp_path / "out")),
        ("parse", str(tmp_path), "--out", str(tmp_path / "out")),
        ("ingest", str(tmp_path / "missing")),
    ]
    for args in usage:
        result = deployment.docingest(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    version = deployment.docingest("--version")
    assert version.returncode == 0 and "docingest" in version.stdout
    help_text = deployment.docingest("ingest", "--help").stdout
    assert "by_section" in help_text and "page_sections" in help_text
    empty = deployment.docingest("search", "anything", "--json")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []
    assert "collection is empty" in empty.stderr
    assert f"home {deployment.home}" in " ".join(empty.stderr.split())


def test_names_and_text_in_brackets_are_printed_as_they_are(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Rich reads "[...]" as markup: a file named "broken [draft].pdf" was printed as
    "broken .pdf", and "[/b]" in a chunk's text or a message stopped the command with a
    MarkupError. Names, messages and texts are printed as they are, and a message is one line
    however long its path (it was wrapped at 80 columns in a log, splitting the file's name)."""
    folder = tmp_path / "uploads [finance] from the shared drive, with a long folder name"
    folder.mkdir()
    build_pdf(
        folder / "Invoice [2024].pdf",
        ["<p>Payment terms [see note 4] and the [/b] marker: net thirty days from delivery.</p>"],
    )
    (folder / "broken [draft].pdf").write_text("plain text pretending to be a PDF\n" * 20)

    parsed = deployment.docingest(
        "parse", *map(str, sorted(folder.iterdir())), "--out", str(tmp_path / "out"),
        "--engine", "fast",
    )  # fmt: skip
    assert parsed.returncode == 1 and "Traceback" not in parsed.stderr, parsed.stderr
    assert (
        f"{folder / 'broken [draft].pdf'}: FILE_TYPE_NOT_SUPPORTED"
        in (parsed.stderr.splitlines())[0]
    ), parsed.stderr

    # Document ids percent-encode brackets; the messages print them, and the texts, as they are.
    broken, invoice = "broken %5Bdraft%5D.pdf", "Invoice %5B2024%5D.pdf"
    wide = {"COLUMNS": "240"}  # a table's cells and title hold the whole names
    ingested = deployment.docingest("ingest", str(folder), **wide)
    assert ingested.returncode == 1 and "Traceback" not in ingested.stderr, ingested.stderr
    assert f"ingested {folder}" in ingested.stdout
    assert any(
        line.startswith(f"{broken}: FILE_TYPE_NOT_SUPPORTED")
        for line in ingested.stdout.splitlines()
    ), ingested.stdout

    found = deployment.docingest("search", "payment terms net thirty days", "--top-k", "1", **wide)
    assert found.returncode == 0 and "Traceback" not in found.stderr, found.stderr
    for text in (invoice, "[see note 4]", "[/b] marker"):
        assert text in found.stdout, (text, found.stdout)
    failed = deployment.docingest("status", "--failed", **wide)
    assert failed.returncode == 0 and broken in failed.stdout, failed.stdout
    assert "the file name says .pdf" in failed.stdout
    one = deployment.docingest("status", broken, **wide)
    assert one.returncode == 0 and f"{broken}: failed" in one.stdout, one.stdout


def test_an_ingest_started_with_sigint_ignored_still_stops_on_sigterm(
    deployment: Deployment, tmp_path: Path
) -> None:
    """A process started from a background shell (`nohup docingest ingest ... &`, a CI runner)
    has SIGINT ignored. Dagster's run points SIGTERM at SIGINT's handler as it ends, so after
    the first run `kill` no longer stopped the ingest, and the processes it started next ignored
    SIGTERM too. The command, as such a shell starts it: after its runs, SIGTERM still stops it."""
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copyfile(corpus_pdf("01030000000001.pdf"), folder / "a.pdf")
    code = (
        "import os, signal, sys\n"
        "from pipelines.cli import main\n"
        "try:\n"
        "    main(['ingest', sys.argv[1], '--json'])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "print('SIGTERM is', int(signal.getsignal(signal.SIGTERM)), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "print('still running after SIGTERM', flush=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(folder)], cwd=REPO, env=deployment.env,
        capture_output=True, text=True, timeout=300,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # a background shell's
    )  # fmt: skip
    assert f"SIGTERM is {int(signal.SIG_DFL)}" in result.stdout, (
        result.stdout,
        result.stderr[-3000:],
    )
    assert "still running" not in result.stdout
    assert result.returncode == -signal.SIGTERM


def test_a_second_writer_waits_for_the_first(deployment: Deployment, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Lighthouses guide ships along rocky coasts at night.\n")
    errors = tmp_path / "stderr.txt"
    with writer_lock(deployment.home), errors.open("w") as sink:  # another ingest holds it
        process = subprocess.Popen(
            [str(BIN / "docingest"), "ingest", str(folder), "--json"], cwd=REPO,
            env=deployment.env, stdout=subprocess.PIPE, stderr=sink, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while "already writing" not in errors.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, errors.read_text()
            time.sleep(0.5)
        assert "already writing" in errors.read_text(), "the second ingest did not wait"
        time.sleep(2)
        assert process.poll() is None, "the second ingest went on while the home was held"
    stdout, _ = process.communicate(timeout=300)
    assert process.returncode == 0, errors.read_text()
    assert json.loads(stdout)["succeeded"] == 1


def _imported(stderr: str) -> set[str]:
    """Top-level packages a process imported, from its `-X importtime` lines on stderr."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_search_and_status_import_only_what_they_need(
    deployment: Deployment, tmp_path: Path
) -> None:
    """`docingest search` answers without Dagster, the parser, the chunker or qdrant-client
    (their imports were most of its wall time); `status` needs Dagster's instance only. The
    hit cites the page's printed label (the PDF's /PageLabels: front matter in roman)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    doc = pymupdf.open()
    for text in ("Contents", "Preface on harbour dredging.", "Tidal energy from ocean tides."):
        doc.new_page().insert_text((72, 200), text, fontsize=11)
    doc.set_page_labels([{"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1}])
    doc.save(folder / "report.pdf")
    assert _ingest(deployment, folder, "--strategy", "by_page")[0] == 0

    search = deployment.docingest("search", "ocean tides", "--json", PYTHONPROFILEIMPORTTIME="1")
    assert search.returncode == 0, search.stderr
    hit = json.loads(search.stdout)[0]
    assert (hit["document_id"], hit["page_start"], hit["page_labels"]) == ("report.pdf", 3, ["iii"])
    table = deployment.docingest("search", "ocean tides", "--top-k", "1")
    assert "3-3 (p. iii)" in table.stdout, table.stdout
    imported = _imported(search.stderr)
    assert {"docingest", "qdrant_edge", "onnxruntime"} <= imported  # the probe sees imports
    heavy = {"dagster", "pymupdf", "langchain_text_splitters", "qdrant_client", "torch"}
    assert not imported & heavy, sorted(imported & heavy)

    status = deployment.docingest("status", "--json", PYTHONPROFILEIMPORTTIME="1")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["points"] == 3
    imported = _imported(status.stderr)
    assert "dagster" in imported
    assert not imported & {"pymupdf", "langchain_text_splitters", "qdrant_client", "torch"}
