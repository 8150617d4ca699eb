"""Requests, responses, API errors and the router that maps method + path to a handler."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


class ApiError(Exception):
    """An error answered with the API's body ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    """A 400 ``invalid_request_error``."""
    return ApiError(400, message, param=param, code=code)


def not_found(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    """A 404 ``invalid_request_error``."""
    return ApiError(404, message, param=param, code=code)


@dataclass
class Request:
    """One HTTP request as the handlers see it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or a 400 the way the API words it."""
        try:
            value = json.loads(self.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise bad_request("We could not parse the JSON body of your request. (HINT: This likely means you "
                              "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
                              "but what was sent was not valid JSON.)") from None
        if not isinstance(value, dict):
            raise bad_request("The request body must be a JSON object.")
        return value

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        """An integer query parameter within bounds, or a 400 naming it."""
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f"Invalid value for '{name}': expected an integer.", param=name) from None
        if not low <= value <= high:
            raise bad_request(f"Invalid value for '{name}': must be between {low} and {high}.", param=name)
        return value


@dataclass
class Response:
    """What a handler answers: JSON (a dict) or raw bytes."""

    status: int = 200
    json_body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    generated_tokens: int | None = None  # set by model endpoints: the latency model applies

    def payload(self) -> bytes:
        """The body bytes."""
        if self.raw is not None:
            return self.raw
        return json.dumps(self.json_body).encode()


Handler = Callable[..., Response | dict[str, Any]]


class Router:
    """Routes ``(method, /v1/path/{param})`` to handlers; a parameter may contain colons but not slashes."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` and a pattern such as ``/v1/files/{file_id}/content``."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(f"^{regex}$"), handler))

    def dispatch(self, request: Request) -> Response:
        """Call the matching handler; an unknown path is a 404, a known path with another method a 405."""
        allowed = False
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed = True
                continue
            result = handler(request, **match.groupdict())
            return result if isinstance(result, Response) else Response(json_body=result)
        if allowed:
            raise ApiError(405, f"Method {request.method} not allowed for {request.path}.")
        raise not_found(f"Invalid URL ({request.method} {request.path})")


def parse_query(query_string: str) -> dict[str, str]:
    """The last value of each query parameter."""
    return {key: values[-1] for key, values in parse_qs(query_string, keep_blank_values=True).items()}
