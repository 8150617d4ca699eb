"""A variant's requests sent to its endpoint, ``concurrency`` at a time, each answer stored as it comes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from ftplug.dataset import Example
from ftplug.engine.budget import Budget, BudgetReached
from ftplug.engine.predictions import PredictionFactory, VariantRequests
from ftplug.engine.requester import ChatRequester, QuotaExhausted
from ftplug.engine.sink import PredictionSink
from ftplug.errors import FtplugError


async def predict_remotely(todo: Iterable[Example], requests: VariantRequests, requester: ChatRequester, *,
                           records: PredictionFactory, sink: PredictionSink, budget: Budget,
                           concurrency: int) -> None:
    """Ask the request of each of ``todo`` that the cache does not answer (cached ones are stored at once),
    ``concurrency`` in flight, and store each answer or error. Once the budget is exhausted or the API
    refuses for quota no new request is sent; the requests in flight finish and are stored, and then
    :class:`~ftplug.engine.budget.BudgetReached` (or an :class:`~ftplug.errors.FtplugError`) is raised."""
    pending = requests(todo)  # one shared iterator: each request goes to one worker
    stopped: list[FtplugError] = []

    async def worker() -> None:
        for request in pending:
            if request.cached is not None:
                sink.add(records.from_cache(request.example, request.key, request.cached))
                continue
            if not stopped and (reason := budget.exhausted()) is not None:
                stopped.append(BudgetReached(reason))
            if stopped:
                return
            try:
                answer = await requester.complete(requests.model, request.messages, requests.parameters)
            except QuotaExhausted as error:
                stopped.append(FtplugError(f"the API refuses for quota: {error}; nothing more was asked"))
                return
            sink.add(records.answered(request.example, answer, request.key))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if stopped:
        raise stopped[0]
