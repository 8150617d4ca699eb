"""Record and replay: proxy JSON requests to a real OpenAI-compatible API and keep each exchange, or
answer offline from kept exchanges, matched by request content (method, path, query, body), not order.

Exchanges are appended to ``exchanges.jsonl`` in the recording folder. No request header is kept, so
the API key never reaches the file. The proxy talks to the upstream API through the official SDK.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftplug.simulator.http.routing import ApiError, Request, Response

if TYPE_CHECKING:
    from openai import RequestOptions

FILENAME = "exchanges.jsonl"


def exchange_key(method: str, path: str, query: dict[str, str], body: bytes) -> str:
    """The content key of a request: the same request always has the same key."""
    try:
        canonical: Any = json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        canonical = hashlib.sha256(body).hexdigest()
    text = json.dumps([method, path, sorted(query.items()), canonical], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class Recorder:
    """Forwards requests upstream through the SDK and appends each exchange to the folder."""

    def __init__(self, folder: Path, api_key: str, base_url: str | None = None) -> None:
        from openai import OpenAI

        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.client = OpenAI(api_key=api_key, base_url=base_url, max_retries=0)
        self._lock = threading.Lock()

    def forward(self, request: Request) -> Response:
        """The upstream answer to ``request`` (errors included), recorded before it is returned."""
        import openai

        if request.body and not request.headers.get("content-type", "").startswith("application/json"):
            raise ApiError(400, "Recording covers JSON requests only; upload files to the real API directly.")
        path = request.path.removeprefix("/v1")
        options: RequestOptions = {"params": request.query} if request.query else {}
        try:
            if request.method == "GET":
                body = self.client.get(path, cast_to=object, options=options)
            elif request.method == "DELETE":
                body = self.client.delete(path, cast_to=object, options=options)
            else:
                body = self.client.post(path, cast_to=object, body=request.json(), options=options)
            status = 200
        except openai.APIStatusError as error:
            status, body = error.status_code, error.body if isinstance(error.body, dict) else {"error": error.body}
            if "error" not in body:
                body = {"error": body}
        except openai.APIConnectionError as error:
            raise ApiError(502, f"The upstream API could not be reached: {error}", type="server_error") from None
        record = {"key": exchange_key(request.method, request.path, request.query, request.body),
                  "method": request.method, "path": request.path, "query": request.query,
                  "request": json.loads(request.body) if request.body else None,
                  "status": status, "response": body, "recorded_at": int(time.time())}
        with self._lock, (self.folder / FILENAME).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return Response(status=status, json_body=body)


class Replayer:
    """Answers requests from recorded exchanges; several recordings of one request are served in turn."""

    def __init__(self, folder: Path) -> None:
        path = folder / FILENAME
        if not path.exists():
            raise FileNotFoundError(f"{path}: no recorded exchanges")
        self._answers: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                self._answers[record["key"]].append((record["status"], record["response"]))
        self._served: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(answers) for answers in self._answers.values())

    def answer(self, request: Request) -> Response:
        """The recorded answer to ``request``; a 404 ``no_recorded_exchange`` when there is none."""
        key = exchange_key(request.method, request.path, request.query, request.body)
        with self._lock:
            answers = self._answers.get(key)
            if not answers:
                raise ApiError(404, f"No recorded exchange matches this request ({request.method} {request.path}).",
                               code="no_recorded_exchange")
            index = min(self._served[key], len(answers) - 1)
            self._served[key] += 1
        status, body = answers[index]
        return Response(status=status, json_body=body)
