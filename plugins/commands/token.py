"""``ftplug tokens``: how many tokens a text or JSONL file is, whether it fits a model, what sending it costs."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from ftplug.catalogue.text_limits import TextTooLong
from ftplug.errors import InputError

if TYPE_CHECKING:
    from ftplug.catalogue.tokens import TokenCounter
    from ftplug.plugins.local.tokens import LocalTokenCounter


class _Counts:
    """Token counts for ``model``: tiktoken's, as the API counts them, or a local model's own (``local:…``)."""

    def __init__(self, model: str) -> None:
        from ftplug.catalogue.local_models import is_local_model

        self.local = is_local_model(model)
        self.counter: TokenCounter | LocalTokenCounter
        if self.local:
            from ftplug.plugins.local.runtime import local_token_counter

            self.counter, self.window = local_token_counter(model)
            self.encoding = "the model's own tokenizer"
        else:
            from ftplug.catalogue.tokens import TokenCounter

            self.counter, self.window, self.encoding = TokenCounter(model), 0, ""

    def text(self, text: str) -> int:
        """Tokens of ``text``."""
        return self.counter.text(text)

    def chat(self, messages: list[dict[str, Any]]) -> int:
        """Prompt tokens of a conversation."""
        return self.counter.messages(messages)


def _conversations(lines: list[str], path: str) -> list[list[dict[str, Any]]] | None:
    """The conversations of a chat JSONL file (every record with a ``messages`` list is one, assistant reply or
    not: a prompt to send counts as well as a training example), or ``None`` when no line is one (plain text)."""
    records: list[tuple[int, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            records.append((number, error))
    if not any(_is_conversation(record) for _, record in records):
        return None
    conversations = []
    for number, record in records:
        if isinstance(record, json.JSONDecodeError):
            raise InputError(f"not JSON ({record.msg} at column {record.colno}), in a chat JSONL file",
                             path=path, where=number)
        if not _is_conversation(record):
            raise InputError("no \"messages\" list, though other lines of this file are conversations",
                             path=path, where=number)
        odd = next((m for m in record["messages"] if not isinstance(m, dict)), None)
        if odd is not None:
            raise InputError(f"\"messages\" holds {type(odd).__name__} {json.dumps(odd)[:40]}, not a message "
                             "object", path=path, where=number)
        conversations.append(record["messages"])
    return conversations


def _is_conversation(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("messages"), list)


def _file_stats(text: str, counts: _Counts, model: str, path: str) -> dict[str, Any]:
    try:
        return _counted(text, counts, model, path)
    except TextTooLong as error:  # name the file: the counter knows only the text
        raise InputError(f"{error.message}; count the file in parts", path=path) from None


def _counted(text: str, counts: _Counts, model: str, path: str) -> dict[str, Any]:
    lines = text.splitlines()
    conversations = _conversations(lines, path)
    if conversations is not None:
        per_line = [counts.chat(messages) for messages in conversations]
        prompt_tokens = max(per_line, default=0)
        total = sum(per_line)
        unit = "conversation"
    else:
        total = counts.text(text)
        per_line = [counts.text(line) for line in lines]
        prompt_tokens = counts.chat([{"role": "user", "content": text}])
        unit = "line"
    return {"file": path, "model": model, "kind": "text" if conversations is None else "chat JSONL",
            "tokens": total, "units": len(per_line), "unit": unit, "largest_unit": max(per_line, default=0),
            "prompt_tokens": prompt_tokens}


@click.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--model", default="gpt-4o-mini", show_default=True,
              help="Model whose encoding and window to use (a catalogue model, or local:… for a local model's own).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tokens(source: Any, model: str, as_json: bool) -> None:
    """Count the tokens of SOURCE (a text or chat JSONL file, or - for standard input): whether it fits the
    model's context window as one prompt (or per conversation, for JSONL) and what sending it would cost."""
    from ftplug.catalogue.costs import request_cost
    from ftplug.catalogue.models import default_catalogue

    try:
        text = source.read()
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text ({error.reason} at byte {error.start})", path=source.name) from None
    from ftplug.catalogue.local_models import LocalModelNotFound, is_local_model, locate_local_model

    info = None
    if is_local_model(model):
        try:
            locate_local_model(model)
        except LocalModelNotFound as error:
            raise InputError(f"--model: {error}") from None
    else:
        info = default_catalogue().find(model)
        if info is None:
            raise InputError(f"model {model!r} is not in the catalogue (known: "
                             f"{', '.join(m.id for m in default_catalogue().models())}; or a local:… model)")
    counts = _Counts(model)
    window = info.context_window if info is not None else counts.window
    encoding = info.encoding if info is not None else counts.encoding
    stats = _file_stats(text, counts, model, "-" if source is sys.stdin else source.name)
    fits = stats["prompt_tokens"] <= window
    cost = request_cost(model, stats["tokens"], 0) if info is not None else None
    stats.update(context_window=window, fits=fits, input_cost_usd=cost, encoding=encoding)
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    click.echo(f"{stats['file']}: {stats['tokens']:,} tokens ({encoding}, {stats['kind']}, {stats['units']:,} "
               f"{stats['unit']}{'' if stats['units'] == 1 else 's'}, largest {stats['largest_unit']:,})")
    verdict = "fits" if fits else f"does NOT fit (over by {stats['prompt_tokens'] - window:,})"
    what = "the largest conversation" if stats["kind"] == "chat JSONL" else "as one user message"
    name = f"{model} ({info.id})" if info is not None else f"{model} (local, its chat template)"
    click.echo(f"{name}: {what} is {stats['prompt_tokens']:,} prompt tokens; "
               f"the context window is {window:,}: {verdict}")
    if cost is not None and info is not None:
        click.echo(f"sending it as input costs ${cost:,.6f} at ${info.input_price}/1M tokens "
                   f"(catalogue as of {default_catalogue().as_of})")

