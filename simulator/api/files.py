"""``/v1/files``: upload, list, retrieve, content, delete."""

from __future__ import annotations

from typing import Any

from ftplug.simulator.http.multipart import parse_form
from ftplug.simulator.http.routing import Request, Response, Router, bad_request, not_found
from ftplug.simulator.state.store import State, StoredFile, paginate

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


def add_routes(router: Router, state: State) -> None:
    """Register the files endpoints."""

    def get(file_id: str) -> StoredFile:
        stored = state.files.get(file_id)
        if stored is None:
            raise not_found(f"No such File object: {file_id}", param="id")
        return stored

    def upload(request: Request) -> dict[str, Any]:
        fields, uploads = parse_form(request.headers.get("content-type", ""), request.body)
        purpose = fields.get("purpose")
        if purpose not in PURPOSES:
            raise bad_request(f"Invalid value for 'purpose': must be one of {', '.join(PURPOSES)}.", param="purpose")
        if "file" not in uploads:
            raise bad_request("Missing required parameter: 'file'.", param="file")
        filename, content = uploads["file"]
        options = state.options
        with state.lock:
            count, stored = len(state.files), sum(len(f.content) for f in state.files.values())
        if count >= options.max_files or stored + len(content) > options.max_stored_bytes:
            raise bad_request(f"File storage is full ({count} files, {stored:,} bytes kept; the limit is "
                              f"{options.max_files} files, {options.max_stored_bytes:,} bytes): delete files "
                              "before uploading more.", param="file")
        if purpose == "fine-tune" and not filename.endswith(".jsonl"):
            raise bad_request(f"Invalid file format for Fine-Tuning API. Must be .jsonl (got {filename}).",
                              param="file")
        return state.add_file(filename, purpose, content).to_api()

    def listing(request: Request) -> dict[str, Any]:
        limit = request.query_int("limit", 10_000, 1, 10_000)
        purpose = request.query.get("purpose")
        with state.lock:
            files = [f for f in state.files.values() if purpose is None or f.purpose == purpose]
        ordered = files[::-1] if request.query.get("order", "desc") == "desc" else files  # insertion order
        return paginate([f.to_api() for f in ordered], request.query.get("after"), limit)

    def retrieve(request: Request, file_id: str) -> dict[str, Any]:
        return get(file_id).to_api()

    def content(request: Request, file_id: str) -> Response:
        return Response(raw=get(file_id).content, content_type="application/octet-stream")

    def delete(request: Request, file_id: str) -> dict[str, Any]:
        with state.lock:
            get(file_id)
            del state.files[file_id]
        return {"id": file_id, "object": "file", "deleted": True}

    router.add("POST", "/v1/files", upload)
    router.add("GET", "/v1/files", listing)
    router.add("GET", "/v1/files/{file_id}", retrieve)
    router.add("GET", "/v1/files/{file_id}/content", content)
    router.add("DELETE", "/v1/files/{file_id}", delete)
