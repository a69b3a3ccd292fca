"""The `docingest` commands, in exactly the forms DESIGN.md promises."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import CORPUS_QUERIES, corpus_pdf, write_bad_inputs


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_every_command_has_help(runner: CliRunner) -> None:
    for command in ("parse", "chunk", "ingest", "rechunk", "reindex", "search", "status"):
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_parse_writes_markdown_json_and_error_files(runner: CliRunner, tmp_path: Path) -> None:
    good = corpus_pdf("01030000000001.pdf")
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    write_bad_inputs(bad_dir)
    out = tmp_path / "out"
    result = runner.invoke(
        main, ["parse", str(good), str(bad_dir / "empty.pdf"), "--out", str(out)]
    )
    assert result.exit_code == 1  # one input failed
    assert (out / "01030000000001.md").read_text().strip()
    error = json.loads((out / "empty.error.json").read_text())
    assert error == {"code": "CORRUPT_FILE", "message": error["message"], "retryable": False}

    as_json = tmp_path / "json"
    result = runner.invoke(main, ["parse", str(good), "--out", str(as_json), "--format", "json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads((as_json / "01030000000001.json").read_text())
    assert parsed["page_count"] == 1 and parsed["sha256"] and parsed["markdown"]
    page = parsed["pages"][0]
    assert page["page_number"] == 1 and page["width"] > 0 and page["fragments"]
    fragment = page["fragments"][0]
    assert set(fragment) >= {"type", "content", "bbox", "level"}
    assert set(fragment["bbox"]) == {"x0", "y0", "x1", "y1"}
    assert set(parsed["usage"]) >= {"pages", "ocr_pages", "timings"}


def test_chunk_writes_jsonl_records(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "chunks"
    args = ["chunk", str(corpus_pdf("01030000000001.pdf")), "--out", str(out),
            "--strategy", "token_size", "--param", "chunk_size=100"]  # fmt: skip
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "01030000000001.jsonl").read_text().splitlines()]
    assert len(records) >= 2
    assert set(records[0]) == {
        "chunk_id", "document_id", "chunk_index", "text", "token_count", "page_start",
        "page_end", "bboxes", "headings", "fragment_types", "strategy", "params_hash",
        "page_labels",
    }  # fmt: skip
    assert all(r["token_count"] <= 100 for r in records)
    bad = runner.invoke(main, [*args[:4], "--strategy", "nope"])
    assert bad.exit_code == 2 and "nope" in bad.output


def test_ingest_search_status_rechunk(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    for name in CORPUS_QUERIES:
        shutil.copyfile(corpus_pdf(name), folder / name)
    (folder / "01030000000001.pdf.metadata.json").write_text('{"team": "stats"}')
    (folder / "empty.pdf").write_bytes(b"")

    result = runner.invoke(main, ["ingest", str(folder)])
    assert result.exit_code == 1  # empty.pdf failed; the others are in
    assert "CORRUPT_FILE" in result.output and "succeeded" in result.output

    status = json.loads(runner.invoke(main, ["status", "--json"]).stdout)
    assert status["documents"] == {
        "total": 3,
        "succeeded": 2,
        "failed": 1,
        "pending": 0,
        "cancelled": 0,
    }
    assert status["errors"] == {"CORRUPT_FILE": 1}
    assert status["points"] == status["chunks"] > 0 and status["pages"] == 2

    query = CORPUS_QUERIES["01030000000001.pdf"]
    hits = json.loads(runner.invoke(main, ["search", query, "--top-k", "2", "--json"]).stdout)
    assert set(hits[0]) >= {"document_id", "chunk_id", "score", "text", "page_start",
                            "page_end", "metadata"}  # fmt: skip
    assert hits[0]["document_id"] == "01030000000001.pdf"
    assert hits[0]["metadata"] == {"team": "stats"}
    filtered = runner.invoke(main, ["search", query, "--filter", "team=none", "--json"])
    assert json.loads(filtered.stdout) == []

    rechunk = runner.invoke(main, ["rechunk", "--strategy", "by_page"])
    assert rechunk.exit_code == 0, rechunk.output
    after = json.loads(runner.invoke(main, ["status", "--json"]).stdout)
    assert after["points"] == after["chunks"] == 2  # one page each, old points replaced
