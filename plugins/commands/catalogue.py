"""``ftplug models``: the model catalogue in use — windows, limits, prices, fine-tuning dates."""

from __future__ import annotations

import dataclasses
import json

import click


def _price(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "—"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models(as_json: bool) -> None:
    """List the models ftplug knows: the shipped catalogue plus any --models / FTPLUG_MODELS files."""
    from ftplug.catalogue.models import default_catalogue

    catalogue = default_catalogue()
    infos = catalogue.models()
    if as_json:
        rows = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dataclasses.asdict(i).items()}
                for i in infos]
        click.echo(json.dumps({"as_of": catalogue.as_of.isoformat(), "models": rows}, indent=2))
        return
    click.echo(f"{'model':<28} {'aliases':<16} {'window':>9} {'max out':>8} {'in $/1M':>8} {'out $/1M':>8} "
               f"{'train $/1M':>10}  {'new jobs until':<15} answers until")
    for info in infos:
        closes = info.fine_tuning_closes.isoformat() if info.fine_tuning_closes else ""
        until = info.fine_tuning_shutdown.isoformat() if info.fine_tuning_shutdown else ""
        click.echo(f"{info.id:<28} {','.join(info.aliases):<16} {info.context_window:>9,} "
                   f"{info.max_output_tokens:>8,} {_price(info.input_price):>8} {_price(info.output_price):>8} "
                   f"{_price(info.training_price):>10}  {closes:<15} {until}")
    click.echo(f"catalogue as of {catalogue.as_of}: check prices against openai.com/api/pricing before relying "
               "on a cost figure")

