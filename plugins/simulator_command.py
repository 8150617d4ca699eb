"""The ``ftplug simulator serve`` command: the offline OpenAI API simulator as a standalone server."""

from __future__ import annotations

import click

from ftplug import hookimpl


@click.group()
def simulator() -> None:
    """The offline OpenAI API simulator."""


@simulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8089, show_default=True, type=click.IntRange(0, 65535), help="0 = any free port.")
@click.option("--seed", default=0, show_default=True, help="Seed of the simulated models.")
def serve(host: str, port: int, seed: int) -> None:
    """Serve the simulator until Ctrl-C; point any OpenAI client's base URL at it."""
    from ftplug.simulator import serve as serve_forever

    serve_forever(host, port, seed)


@hookimpl
def ftplug_register_commands(cli: click.Group) -> None:
    """Add ``ftplug simulator``."""
    cli.add_command(simulator)
