"""``/v1/responses``: a minimal, text-only Responses API answered by the chat-completions simulation."""

from __future__ import annotations

import json
from typing import Any

from ftplug.simulator.http.routing import Request, Response, Router, bad_request, not_found
from ftplug.simulator.state.store import State


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise bad_request("Invalid type for 'instructions': expected a string.", param="instructions")
        messages.append({"role": "system", "content": instructions})
    given = body.get("input")
    if isinstance(given, str):
        return [*messages, {"role": "user", "content": given}]
    if not isinstance(given, list) or not given:
        raise bad_request("Invalid 'input': expected a string or a non-empty array of messages.", param="input")
    for index, item in enumerate(given):
        if not isinstance(item, dict) or item.get("role") not in ("system", "developer", "user", "assistant"):
            raise bad_request(f"Invalid 'input[{index}]': expected a message with a role.", param=f"input[{index}]")
        content = item.get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            raise bad_request(f"Invalid 'input[{index}].content': text only.", param=f"input[{index}].content")
        messages.append({"role": item["role"], "content": content})
    return messages


def add_routes(router: Router, state: State) -> None:
    """Register the responses endpoints (after chat completions, which they are answered by)."""

    def create(request: Request) -> Response:
        body = request.json()
        chat_body: dict[str, Any] = {"model": body.get("model"), "messages": _messages(body)}
        for source, target in (("temperature", "temperature"), ("max_output_tokens", "max_completion_tokens")):
            if body.get(source) is not None:
                chat_body[target] = body[source]
        answered = router.dispatch(Request(method="POST", path="/v1/chat/completions", query={},
                                           headers=request.headers, body=json.dumps(chat_body).encode()))
        completion = answered.json_body
        choice, usage = completion["choices"][0], completion["usage"]
        with state.lock:
            response_id, message_id = state.ids.make("resp_", 48), state.ids.make("msg_", 48)
        status = "incomplete" if choice["finish_reason"] == "length" else "completed"
        result = {
            "id": response_id, "object": "response", "created_at": completion["created"], "status": status,
            "error": None, "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "model": completion["model"], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "temperature": body.get("temperature", 1.0), "top_p": 1.0, "metadata": body.get("metadata") or {},
            "output": [{"type": "message", "id": message_id, "status": status, "role": "assistant",
                        "content": [{"type": "output_text", "text": choice["message"]["content"],
                                     "annotations": []}]}],
            "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                      "total_tokens": usage["total_tokens"],
                      "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}},
        }
        with state.lock:
            state.responses[response_id] = result
        return Response(json_body=result, headers=answered.headers, generated_tokens=answered.generated_tokens)

    def get(response_id: str) -> dict[str, Any]:
        found = state.responses.get(response_id)
        if found is None:
            raise not_found(f"Response with id '{response_id}' not found.", param="response_id")
        return found

    def retrieve(request: Request, response_id: str) -> dict[str, Any]:
        return get(response_id)

    def delete(request: Request, response_id: str) -> dict[str, Any]:
        with state.lock:
            get(response_id)
            del state.responses[response_id]
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    router.add("POST", "/v1/responses", create)
    router.add("GET", "/v1/responses/{response_id}", retrieve)
    router.add("DELETE", "/v1/responses/{response_id}", delete)
