"""``ftplug merge OUT IN…``: the result files of a sharded run (or any result files) combined into one."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def merge(out: Path, inputs: tuple[Path, ...]) -> None:
    """Merge the result files INPUTS into OUT (created if missing; what it holds is kept).

    The shard runs of each variant (ftplug run --shard i/n) become one run, succeeded once all n shards
    are in; runs over the whole test split are copied; examples, cached responses and fine-tuning jobs are
    united. `ftplug report --db OUT` then reports the whole experiment.
    """
    from ftplug.plugins.duckdb_store.merge import merge_stores

    summary = merge_stores(str(out), [str(path) for path in inputs])
    for run in summary.merged:
        shards = ",".join(str(i) for i in run.shards)
        missing = sorted(set(range(1, run.count + 1)) - set(run.shards))
        note = f"; missing shard(s) {','.join(map(str, missing))}" if missing else ""
        click.echo(f"{run.experiment} / {run.variant}: shards {shards} of {run.count}, {run.predictions} "
                   f"predictions, {run.status}{note}")
        if len(run.models) > 1:
            click.echo(f"ftplug: warning: {run.experiment} / {run.variant}: the shards used different models "
                       f"({', '.join(run.models)}): each shard trained its own; the merged run mixes them", err=True)
    click.echo(f"{len(summary.merged)} run(s) merged from shards, {summary.copied_runs} whole run(s) copied "
               f"into {out}")

