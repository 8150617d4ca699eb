"""``ftplug tokens``: how many tokens a text or JSONL file is, whether it fits a model, what sending it costs."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ftplug import hookimpl


class _Counts:
    """Token counts for ``model``: tiktoken's, as the API counts them, or a local model's own (``local:…``)."""

    def __init__(self, model: str) -> None:
        from ftplug.local_models import is_local_model

        self.local = is_local_model(model)
        if self.local:
            from ftplug.plugins.local_runtime import local_token_counter

            self.counter, self.window = local_token_counter(model)
            self.encoding = "the model's own tokenizer"
        else:
            from ftplug.tokens import TokenCounter

            self.counter, self.window, self.encoding = TokenCounter(model), 0, ""

    def text(self, text: str) -> int:
        """Tokens of ``text``."""
        return self.counter.text(text)

    def chat(self, messages: list[dict[str, Any]]) -> int:
        """Prompt tokens of a conversation."""
        return self.counter.messages(messages)


def _file_stats(text: str, counts: _Counts, model: str, path: str) -> dict[str, Any]:
    from ftplug.chat_format import check_example

    lines = text.splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line) if line.strip() else None)
        except json.JSONDecodeError:
            records = []
            break
    is_chat = bool(records) and all(r is None or not check_example(r) for r in records)
    if is_chat:
        per_line = [counts.chat(r["messages"]) for r in records if r is not None]
        prompt_tokens = max(per_line, default=0)
        total = sum(per_line)
        unit = "conversation"
    else:
        total = counts.text(text)
        per_line = [counts.text(line) for line in lines]
        prompt_tokens = counts.chat([{"role": "user", "content": text}])
        unit = "line"
    return {"file": path, "model": model, "kind": "chat JSONL" if is_chat else "text", "tokens": total,
            "units": len(per_line), "unit": unit, "largest_unit": max(per_line, default=0),
            "prompt_tokens": prompt_tokens}


@click.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--model", default="gpt-4o-mini", show_default=True,
              help="Model whose encoding and window to use (a catalogue model, or local:… for a local model's own).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tokens(source: Any, model: str, as_json: bool) -> None:
    """Count the tokens of SOURCE (a text or chat JSONL file, or - for standard input): whether it fits the
    model's context window as one prompt (or per conversation, for JSONL) and what sending it would cost."""
    from ftplug.catalogue import default_catalogue
    from ftplug.costs import request_cost
    from ftplug.errors import InputError

    try:
        text = source.read()
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text ({error.reason} at byte {error.start})", path=source.name) from None
    from ftplug.local_models import LocalModelNotFound, is_local_model, locate_local_model

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
               f"{stats['unit']}s, largest {stats['largest_unit']:,})")
    verdict = "fits" if fits else f"does NOT fit (over by {stats['prompt_tokens'] - window:,})"
    what = "the largest conversation" if stats["kind"] == "chat JSONL" else "as one user message"
    name = f"{model} ({info.id})" if info is not None else f"{model} (local, its chat template)"
    click.echo(f"{name}: {what} is {stats['prompt_tokens']:,} prompt tokens; "
               f"the context window is {window:,}: {verdict}")
    if cost is not None and info is not None:
        click.echo(f"sending it as input costs ${cost:,.6f} at ${info.input_price}/1M tokens "
                   f"(catalogue as of {default_catalogue().as_of})")


@hookimpl
def ftplug_register_commands(cli: click.Group) -> None:
    """Add ``ftplug tokens``."""
    cli.add_command(tokens)
