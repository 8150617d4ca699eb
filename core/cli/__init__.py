"""The ``ftplug`` command line. Plugins add commands through ``ftplug_register_commands``.

Only click and pluggy are imported at start-up; the SDK, DuckDB and tiktoken load when a command
needs them, so ``ftplug --help`` stays fast.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ftplug import __version__
from ftplug.cli.lazy_commands import LazyGroup
from ftplug.cli.options import MAX_SHARDS, db_option, int_within, named_file, number_within
from ftplug.config import limits
from ftplug.errors import FtplugError

if TYPE_CHECKING:
    from ftplug.engine.endpoint import Mode


class PluginGroup(LazyGroup):
    """ftplug's top-level group: plugin commands are added the first time commands are listed or one is not
    found among the core's. The built-in ones are declared lazily (``ftplug.plugins.commands.hooks``); when no
    third-party plugin is there to load, that declaration is all there is, and no other plugin is loaded."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from ftplug.pluginhost.sources import blocked, third_party_plugins_to_load

        if third_party_plugins_to_load():
            from ftplug.pluginhost.manager import get_plugins

            get_plugins(commands_only=True).call_each("ftplug_register_commands", cli=self)
        elif "commands" not in blocked():
            from ftplug.plugins.commands.table import declare_commands  # what the plugin `commands` does

            declare_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command


def _add_plugin_files(paths: tuple[str, ...]) -> None:
    if paths:
        from ftplug.pluginhost.sources import add_plugin_files

        add_plugin_files(paths)


def _err(message: str) -> None:
    from ftplug.config.secrets import redact

    click.echo(redact(message), err=True)


@click.group(cls=PluginGroup)
@click.version_option(__version__, prog_name="ftplug")
@click.option("--models", "model_files", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="A model catalogue file adding or overriding models (context windows, prices); repeatable. "
                   "Also FTPLUG_MODELS.")
@click.option("--plugin", "plugin_files", multiple=True, type=click.Path(dir_okay=False), metavar="PATH",
              is_eager=True, expose_value=False, callback=lambda _c, _p, paths: _add_plugin_files(paths),
              help="Load a plugin from a .py file; repeatable. Also FTPLUG_PLUGINS (paths separated by "
                   f"{os.pathsep!r}).")
def cli(model_files: tuple[str, ...]) -> None:
    """Fine-tune or few-shot prompt? Compare both on your own task: accuracy, cost, latency."""
    if model_files:
        from ftplug.catalogue.models import use_catalogue_file

        for model_file in model_files:
            use_catalogue_file(model_file)


@cli.command()
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path), callback=named_file)
@db_option("DuckDB file for the results.")
@click.option("--simulate", "mode", flag_value="simulate", help="Use the offline simulator.")
@click.option("--live", "mode", flag_value="live", help="Use the real API (needs OPENAI_API_KEY).")
@click.option("--limit", type=int_within((1, 10**12)), help="Use only the first N test examples.")
@click.option("--concurrency", type=int_within(limits.CONCURRENCY), help="Requests in flight at once (default: "
                                                                          "[run] concurrency, else 32).")
@click.option("--rpm", type=number_within(limits.RPM), help="At most this many requests per minute to the "
                                                            "endpoint ([run] rpm).")
@click.option("--tpm", type=number_within(limits.TPM), help="At most this many tokens per minute (prompt + "
                                                            "completion; [run] tpm).")
@click.option("--max-attempts", type=int_within(limits.MAX_ATTEMPTS),
              help="Attempts per request before its error is stored ([run] max_attempts, else 5).")
@click.option("--explain", metavar="VARIANT", help="Print the exact messages VARIANT sends for the first test "
                                                    "example, with token counts, and call nothing.")
@click.option("--dry-run", is_flag=True, help="Print every variant's estimated training and inference cost "
                                              "and call nothing.")
@click.option("--yes", is_flag=True, help="Start fine-tuning jobs without asking, whatever the estimate.")
@click.option("--max-training-cost", type=number_within(limits.MAX_COST), metavar="USD",
              help="Refuse to start a fine-tuning job estimated above USD.")
@click.option("--quiet", "-q", is_flag=True, help="No progress or information lines: only errors, the SIMULATED "
                                                 "notice and the report.")
@click.option("--max-cost", type=number_within(limits.MAX_COST), metavar="USD",
              help="Stop asking once this run has paid USD for answers (resume later with a higher limit).")
