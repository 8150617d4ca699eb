"""Structured outputs: answers shaped by ``response_format`` (``json_object`` or ``json_schema``).

A ``json_schema`` answer is built from the schema itself, so it is valid against it: objects get every
property (required or not), strings take the simulated answer (or the enum value closest to it), numbers
the first number in the answer, arrays one item, ``anyOf``/``oneOf`` their first branch, ``$ref`` the
definition it points to.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ftplug.simulator.http.routing import bad_request

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def check_response_format(value: Any) -> dict[str, Any] | None:
    """The validated ``response_format`` (``None`` for plain text); a 400 naming the param otherwise."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ("text", "json_object", "json_schema"):
        raise bad_request("Invalid 'response_format.type': must be 'text', 'json_object' or 'json_schema'.",
                          param="response_format.type")
    if value["type"] == "text":
        return None
    if value["type"] == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not _NAME.match(spec["name"]):
            raise bad_request("Invalid 'response_format.json_schema.name': 1 to 64 characters of a-z, A-Z, 0-9, "
                              "'_' and '-'.", param="response_format.json_schema.name")
        if not isinstance(spec.get("schema", {}), dict):
            raise bad_request("Invalid 'response_format.json_schema.schema': expected an object.",
                              param="response_format.json_schema.schema")
    return value


def _closest(options: list[Any], answer: str) -> Any:
    lowered = answer.lower()
    for option in options:
        if str(option).lower() == lowered:
            return option
    for option in options:
        if str(option).lower() in lowered:
            return option
    return options[0]


def instance(schema: dict[str, Any], answer: str, root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value valid against ``schema`` that carries ``answer`` where a string or number fits."""
    root = root if root is not None else schema
    if depth > 20:
        return None
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return instance(target, answer, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return _closest(list(schema["enum"]), answer)
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return instance(schema[key][0], answer, root, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: instance(sub, answer, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [instance(schema.get("items", {}), answer, root, depth + 1) for _ in range(count)]
    if kind in ("number", "integer"):
        match = _NUMBER.search(answer)
        value = float(match.group()) if match else 0.0
        low, high = schema.get("minimum"), schema.get("maximum")
        value = max(value, low) if low is not None else value
        value = min(value, high) if high is not None else value
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return answer.strip().lower() in ("true", "yes", "1")
    if kind == "null":
        return None
    return answer


def shape(answer: str, response_format: dict[str, Any] | None) -> str:
    """The answer as the requested format asks: plain, a JSON object, or an instance of the schema."""
    if response_format is None:
        return answer
    if response_format["type"] == "json_object":
        return json.dumps({"answer": answer})
    schema = response_format["json_schema"].get("schema") or {"type": "object", "properties": {}}
    return json.dumps(instance(schema, answer))
