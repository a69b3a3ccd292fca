"""LibreOffice headless conversions (to PDF for office_mode=convert, DOC/PPT to DOCX/PPTX).

Each conversion runs `soffice` in a fresh profile under a temporary folder, in its own process
group, killed when it runs past its time limit or when the parser process dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from docingest.errors import DocIngestError, ErrorCode
from docingest.parsing import detect

INSTALL_HINT = (
    "install LibreOffice (Debian: apt-get install libreoffice-core libreoffice-writer "
    "libreoffice-calc libreoffice-impress)"
)
_EXTENSIONS = {
    detect.DOCX_MIME: "docx",
    detect.ODT_MIME: "odt",
    detect.DOC_MIME: "doc",
    detect.RTF_MIME: "rtf",
    detect.PPT_MIME: "ppt",
    detect.PPTX_MIME: "pptx",
    detect.ODP_MIME: "odp",
    detect.XLS_MIME: "xls",
}
# Word-processing formats, whose pages exist only once laid out: office_mode=convert's domain.
_TO_PDF = frozenset({detect.DOCX_MIME, detect.ODT_MIME, detect.DOC_MIME, detect.RTF_MIME})
_PR_SET_PDEATHSIG = 1


def soffice() -> str | None:
    """The LibreOffice binary, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def converts_to_pdf(mime: str) -> bool:
    return mime in _TO_PDF


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(OSError):  # not Linux: the time limit still applies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def convert(data: bytes, mime: str, target: str, timeout_s: float, code: ErrorCode) -> bytes:
    """`data` converted by LibreOffice to `target` (pdf, docx, pptx); `code` when it fails."""
    binary = soffice()
    if binary is None:
        raise DocIngestError(code, f"converting {detect.describe_mime(mime)} needs {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="docingest-soffice-") as tmp:
        source = Path(tmp) / f"input.{_EXTENSIONS[mime]}"
        source.write_bytes(data)
        out_dir = Path(tmp) / "out"
        command = [
            binary,
            f"-env:UserInstallation=file://{tmp}/profile",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--nodefault",
            "--convert-to",
            target,
            "--outdir",
            str(out_dir),
            str(source),
        ]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_child_setup,
        )
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise DocIngestError(
                ErrorCode.PARSE_TIMEOUT, f"LibreOffice ran past its limit of {timeout_s:g} s"
            ) from None
        results = list(out_dir.glob(f"*.{target}")) if out_dir.is_dir() else []
        if process.returncode != 0 or not results or results[0].stat().st_size == 0:
            tail = output.decode("utf-8", "replace").strip()[-300:]
            raise DocIngestError(
                code, f"LibreOffice could not convert the file (exit {process.returncode}): {tail}"
            )
        return results[0].read_bytes()


_PAGES = re.compile(rb"<(?:\w+:)?Pages>(\d+)<|meta:page-count=\"(\d+)\"")


def expected_pages(data: bytes) -> int:
    """The page count the authoring application saved (DOCX app.xml, ODT meta.xml), or 0:
    what a conversion will give the PDF engine to parse, for the worker's time limit."""
    import zipfile

    from docingest.parsing.office.safety import open_zip, read_member

    try:
        archive = open_zip(data, "the document")
    except DocIngestError:
        return 0
    with archive:
        names = {name.lower(): name for name in archive.namelist()}
        for part in ("docprops/app.xml", "meta.xml"):
            if part not in names:
                continue
            try:
                content = read_member(archive, names[part]) or b""
            except (DocIngestError, zipfile.BadZipFile):
                return 0
            match = _PAGES.search(content[:65536])
            if match:
                return int(match.group(1) or match.group(2))
    return 0


def to_pdf(data: bytes, mime: str, timeout_s: float) -> bytes:
    """A PDF of the document (office_mode=convert): FAILED_TO_CONVERT_TO_PDF when it fails."""
    return convert(data, mime, "pdf", timeout_s, ErrorCode.FAILED_TO_CONVERT_TO_PDF)
