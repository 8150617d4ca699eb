"""The fine-tuning wind-down: warnings as dates approach, and the API's refusal said in one clear sentence."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ftplug.catalogue.models import ModelInfo

ALTERNATIVES = ("fine-tune on another OpenAI-compatible endpoint (trainer option base_url, e.g. Azure OpenAI), "
                "or with a local trainer")


def lifecycle_warnings(info: ModelInfo | None, today: dt.date, warn_days: int) -> list[str]:
    """What the user should know about ``info``'s fine-tuning dates on ``today`` (empty: nothing near)."""
    if info is None:
        return []
    warnings = []
    closes, shutdown = info.fine_tuning_closes, info.fine_tuning_shutdown
    if closes is not None:
        if today >= closes:
            warnings.append(f"OpenAI's self-serve fine-tuning has accepted no new jobs since {closes} (catalogue): "
                            f"expect this job to be refused; {ALTERNATIVES}")
        elif (closes - today).days <= warn_days:
            warnings.append(f"OpenAI's self-serve fine-tuning accepts no new jobs from {closes}, "
                            f"{(closes - today).days} days from now")
    if shutdown is not None:
        if today >= shutdown:
            warnings.append(f"{info.id} and the models fine-tuned from it were retired on {shutdown} (catalogue)")
        elif (shutdown - today).days <= warn_days:
            warnings.append(f"models fine-tuned from {info.id} stop answering on {shutdown}, "
                            f"{(shutdown - today).days} days from now")
    return warnings


def refusal(error: Any, model: str) -> str | None:
    """One sentence for an API error that means "you may not fine-tune here", ``None`` for other errors."""
    import openai

    status = getattr(error, "status_code", None)
    body = getattr(error, "body", None)
    details = body.get("error", body) if isinstance(body, dict) else {}
    message = str(details.get("message") if isinstance(details, dict) and details.get("message") else error)
    code = str(details.get("code") or "") if isinstance(details, dict) else ""
    lowered = message.lower()
    about_access = any(word in lowered for word in ("not available", "not allowed", "access", "no longer",
                                                     "not permitted", "not supported"))
    if isinstance(error, openai.PermissionDeniedError) or code in ("model_not_available",
                                                                   "fine_tuning_not_available") or (
            isinstance(error, openai.BadRequestError) and "fine-tun" in lowered and about_access):
        return (f"the endpoint refused to fine-tune {model} (HTTP {status}: {message}). OpenAI's self-serve "
                "fine-tuning is closed to new organisations and accepts no new jobs from 2027-01-06; "
                f"{ALTERNATIVES}")
    return None


MISSING_ROUTE_STATUSES = (404, 405, 501)  # no such route, not this method, not implemented


def missing_api(error: Any, endpoint: str, route: str) -> str | None:
    """One line for an endpoint that has no fine-tuning API at all (it answers ``route`` with 404, 405 or
    501, as chat-only servers such as llama.cpp's and vLLM's do), ``None`` for other errors."""
    status = getattr(error, "status_code", None)
    if status not in MISSING_ROUTE_STATUSES:
        return None
    body = getattr(error, "body", None)
    details = body.get("error", body) if isinstance(body, dict) else None
    message = str(details.get("message") or "") if isinstance(details, dict) else ""
    if status == 404 and "model" in message.lower():  # the API is there; the model is not (an API error)
        return None
    return (f"{endpoint} has no fine-tuning API ({route} answered {status}): use a local trainer (local-lora) "
            "or an endpoint that fine-tunes")
