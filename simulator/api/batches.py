"""``/v1/batches``: create from an uploaded JSONL, retrieve, list, cancel."""

from __future__ import annotations

import json
from typing import Any

from ftplug.simulator.http.routing import ApiError, Request, Router, bad_request, not_found
from ftplug.simulator.state.batches import ENDPOINTS, Batch, parse_batch_input
from ftplug.simulator.state.store import State, paginate


def add_routes(router: Router, state: State) -> None:
    """Register the batches endpoints; batch lines are answered through ``router`` like live requests."""

    def execute(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = Request(method="POST", path=url, query={}, headers={"content-type": "application/json"},
                          body=json.dumps(body).encode())
        try:
            response = router.dispatch(request)
        except ApiError as error:
            return error.status, error.body()
        return response.status, response.json_body

    def view(batch: Batch) -> dict[str, Any]:
        now = state.clock.now()
        if batch.status(now) == "completed" and not batch.done:
            batch.run(state, execute)
        return batch.to_api(now)

    def create(request: Request) -> dict[str, Any]:
        body = request.json()
        endpoint = body.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise bad_request(f"Invalid 'endpoint': the simulator runs batches for {', '.join(ENDPOINTS)}.",
                              param="endpoint")
        if body.get("completion_window") != "24h":
            raise bad_request("Invalid 'completion_window': must be '24h'.", param="completion_window")
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or (stored := state.files.get(file_id)) is None:
            raise bad_request(f"Invalid 'input_file_id': no such file {file_id}.", param="input_file_id")
        if stored.purpose != "batch":
            raise bad_request(f"File {file_id} has purpose {stored.purpose!r}; batches need 'batch'.",
                              param="input_file_id")
        requests, errors = parse_batch_input(stored.content, endpoint)
        with state.lock:
            batch = Batch(id=state.ids.make("batch_", 32), endpoint=endpoint, input_file_id=file_id,
                          completion_window="24h", metadata=body.get("metadata"), created=state.clock.now(),
                          timing=state.timing, requests=requests, errors=errors)
            state.batches[batch.id] = batch
        return view(batch)

    def get(batch_id: str) -> Batch:
        batch = state.batches.get(batch_id)
        if batch is None:
            raise not_found(f"No batch found with id '{batch_id}'.", param="batch_id")
        return batch

    def retrieve(request: Request, batch_id: str) -> dict[str, Any]:
        with state.lock:
            return view(get(batch_id))

    def listing(request: Request) -> dict[str, Any]:
        limit = request.query_int("limit", 20, 1, 100)
        with state.lock:
            batches = list(reversed(state.batches.values()))  # newest first
            items = [view(batch) for batch in batches]
        return paginate(items, request.query.get("after"), limit)

    def cancel(request: Request, batch_id: str) -> dict[str, Any]:
        with state.lock:
            batch = get(batch_id)
            now = state.clock.now()
            if batch.status(now) in ("completed", "failed", "cancelled", "cancelling", "expired"):
                raise ApiError(409, f"Cannot cancel a batch with status '{batch.status(now)}'.")
            batch.cancelled_at = now
            return view(batch)

    router.add("POST", "/v1/batches", create)
    router.add("GET", "/v1/batches", listing)
    router.add("GET", "/v1/batches/{batch_id}", retrieve)
    router.add("POST", "/v1/batches/{batch_id}/cancel", cancel)
