"""``ftplug data validate``: check a fine-tuning file before paying for a job."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def data() -> None:
    """Check and inspect data files."""


@data.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", default="gpt-4o-mini-2024-07-18", show_default=True,
              help="The base model to fine-tune: its training limit, encoding and price.")
@click.option("--n-epochs", default="auto", show_default=True, help="Epochs, or 'auto' as the API chooses.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validate(path: Path, model: str, n_epochs: str, as_json: bool) -> None:
    """Check the chat JSONL fine-tuning file PATH with every rule of OpenAI's data-preparation cookbook;
    print each problem with its line number, token statistics, the epochs and the estimated cost.
    Exit 2 if the fine-tuning service would reject the file."""
    from ftplug.catalogue.models import default_catalogue
    from ftplug.catalogue.training_file import validate_training_file
    from ftplug.errors import InputError

    if not path.is_file():
        raise InputError("no such file", path=path)
    epochs: int | str = n_epochs
    if n_epochs != "auto":
        if not n_epochs.isdigit() or int(n_epochs) < 1:
            raise InputError(f"--n-epochs must be a whole number ≥ 1 or 'auto', got {n_epochs!r}")
        epochs = int(n_epochs)
    report = validate_training_file(path, model, epochs)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        verdict = (f"{len(report.problems)} problem(s): the fine-tuning service would reject this file"
                   if report.rejected else "valid")
        click.echo(f"{path}: {report.examples} valid example(s); {verdict}")
        for problem in report.problems:
            click.echo(f"  {_where(path, problem.line)}: {problem.description} ({problem.code})")
        if report.warnings:
            click.echo(f"{len(report.warnings)} warning(s):")
            for warning in report.warnings:
                click.echo(f"  {_where(path, warning.line)}: {warning.description} ({warning.code})")
        estimate = report.estimate
        if estimate is not None:
            s = estimate.summary()
            limit = f"{s['training_limit']:,}" if s["training_limit"] else "unknown"
            click.echo(f"tokens per example ({estimate.model}): min {s['min_tokens']:,}, median "
                       f"{s['median_tokens']:,}, max {s['max_tokens']:,}; {s['truncated']} over the {limit}-token "
                       "training limit (truncated)")
            how = f"auto for {s['examples']} examples" if s["epochs_auto"] else "as given"
            click.echo(f"epochs: {s['epochs']} ({how}); billed training tokens: {s['billed_tokens']:,}")
            if s["estimated_cost_usd"] is not None:
                click.echo(f"estimated training cost: ${s['estimated_cost_usd']:,.4f} at "
                           f"${s['training_price_per_1m']:.2f} per 1M training tokens (catalogue as of "
                           f"{default_catalogue().as_of})")
            else:
                click.echo(f"estimated training cost: unknown ({model} has no training price in the catalogue)")
    if report.rejected:
        first = report.problems[0]
        raise InputError(f"the fine-tuning service would reject this file: {len(report.problems)} problem(s); "
                         f"the first, {_where(path, first.line)}: {first.description}", path=path)


def _where(path: Path, line: int) -> str:
    return f"line {line}" if line else "file"

