"""An OpenAPI 3.0 description of what the simulator serves (``GET /v1/openapi.json``): the subset of the OpenAI
API it implements, with the request fields it reads. Responses are described loosely (an object, or the API's
error shape); the OpenAI API reference is the authority on their full contents."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "the API's error shape",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_OBJECT = {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}}
_MESSAGE = {"type": "object", "required": ["role"], "properties": {
    "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
    "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}], "nullable": True},
    "name": {"type": "string"}}}
_LIST_QUERY = [{"name": "limit", "in": "query", "schema": {"type": "integer"}},
               {"name": "after", "in": "query", "schema": {"type": "string"}}]


def _operation(summary: str, body: dict[str, Any] | None = None, parameters: list[dict[str, Any]] | None = None,
               content_type: str = "application/json") -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {"200": _OBJECT, "default": _ERROR}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {content_type: {"schema": body}}}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path_id(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def document(server_url: str = "http://127.0.0.1:8089") -> dict[str, Any]:
    """The OpenAPI document; ``server_url`` is where this simulator listens."""
    chat = {"type": "object", "required": ["model", "messages"], "properties": {
        "model": {"type": "string"}, "messages": {"type": "array", "items": _MESSAGE},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2}, "n": {"type": "integer", "minimum": 1},
        "seed": {"type": "integer"}, "max_tokens": {"type": "integer"}, "max_completion_tokens": {"type": "integer"},
        "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "logprobs": {"type": "boolean"}, "top_logprobs": {"type": "integer", "minimum": 0, "maximum": 20},
        "response_format": {"type": "object"}, "stream": {"type": "boolean"}}}
    job = {"type": "object", "required": ["model", "training_file"], "properties": {
        "model": {"type": "string"}, "training_file": {"type": "string"}, "validation_file": {"type": "string"},
        "suffix": {"type": "string"}, "seed": {"type": "integer"}, "hyperparameters": {"type": "object"},
        "method": {"type": "object"}}}
    batch = {"type": "object", "required": ["input_file_id", "endpoint", "completion_window"], "properties": {
        "input_file_id": {"type": "string"}, "endpoint": {"type": "string"},
        "completion_window": {"type": "string", "enum": ["24h"]}, "metadata": {"type": "object"}}}
    upload = {"type": "object", "required": ["file", "purpose"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "purpose": {"type": "string", "enum": ["fine-tune", "batch", "assistants", "user_data"]}}}
    response = {"type": "object", "required": ["model", "input"], "properties": {
        "model": {"type": "string"}, "input": {"oneOf": [{"type": "string"}, {"type": "array"}]},
        "instructions": {"type": "string"}, "temperature": {"type": "number"}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "ftplug simulator (offline, simulated OpenAI API)", "version": "1",
                 "description": "Simulated models: nothing they answer measures a real model."},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["message", "type"], "properties": {
                    "message": {"type": "string"}, "type": {"type": "string"},
                    "param": {"type": "string", "nullable": True}, "code": {"type": "string", "nullable": True}}}}}}},
        "paths": {
            "/v1/chat/completions": {"post": _operation("Create a chat completion", chat)},
            "/v1/responses": {"post": _operation("Create a response", response)},
            "/v1/responses/{response_id}": {
                "get": _operation("Retrieve a response", parameters=_path_id("response_id")),
                "delete": _operation("Delete a response", parameters=_path_id("response_id"))},
            "/v1/files": {"post": _operation("Upload a file", upload, content_type="multipart/form-data"),
                          "get": _operation("List files", parameters=_LIST_QUERY)},
            "/v1/files/{file_id}": {"get": _operation("Retrieve a file", parameters=_path_id("file_id")),
                                    "delete": _operation("Delete a file", parameters=_path_id("file_id"))},
            "/v1/files/{file_id}/content": {"get": _operation("A file's content", parameters=_path_id("file_id"))},
            "/v1/fine_tuning/jobs": {"post": _operation("Create a fine-tuning job", job),
                                     "get": _operation("List fine-tuning jobs", parameters=_LIST_QUERY)},
            "/v1/fine_tuning/jobs/{job_id}": {"get": _operation("Retrieve a job", parameters=_path_id("job_id"))},
            "/v1/fine_tuning/jobs/{job_id}/events": {"get": _operation("A job's events",
                                                                       parameters=_path_id("job_id") + _LIST_QUERY)},
            "/v1/fine_tuning/jobs/{job_id}/checkpoints": {"get": _operation(
                "A job's checkpoints", parameters=_path_id("job_id") + _LIST_QUERY)},
            "/v1/fine_tuning/jobs/{job_id}/cancel": {"post": _operation("Cancel a job", parameters=_path_id("job_id"))},
            "/v1/models": {"get": _operation("List models")},
            "/v1/models/{model}": {"get": _operation("Retrieve a model", parameters=_path_id("model")),
                                   "delete": _operation("Delete a fine-tuned model", parameters=_path_id("model"))},
            "/v1/batches": {"post": _operation("Create a batch", batch),
                            "get": _operation("List batches", parameters=_LIST_QUERY)},
            "/v1/batches/{batch_id}": {"get": _operation("Retrieve a batch", parameters=_path_id("batch_id"))},
            "/v1/batches/{batch_id}/cancel": {"post": _operation("Cancel a batch", parameters=_path_id("batch_id"))},
        },
    }
