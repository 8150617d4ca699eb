"""``/v1/models``: the catalogue's models plus the fine-tuned ones that exist."""

from __future__ import annotations

from typing import Any

from ftplug.catalogue.models import default_catalogue
from ftplug.simulator.http.routing import Request, Router, not_found
from ftplug.simulator.state.jobs import fine_tuned_job
from ftplug.simulator.state.store import State

CATALOGUE_CREATED = 1_700_000_000


def model_not_found(model: str) -> Exception:
    """The API's 404 for a model that does not exist."""
    return not_found(f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found")


def _base_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": CATALOGUE_CREATED, "owned_by": "system"}


def add_routes(router: Router, state: State) -> None:
    """Register the models endpoints."""

    def tuned_objects() -> list[dict[str, Any]]:
        now = state.clock.now()
        with state.lock:
            jobs = [job for job in state.jobs.values() if job.status(now) == "succeeded"]
        return [{"id": job.fine_tuned_model, "object": "model", "created": int(job.finished_at),
                 "owned_by": f"org-{state.organization}"} for job in jobs
                if job.fine_tuned_model not in state.deleted_models]

    def listing(request: Request) -> dict[str, Any]:
        catalogue = default_catalogue()
        ids = [alias for info in catalogue.models() for alias in (info.id, *info.aliases)]
        return {"object": "list", "data": [_base_object(i) for i in ids] + tuned_objects()}

    def retrieve(request: Request, model: str) -> dict[str, Any]:
        if model.startswith("ft:"):
            found = next((m for m in tuned_objects() if m["id"] == model), None)
            if found is None:
                raise model_not_found(model)
            return found
        if default_catalogue().find(model) is None:
            raise model_not_found(model)
        return _base_object(model)

    def delete(request: Request, model: str) -> dict[str, Any]:
        if fine_tuned_job(state, model) is None:
            if model.startswith("ft:") or default_catalogue().find(model) is None:
                raise model_not_found(model)
            raise not_found(f"You cannot delete the base model {model}.", param="model")
        with state.lock:
            state.deleted_models.add(model)
        return {"id": model, "object": "model", "deleted": True}

    router.add("GET", "/v1/models", listing)
    router.add("GET", "/v1/models/{model}", retrieve)
    router.add("DELETE", "/v1/models/{model}", delete)
