"""``ftplug finetune list|show|events|cancel``: the fine-tuning jobs a result store knows, with live status."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ftplug.catalogue.costs import usd
from ftplug.cli.options import db_option

LOCAL = "local"  # the endpoint of jobs trained in ftplug's own process


@contextmanager
def job_client(record: Any, db: str) -> Iterator[Any]:
    """An ``openai.OpenAI`` client for the endpoint that runs ``record``'s job (for a simulated job, the
    embedded simulator over the result store's simulator state)."""
    from openai import OpenAI

    from ftplug.engine.endpoint import OPENAI_URL, simulator_endpoint, simulator_state_dir
    from ftplug.errors import FtplugError

    if record.simulated:
        with simulator_endpoint(state_dir=simulator_state_dir(db)) as endpoint:
            client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0)
            try:
                yield client
            finally:
                client.close()
        return
    variable = record.api_key_env or "OPENAI_API_KEY"
    key = os.environ.get(variable)
    if not key:
        raise FtplugError(f"job {record.job_id} runs at {record.endpoint}: its API key is needed in ${variable}")
    client = OpenAI(base_url=None if record.endpoint == OPENAI_URL else record.endpoint, api_key=key, max_retries=2)
    try:
        yield client
    finally:
        client.close()


def _refresh(record: Any, client: Any, store: Any) -> Any:
    """Bring ``record`` and its events up to date from the endpoint; returns the API's job."""
    from ftplug.plugins.trainers.openai.watch import finished_at, new_events

    job = client.fine_tuning.jobs.retrieve(record.job_id)
    known = {event.event_id for event in store.job_events(record.job_id)}
    store.add_job_events(new_events(client, record.job_id, known))
    record.status = job.status
    record.fine_tuned_model = job.fine_tuned_model or record.fine_tuned_model
    record.trained_tokens = job.trained_tokens or record.trained_tokens
    record.finished_at = finished_at(job) or record.finished_at
    if job.error is not None and job.error.message:
        record.error = job.error.message
    store.save_job(record)
    return job


def _job(store: Any, job_id: str) -> Any:
    from ftplug.errors import InputError

    record = store.get_job(job_id)
    if record is None:
        raise InputError(f"no fine-tuning job {job_id!r} in this result store (see `ftplug finetune list`)",
                         path=store.path)
    return record


@contextmanager
def job_session(job_id: str, db: str) -> Iterator[tuple[Any, Any, Any, Any]]:
    """The result store, the job's record, a client for its endpoint and the API's job, freshly synced."""
    from ftplug.store import open_existing_store

    store = open_existing_store(db)
    try:
        record = _job(store, job_id)
        if record.endpoint == LOCAL:  # trained by ftplug itself (local-lora): the store is all there is
            yield store, record, None, None
            return
        with job_client(record, db) as client:
            yield store, record, client, _refresh(record, client, store)
    finally:
        store.close()


def _label(record: Any) -> str:
    return " [simulated]" if record.simulated else ""


@click.group()
def finetune() -> None:
    """Fine-tuning jobs started by `ftplug run`: list, inspect, follow, cancel."""


@finetune.command("list")
@db_option()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_jobs(db: str, as_json: bool) -> None:
    """Every job of the result store; unfinished ones are checked with their endpoint first."""
    from ftplug.store import open_existing_store

    store = open_existing_store(db)
    try:
        records = store.jobs()
        for record in records:
            if record.active:
                with job_client(record, db) as client:
                    _refresh(record, client, store)
        if as_json:
            click.echo(json.dumps([{**vars(r), "created_at": str(r.created_at),
                                    "finished_at": str(r.finished_at) if r.finished_at else None}
                                   for r in records], indent=2))
            return
        if not records:
            click.echo("no fine-tuning jobs in this result store")
        for r in records:
            cost = _usd(r.training_cost_usd)
            click.echo(f"{r.job_id}  {r.status:<10} {r.experiment}/{r.variant}  {r.base_model}  "
                       f"{r.fine_tuned_model or '—'}  {cost}  {r.created_at:%Y-%m-%d %H:%M}{_label(r)}")
    finally:
        store.close()


def _usd(value: float | None) -> str:
    return usd(value, missing="—")


@finetune.command()
@click.argument("job_id")
@db_option()
def show(job_id: str, db: str) -> None:
    """A job's live status, model, tokens, cost, hyperparameters and final losses."""
    with job_session(job_id, db) as (store, record, _, _):
        metrics = [e for e in store.job_events(job_id) if e.step is not None]
        lines = [f"job {record.job_id}{_label(record)}: {record.status}",
                 f"  experiment/variant: {record.experiment}/{record.variant}; endpoint {record.endpoint}",
                 f"  base model: {record.base_model}; fine-tuned model: {record.fine_tuned_model or '—'}",
                 f"  training examples: {record.training_examples}; hyperparameters: "
                 f"{json.dumps(record.hyperparameters)}",
                 f"  trained tokens: {record.trained_tokens or '—'}; estimated cost: "
                 f"{_usd(record.estimated_cost_usd)}; training cost: {_usd(record.training_cost_usd)}",
                 f"  created {record.created_at:%Y-%m-%d %H:%M:%S}; finished "
                 f"{record.finished_at:%Y-%m-%d %H:%M:%S}" if record.finished_at else
                 f"  created {record.created_at:%Y-%m-%d %H:%M:%S}"]
        if metrics:
            last = metrics[-1]
            lines.append(f"  last metrics: step {last.step}/{last.total_steps}, training loss {last.train_loss}, "
                         f"validation loss {last.valid_loss}")
        if record.error:
            lines.append(f"  error: {record.error}")
        click.echo("\n".join(lines))


@finetune.command()
@click.argument("job_id")
@db_option()
def events(job_id: str, db: str) -> None:
    """A job's events, oldest first (new ones are fetched and stored first)."""
    with job_session(job_id, db) as (store, _, _, _):
        for event in store.job_events(job_id):
            click.echo(f"{event.created_at:%Y-%m-%d %H:%M:%S}  {event.level:<5} {event.message}")


@finetune.command()
@click.argument("job_id")
@db_option()
def cancel(job_id: str, db: str) -> None:
    """Cancel a job that has not finished."""
    import openai

    from ftplug.errors import FtplugError

    with job_session(job_id, db) as (store, record, client, _):
        if not record.active:
            raise FtplugError(f"job {job_id} has already {record.status}; nothing to cancel")
        try:
            client.fine_tuning.jobs.cancel(job_id)
        except openai.APIStatusError as error:
            raise FtplugError(f"the endpoint would not cancel job {job_id}: {error.message}") from None
        _refresh(record, client, store)
    click.echo(f"job {job_id}: {record.status}{_label(record)}")

