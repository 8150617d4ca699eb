"""Parsing ``multipart/form-data`` bodies with the standard library's email parser."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP

from ftplug.simulator.http.routing import bad_request


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """(text fields, file fields as (filename, content)) of a multipart body; a 400 if it is not one."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise bad_request("Expected a multipart/form-data body with a boundary.")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise bad_request("Could not parse the multipart/form-data body.")
    fields: dict[str, str] = {}
    uploads: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)  # the decoded bytes; None for a part that is itself multipart
        if not isinstance(payload, bytes):
            payload = b""
        filename = part.get_filename()
        if filename is not None:
            uploads[name] = (filename, payload)
        else:
            fields[name] = payload.decode("utf-8", errors="replace")
    return fields, uploads
