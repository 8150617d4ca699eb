"""ftplug against promptfoo on the same 1,000 zero-shot requests, the same server, the same concurrency.

    npm install --prefix /tmp/peer promptfoo          # the peer (once; see bench/README.md)
    python bench/peer_promptfoo.py --promptfoo /tmp/peer/node_modules/.bin/promptfoo

Both are whole processes, timed from start to exit, against `bench/stub_server.py` (separate process,
loopback), alternating round by round, in two settings: zero server latency at concurrency 32, and 200 ms
latency at concurrency 100. The 1,000 test cases are real quotations of the `fortunes` corpus; each tool
sends the system message and the quotation, checks the answer for an exact match, and stores its results
(ftplug in its DuckDB file, promptfoo in its own database, as each does by default; promptfoo's cache,
telemetry and update check are off). Prints each tool's median wall time and ftplug / promptfoo (target:
at most 0.5).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import MODEL, SYSTEM, api_environment, fortunes, start_stub, test_split, timed, zero_shot_experiment


def _cases(directory: Path, count: int) -> tuple[Path, Path]:
    """The same examples for both tools: a JSONL for ftplug (all test) and a CSV for promptfoo."""
    jsonl = directory / "quotes.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in fortunes(count + 1)), encoding="utf-8")
    experiment = zero_shot_experiment(directory / "peer.toml", jsonl, count)
    table = directory / "tests.csv"
    with table.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["input", "expected"])
        writer.writerows([example.input, example.expected] for example in test_split(experiment))
    return experiment, table


def _promptfoo_config(directory: Path, table: Path, base_url: str) -> Path:
    config = directory / "promptfooconfig.json"
    config.write_text(json.dumps({
        "description": "ftplug peer benchmark",
        "prompts": [{"id": "zero-shot", "raw": json.dumps([{"role": "system", "content": SYSTEM},
                                                            {"role": "user", "content": "{{input}}"}])}],
        "providers": [{"id": f"openai:chat:{MODEL}",
                       "config": {"apiBaseUrl": base_url, "apiKey": "sk-bench", "temperature": 0, "seed": 7}}],
        "tests": f"file://{table}",
        "defaultTest": {"assert": [{"type": "equals", "value": "{{expected}}"}]},
    }), encoding="utf-8")
    return config


def _timed(command: list[str], env: dict[str, str], cwd: Path, promptfoo: bool) -> float:
    # promptfoo exits 100 when assertions fail, which they do here (the stub always answers "food"); it may
    # also crash on its way out ("write after end" in its logger) after the evaluation completed
    elapsed, _, printed = timed(command, env, cwd, ok=tuple(range(256)) if promptfoo else (0,))
    if promptfoo and b"Eval complete" not in printed:
        raise SystemExit(f"promptfoo did not complete its evaluation: {printed[-2000:].decode(errors='replace')}")
    return elapsed


def _setting(args: argparse.Namespace, latency_ms: float, concurrency: int) -> tuple[float, float]:
    stub, base_url = start_stub(latency_ms)
    times: dict[str, list[float]] = {"ftplug": [], "promptfoo": []}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            experiment, table = _cases(directory, args.requests)
            config = _promptfoo_config(directory, table, base_url)
            env = api_environment(base_url)
            env.update(PROMPTFOO_DISABLE_TELEMETRY="1",
                       PROMPTFOO_DISABLE_UPDATE="1", PROMPTFOO_CONFIG_DIR=str(directory / "promptfoo-home"),
                       PROMPTFOO_CACHE_ENABLED="false")
            for round_number in range(args.rounds):
                order = ["ftplug", "promptfoo"] if round_number % 2 == 0 else ["promptfoo", "ftplug"]
                for tool in order:
                    if tool == "ftplug":
                        command = [sys.executable, "-m", "ftplug.cli", "run", str(experiment), "--db",
                                   str(directory / f"r{round_number}.duckdb"), "--live", "--quiet",
                                   "--concurrency", str(concurrency)]
                    else:  # a fresh home each round, as ftplug gets a fresh result file
                        env["PROMPTFOO_CONFIG_DIR"] = str(directory / f"promptfoo-home-{round_number}")
                        command = [args.promptfoo, "eval", "-c", str(config), "--max-concurrency", str(concurrency),
                                   "--no-cache", "--no-progress-bar", "--no-table"]
                    times[tool].append(_timed(command, env, directory, promptfoo=tool == "promptfoo"))
    finally:
        stub.terminate()
    return statistics.median(times["ftplug"]), statistics.median(times["promptfoo"])


def main() -> None:
    """Run both settings and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promptfoo", default=shutil.which("promptfoo") or "promptfoo")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    version = subprocess.run([args.promptfoo, "--version"], capture_output=True, text=True, check=False,
                             env={**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1"})
    print(f"promptfoo {version.stdout.strip()}; {args.requests} zero-shot requests, {args.rounds} rounds, "
          "whole processes")
    for latency_ms, concurrency in ((0.0, 32), (200.0, 100)):
        ftplug_s, promptfoo_s = _setting(args, latency_ms, concurrency)
        ideal = f"; ideal {args.requests * latency_ms / 1000 / concurrency:.2f} s" if latency_ms else ""
        print(f"latency {latency_ms:g} ms, concurrency {concurrency}: ftplug {ftplug_s:.2f} s, promptfoo "
              f"{promptfoo_s:.2f} s, ratio ftplug / promptfoo {ftplug_s / promptfoo_s:.2f} (target <= 0.50){ideal}")


if __name__ == "__main__":
    main()
