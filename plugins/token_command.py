"""``ftplug tokens``: how many tokens a text or JSONL file is, whether it fits a model, what sending it costs."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ftplug import hookimpl


def _file_stats(text: str, model: str, path: str) -> dict[str, Any]:
    from ftplug.chat_format import check_example
    from ftplug.tokens import count_message_tokens, count_text_tokens

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
        per_line = [count_message_tokens(r["messages"], model) for r in records if r is not None]
        prompt_tokens = max(per_line, default=0)
        total = sum(per_line)
        unit = "conversation"
    else:
        total = count_text_tokens(text, model)
        per_line = [count_text_tokens(line, model) for line in lines]
        prompt_tokens = count_message_tokens([{"role": "user", "content": text}], model)
        unit = "line"
    return {"file": path, "model": model, "kind": "chat JSONL" if is_chat else "text", "tokens": total,
            "units": len(per_line), "unit": unit, "largest_unit": max(per_line, default=0),
            "prompt_tokens": prompt_tokens}


@click.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--model", default="gpt-4o-mini", show_default=True, help="Model whose encoding and window to use.")
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
    info = default_catalogue().find(model)
    if info is None:
        raise InputError(f"model {model!r} is not in the catalogue (known: "
                         f"{', '.join(m.id for m in default_catalogue().models())})")
    stats = _file_stats(text, model, "-" if source is sys.stdin else source.name)
    fits = stats["prompt_tokens"] <= info.context_window
    cost = request_cost(model, stats["tokens"], 0)
    stats.update(context_window=info.context_window, fits=fits, input_cost_usd=cost, encoding=info.encoding)
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    click.echo(f"{stats['file']}: {stats['tokens']:,} tokens ({info.encoding}, {stats['kind']}, {stats['units']:,} "
               f"{stats['unit']}s, largest {stats['largest_unit']:,})")
    verdict = "fits" if fits else f"does NOT fit (over by {stats['prompt_tokens'] - info.context_window:,})"
    what = "the largest conversation" if stats["kind"] == "chat JSONL" else "as one user message"
    click.echo(f"{model} ({info.id}): {what} is {stats['prompt_tokens']:,} prompt tokens; "
               f"the context window is {info.context_window:,}: {verdict}")
    if cost is not None:
        click.echo(f"sending it as input costs ${cost:,.6f} at ${info.input_price}/1M tokens "
                   f"(catalogue as of {default_catalogue().as_of})")


@hookimpl
def ftplug_register_commands(cli: click.Group) -> None:
    """Add ``ftplug tokens``."""
    cli.add_command(tokens)
