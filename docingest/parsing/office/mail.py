"""E-mail (RFC 822 / EML) with the standard library: headers, the body (HTML preferred, as its
main content, else plain text), and the attachments listed by name, type and size (never
unpacked or run)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, MIMEPart
from typing import Any

from docingest.parsing.office.blocks import PageBuilder, clean_inline
from docingest.parsing.office.html import read_html
from docingest.parsing.options import ParseOptions

_HEADERS = ("From", "To", "Cc", "Date")


def _payload(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    return content if isinstance(content, str) else ""


def parse_eml(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    out.new_page()
    subject = clean_inline(str(message.get("Subject", "") or ""))
    out.heading(1, subject or "(no subject)")
    header_lines = [
        f"{name}: {clean_inline(str(message.get(name)))}" for name in _HEADERS if message.get(name)
    ]
    if header_lines:
        out.text("\n".join(header_lines), kind="text")
    body = message.get_body(preferencelist=("html", "plain"))
    if body is not None:
        content = _payload(body)
        if body.get_content_subtype() == "html":
            read_html(content, options, out)
        else:
            for paragraph in content.replace("\r\n", "\n").split("\n\n"):
                out.text(paragraph.strip())
    attachments = []
    for part in message.iter_attachments():
        name = part.get_filename() or "(unnamed)"
        raw = part.get_payload(decode=True)
        size = len(raw) if isinstance(raw, bytes) else 0
        attachments.append({"name": name, "type": part.get_content_type(), "size": size})
    if attachments:
        out.heading(2, "Attachments")
        for item in attachments:
            out.list_item(f"{item['name']} ({item['type']}, {item['size']} bytes)")
    return {"attachments": attachments, "subject": subject}
