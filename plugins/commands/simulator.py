"""The ``ftplug simulator serve`` command: the offline OpenAI API simulator as a standalone server."""

from __future__ import annotations

from pathlib import Path

import click

from ftplug.cli.options import int_within, number_within


@click.group()
def simulator() -> None:
    """The offline OpenAI API simulator."""


def _faults(error_rate: float, specs: tuple[str, ...]) -> tuple[object, ...]:
    from ftplug.simulator.behaviour.faults import FaultRule

    rules = []
    if error_rate:
        rules.append(FaultRule(kind="500", route="/v1/", probability=error_rate))
    for spec in specs:
        try:
            rules.append(FaultRule.parse(spec))
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--fault") from None
    return tuple(rules)


@simulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8089, show_default=True, type=click.IntRange(0, 65535), help="0 = any free port.")
@click.option("--seed", default=0, show_default=True, type=int_within((0, 2**63 - 1)),
              help="Seed of the simulated models, ids and faults.")
@click.option("--latency-ms", default=0.0, show_default=True, type=number_within((0, 3_600_000)),
              help="Time to the first token of each answer.")
@click.option("--per-token-ms", default=0.0, show_default=True, type=number_within((0, 60_000)),
              help="Time per further generated token.")
@click.option("--error-rate", default=0.0, show_default=True, type=number_within((0, 1)),
              help="Probability of a 500 on any /v1 request.")
@click.option("--fault", "faults", multiple=True, metavar="SPEC",
              help="A fault rule, e.g. '429@/v1/chat/completions:p=0.2' or 'drop:every=10' (repeatable).")
@click.option("--rpm", type=int_within((1, 10_000_000)), help="Requests per minute allowed on model endpoints.")
@click.option("--tpm", type=int_within((1, 10_000_000_000)), help="Tokens per minute allowed on model endpoints.")
@click.option("--slots", type=int_within((1, 100_000)),
              help="Model requests answered at once; more wait in line, as on a model server with that many slots "
                   "(default: no limit).")
@click.option("--api-key", help="Require exactly this bearer key (otherwise any key is accepted).")
@click.option("--speed", default=1.0, show_default=True, type=number_within((0, 1_000_000), open_below=True),
              help="How much faster than real time fine-tuning jobs and batches advance.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep files, jobs and models here across restarts.")
@click.option("--refuse-fine-tuning", is_flag=True,
              help="Answer every new fine-tuning job with 403, as for an organisation that may not fine-tune.")
@click.option("--record", "record_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Proxy JSON requests to the real API (OPENAI_API_KEY, OPENAI_BASE_URL) and keep each exchange.")
@click.option("--replay", "replay_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Answer only from exchanges recorded with --record, matched by request content.")
def serve(host: str, port: int, seed: int, latency_ms: float, per_token_ms: float, error_rate: float,
          faults: tuple[str, ...], rpm: int | None, tpm: int | None, slots: int | None, api_key: str | None,
          speed: float,
          state_dir: Path | None, refuse_fine_tuning: bool, record_dir: Path | None, replay_dir: Path | None) -> None:
    """Serve the simulator until Ctrl-C. The first line on stdout is its base URL; point any OpenAI client
    at it. Its models are simulations: nothing they answer measures a real model."""
    import os

    from ftplug.errors import InputError
    from ftplug.simulator import LatencyModel, Simulator, SimulatorOptions, SystemClock
    from ftplug.simulator import serve as serve_forever

    if record_dir and replay_dir:
        raise InputError("--record and --replay exclude each other")
    upstream_key = os.environ.get("OPENAI_API_KEY")
    if record_dir and not upstream_key:
        raise InputError("--record needs OPENAI_API_KEY for the upstream API")
    if replay_dir and not (replay_dir / "exchanges.jsonl").exists():
        raise InputError("no exchanges.jsonl here: record one with --record first", path=replay_dir)
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        click.echo(f"ftplug simulator: warning: listening on {host} without --api-key: anyone who can reach this "
                   "address can use it and read the files it keeps", err=True)
    options = SimulatorOptions(api_key=api_key, latency=LatencyModel(latency_ms, per_token_ms),
                               faults=_faults(error_rate, faults), rpm=rpm, tpm=tpm,  # type: ignore[arg-type]
                               record_dir=record_dir, replay_dir=replay_dir,
                               upstream_base_url=os.environ.get("OPENAI_BASE_URL") or None,
                               upstream_api_key=upstream_key, refuse_fine_tuning=refuse_fine_tuning, slots=slots)
    serve_forever(Simulator(seed=seed, host=host, port=port, clock=SystemClock(speed), options=options,
                            state_dir=state_dir))