@click.option("--no-cache", "no_cache", is_flag=True, help="Ask the model even where the response cache holds "
                                                          "the answer (new answers are still cached).")
@click.option("--shard", metavar="I/N", callback=lambda _c, _p, value: _shard(value),
              help="Run only the I-th of N disjoint slices of the test split, into its own file (default "
                   "--db: ftplug.shard-I-of-N.duckdb); `ftplug merge` combines the files.")
@click.option("--batch", "use_batch", is_flag=True,
              help="Send the requests through the Batch API (half price, answered within 24 hours); an interrupted "
                   "run collects its batches when run again.")
@click.option("--fresh", is_flag=True, help="Start new runs even where an earlier run of the same variant can be "
                                            "resumed or is complete.")
def run(experiment: Path, db: str, mode: Mode | None, explain: str | None, dry_run: bool, **flags: Any) -> int:
    """Run every variant of EXPERIMENT (a TOML file) and print the comparison.

    Without OPENAI_API_KEY (or with --simulate) requests go to the embedded offline simulator and every
    result is labelled simulated. Running it again resumes what an interrupted run left unfinished.
    """
    from ftplug.cli.run_command import RunFlags, run_experiment

    return run_experiment(experiment, db, mode, explain, dry_run, RunFlags(**flags), _err)


def _shard(value: str | None) -> tuple[int, int] | None:
    """``I/N`` as ``(I, N)``, or a usage error saying what is wrong."""
    if value is None:
        return None
    index, _, count = value.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 1 <= int(index) <= int(count) <= MAX_SHARDS:
        raise click.BadParameter(f"{value!r}: write I/N with 1 ≤ I ≤ N ≤ {MAX_SHARDS:,}, e.g. 2/4",
                                 param_hint="--shard")
    return int(index), int(count)


def _open_existing_store(db: str) -> Any:
    from ftplug.store import open_existing_store

    return open_existing_store(db)


@cli.command()
@db_option()
@click.option("--experiment", help="Experiment name (default: the most recently run).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), callback=named_file,
              help="Write the report to this file (default for html: EXPERIMENT-report.html).")
@click.option("--volume", type=int_within(limits.VOLUME), help="Predictions to price the variants at "
                                                               "(overrides [report] volume).")
@click.option("--reference", help="The variant every other one is tested against (overrides [report] reference).")
@click.option("--resamples", type=int_within((100, 1_000_000)), default=2000, show_default=True,
              help="Bootstrap resamples for the confidence intervals.")
def report(db: str, experiment: str | None, fmt: str, output: Path | None, volume: int | None,
           reference: str | None, resamples: int) -> None:
    """The decision report: every metric with its 95% confidence interval, paired tests against the
    reference variant, costs, fine-tuning, break-even volumes and the verdict."""
    from ftplug.report.analysis import analyse
    from ftplug.report.text import render_csv, render_json, render_text

    store = _open_existing_store(db)
    try:
        analysis = analyse(store, experiment, volume=volume, reference=reference, resamples=resamples)
    finally:
        store.close()
    if experiment and not analysis["variants"]:
        raise FtplugError(f"{db}: no runs of experiment {experiment!r}")
    if fmt == "html":
        from ftplug.report.html import render_html

        target = output or Path(f"{analysis['experiment'] or 'ftplug'}-report.html")
        target.write_text(render_html(analysis), encoding="utf-8")
        click.echo(f"wrote {target}" + (" (SIMULATED results)" if analysis.get("simulated") else ""))
        return
    text = {"json": render_json, "csv": render_csv}.get(fmt, render_text)(analysis)
    if output:
        output.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


@cli.command()
@click.argument("query")
@db_option()
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "tsv"]), default="table",
              show_default=True)
def sql(query: str, db: str, fmt: str) -> None:
    """Run a SQL QUERY against the results, read-only. Tables: runs, predictions, scores, examples,
    finetune_jobs, finetune_events; views: summary, costs, comparisons, latest_runs."""
    from ftplug.cli.sql_output import format_rows, read_only

    if not query.strip():
        raise click.BadParameter("an empty query: write one, e.g. 'SELECT * FROM summary'", param_hint="QUERY")
    with read_only(db) as connection:
        columns, rows = _query(connection, query)
    if columns:
        click.echo(format_rows(columns, rows, fmt))


