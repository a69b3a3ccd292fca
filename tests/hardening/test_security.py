"""Untrusted files and names: sidecars cannot redirect or leak, outputs stay in their folders."""

import json
import os
import time
from pathlib import Path

import pymupdf
import pytest
from click.testing import CliRunner

from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import file_stem_for
from docingest.metadata import MAX_SIDECAR_BYTES, load_sidecar, sidecar_path
from docingest.parsing import ParseOptions
from docingest.parsing.api import parse_bytes
from docingest.storage import DocumentStore
from pipelines.cli import main
from tests.hardening import corpus

HOSTILE_IDS = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "/absolute/path.pdf",
    "a%00b.pdf",
    "a\x00b.pdf",
    "..",
    ".",
    "",
    "C:\\Windows\\system.ini",
    "x" * 5000,
    "deep/" * 300 + "file.pdf",
]


@pytest.mark.parametrize("document_id", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
def test_storage_paths_stay_flat_under_the_base(tmp_path: Path, document_id: str) -> None:
    store = DocumentStore(tmp_path)
    paths = [
        store.parsed_path(document_id),
        store.chunks_path(document_id),
        store.write_json("state", document_id, {"document_id": document_id}),
    ]
    for path in paths:
        assert path.parent.parent == tmp_path and path.parent.name in ("parsed", "chunks", "state")
        assert path.resolve().parent == (tmp_path / path.parent.name).resolve()
        assert len(path.name.encode()) <= 255 and "/" not in file_stem_for(document_id)
    assert store.read_json("state", document_id) == {"document_id": document_id}
    assert [p.name for p in tmp_path.iterdir()] == ["state"]


def _figure_pdf() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "A page with a figure.", fontsize=11)
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 64, 64), False)
    pixmap.set_rect(pixmap.irect, (200, 30, 30))
    page.insert_image(pymupdf.Rect(72, 120, 472, 520), pixmap=pixmap)
    data = doc.tobytes()
    doc.close()
    return data


@pytest.mark.parametrize("document_id", ["../../../escape.pdf", "/tmp/abs.pdf", "a/../../b.pdf"])
def test_saved_images_stay_inside_the_image_folder(tmp_path: Path, document_id: str) -> None:
    images = tmp_path / "images"
    options = ParseOptions(engine="fast", image_mode="save", image_dir=str(images))
    result = parse_bytes(
        _figure_pdf(), document_id=document_id, source="x", filename="x.pdf", options=options
    )
    saved = [Path(p) for p in result.metadata["images"]]
    assert saved and all(p.resolve().is_relative_to(images.resolve()) for p in saved)
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(saved)


# -- sidecar metadata ---------------------------------------------------------------------------


def _sidecar_error(document: Path) -> DocIngestError:
    with pytest.raises(DocIngestError) as caught:
        load_sidecar(document)
    return caught.value


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        (b'{"a":' * 9_000 + b"1" + b"}" * 9_000, "nested too deeply"),
        (b'{"a": {"b": 1}}', "dict"),
        (b'{"a": [[1]]}', "list"),
        (b'{"document_id": "../../other"}', "reserved"),
        (b'{"source": "/etc/passwd"}', "reserved"),
        (b'{"../../x": 1}', "letters"),
        (b'{"text": "injected"}', "reserved"),
        (b'{"a": "caf\xe9"}', "UTF-8"),
        (b"\xff\xfe{\x00}\x00", "UTF-8"),
        (b" " * (MAX_SIDECAR_BYTES + 1), "bytes"),
        (b'{"a": 1e999}', "finite"),
    ],
)
def test_sidecars_are_validated(tmp_path: Path, content: bytes, reason: str) -> None:
    sidecar_path(tmp_path / "r.pdf").write_bytes(content)
    error = _sidecar_error(tmp_path / "r.pdf")
    assert error.code is ErrorCode.CORRUPT_FILE and not error.retryable
    assert reason in error.message


def test_sidecar_links_pipes_and_devices_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"api_token": "leaked-through-a-link"}))
    sidecar_path(tmp_path / "linked.pdf").symlink_to(outside)
    sidecar_path(tmp_path / "zeros.pdf").symlink_to("/dev/zero")
    os.mkfifo(sidecar_path(tmp_path / "pipe.pdf"))  # reading it would block forever
    started = time.perf_counter()
    for name in ("linked.pdf", "zeros.pdf", "pipe.pdf"):
        error = _sidecar_error(tmp_path / name)
        assert error.code is ErrorCode.CORRUPT_FILE and "not a regular file" in error.message
        assert "leaked" not in error.message
    assert time.perf_counter() - started < 1


def test_a_name_at_the_length_limit_has_no_sidecar(tmp_path: Path) -> None:
    document = tmp_path / ("n" * 251 + ".pdf")
    document.write_bytes(b"%PDF-1.7")
    assert load_sidecar(document) == {}


# -- command line -------------------------------------------------------------------------------


def test_cli_outputs_stay_in_the_output_folder_and_keep_the_password_out(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    names = [os.fsdecode(b"caf\xe9.pdf"), "..dots..pdf", "sp ace.pdf", "-dash.pdf"]
    for name in names:
        (inputs / name).write_bytes(corpus.good_pdf())
    (inputs / "locked.pdf").write_bytes(corpus.encrypted())
    wrong = "wrong-cli-password-77d1"
    result = CliRunner().invoke(
        main,
        ["parse", *[str(inputs / n) for n in [*names, "locked.pdf"]], "--out", str(out),
         "--engine", "fast", "--no-isolate", "--password", wrong],
    )  # fmt: skip
    assert result.exit_code == 1  # the locked file failed
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted([*(Path(n).stem + ".md" for n in names), "locked.error.json"])
    error = json.loads((out / "locked.error.json").read_text())
    assert error["code"] == "PASSWORD_PROTECTED_FILE" and error["retryable"] is False
    assert wrong not in result.output and wrong not in json.dumps(error)
