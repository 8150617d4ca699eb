"""Peak memory of `ftplug run` as the test split grows: does it stay flat, and under 1 GiB at 1,000,000?

    python bench/runner_memory.py                       # test splits of 10,000, 100,000 and 1,000,000
    python bench/runner_memory.py --sizes 10000,100000  # quicker

For each size N, a JSONL dataset of N + 1,000 examples is written: the 14,396 real quotations of the
`fortunes` corpus (bench/data/fortunes_all.jsonl.gz) repeated under new ids until there are enough, each
copy after the first marked with its number (" [2]", " [3]", …) so that no two requests are the same and the
response cache answers none of them (the texts are real, their repetition is not). A zero-shot experiment
with a test split of N runs as a whole process against `bench/stub_server.py` (separate process,
loopback), with its store, response cache, scoring and report. Prints wall time, rate and the process's
peak RSS (max RSS from wait4) per size. Target: under 1 GiB at 1,000,000 (about half an hour on 2 cores:
the requests' time).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import api_environment, fortunes, start_stub, timed, zero_shot_experiment


def _dataset(path: Path, size: int) -> None:
    quotes = fortunes(15_000)
    with path.open("w", encoding="utf-8") as out:
        for index in range(size):
            quote, copy = quotes[index % len(quotes)], index // len(quotes) + 1
            text = quote["input"] if copy == 1 else f"{quote['input']} [{copy}]"
            out.write(json.dumps({"id": f"{quote['id']}-{copy}", "input": text, "expected": quote["expected"]}) + "\n")


def _run(directory: Path, size: int, concurrency: int, env: dict[str, str]) -> tuple[float, int]:
    data = directory / f"quotes-{size}.jsonl"
    _dataset(data, size + 1000)
    experiment = zero_shot_experiment(directory / f"memory-{size}.toml", data, size)
    elapsed, rss, _ = timed([sys.executable, "-m", "ftplug.cli", "run", str(experiment), "--db",
                             str(directory / f"{size}.duckdb"), "--live", "--quiet", "--concurrency",
                             str(concurrency)], env)
    data.unlink()
    return elapsed, rss


def main() -> None:
    """Run each size and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    stub, base_url = start_stub()
    env = api_environment(base_url)
    print(f"zero-shot run against the stub server, concurrency {args.concurrency}")
    print(f"{'test split':>12}  {'wall s':>8}  {'pred/s':>7}  {'peak RSS MiB':>12}")
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for size in (int(part) for part in args.sizes.split(",")):
                elapsed, rss = _run(Path(scratch), size, args.concurrency, env)
                print(f"{size:>12,}  {elapsed:>8.1f}  {size / elapsed:>7.0f}  {rss / 1024:>12.0f}", flush=True)
    finally:
        stub.terminate()
    print("target: peak RSS under 1,024 MiB at 1,000,000")


if __name__ == "__main__":
    main()