def _query(connection: Any, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import duckdb

    from ftplug.errors import InputError

    try:
        cursor = connection.execute(query)
    except duckdb.Error as error:
        raise InputError(f"SQL error: {str(error).splitlines()[0]}") from None
    if not cursor.description:
        return [], []
    return [d[0] for d in cursor.description], cursor.fetchall()


@cli.group()
def cache() -> None:
    """The response cache in the result store: every answer paid for once."""


@cache.command("stats")
@db_option()
def cache_stats(db: str) -> None:
    """Cached responses and how often they were reused, live and simulated apart."""
    store = _open_existing_store(db)
    try:
        stats = store.cache_stats()
    finally:
        store.close()
    for kind in ("live", "simulated"):
        click.echo(f"{kind}: {stats['entries'].get(kind, 0):,} cached responses, reused "
                   f"{stats['hits'].get(kind, 0):,} times")
    click.echo(f"predictions answered from the cache: {stats['predictions_from_cache']:,} of "
               f"{stats['predictions']:,}")


@cache.command("clear")
@db_option()
def cache_clear(db: str) -> None:
    """Empty the response cache (stored predictions are kept)."""
    store = _open_existing_store(db)
    try:
        removed = store.clear_cache()
    finally:
        store.close()
    click.echo(f"removed {removed:,} cached responses")


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@db_option()
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
def export(folder: Path, db: str, fmt: str) -> None:
    """Write every table and view of the result store to FOLDER, one file each."""
    from ftplug.cli.sql_output import EXPORTED, read_only

    folder.mkdir(parents=True, exist_ok=True)
    with read_only(db) as connection:
        present = {row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        for name in EXPORTED:
            if name in present:
                target = folder / f"{name}.{fmt}"
                options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
                connection.execute(f"COPY (SELECT * FROM {name}) TO '{target.as_posix()}' ({options})")
                click.echo(f"wrote {target}")


cli.add_lazy_command("plugins", "ftplug.cli.plugins_command:plugins", "Inspect installed plugins, or start a new one.")


def _shortened(name: str, limit: int = 160) -> str:
    return name if len(name) <= limit else f"{name[:limit // 2]}…{name[-limit // 2:]}"


def _out_of_memory(error: BaseException) -> bool:
    """Python's out-of-memory error, or the result store's (DuckDB's, told by name: not importing DuckDB here)."""
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryException"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one clear line on stderr and an exit code for every failure."""
    from ftplug.cli.process_exit import exit_now

    exit_now(exit_code(argv))


def exit_code(argv: list[str] | None) -> int:
    """Run the command line; its exit code, every failure reported in one line on stderr."""
    with_nul = [index for index, argument in enumerate(argv or sys.argv[1:], start=1) if "\x00" in argument]
    if with_nul:  # no file can be named so, and the OS would refuse the rest of the argument
        _err(f"ftplug: error: argument {with_nul[0]} contains a NUL byte")
        return 2
    try:
        result = cli.main(args=argv, prog_name="ftplug", standalone_mode=False)
    except click.exceptions.Abort:
        _err("ftplug: aborted")
        return 130
    except click.UsageError as error:  # one line, as for every other bad input
        command = error.ctx.command_path if error.ctx is not None else "ftplug"
        _err(f"ftplug: error: {error.format_message()} (see {command} --help)")
        return error.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except FtplugError as error:
        _err(f"ftplug: error: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        _err("ftplug: interrupted")
        return 130
    except OSError as error:
        if error.filename is None or os.environ.get("FTPLUG_DEBUG"):
            raise
        # a file named on the command line that cannot be made or read as asked: the user's to fix
        _err(f"ftplug: error: {_shortened(str(error.filename))}: {error.strerror or error}")
        return 1 if error.errno in (errno.ENOSPC, errno.EIO, errno.EDQUOT) else 2
    except Exception as error:
        if os.environ.get("FTPLUG_DEBUG"):
            raise
        if _out_of_memory(error):
            limit = os.environ.get("FTPLUG_DB_MEMORY", "")
            advice = (f"FTPLUG_DB_MEMORY={limit} caps the result store's: raise it or unset it" if limit
                      else "free memory on this machine (the result store may use 80 % of it)")
            _err(f"ftplug: error: out of memory: {advice}; every committed prediction is kept, run again to go on "
                 f"({str(error).splitlines()[0]})")
            return 1
        _err(f"ftplug: internal error: {type(error).__name__}: {error} (set FTPLUG_DEBUG=1 for a traceback)")
        return 1
    return result if isinstance(result, int) else 0

