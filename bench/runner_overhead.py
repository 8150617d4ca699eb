"""`ftplug run` against a bare AsyncOpenAI loop: same server, same prompts, same concurrency, side by side.

    python bench/runner_overhead.py                       # 2,000 zero-shot predictions, zero latency
    python bench/runner_overhead.py --requests 1000 --latency-ms 200 --concurrency 100

Both sides are whole processes, timed from start to exit, against `bench/stub_server.py` on loopback
(a separate process), alternating round by round:

- the reference: a script that imports the official SDK and sends the N chat requests (system message +
  quotation, as the zero-shot variant sends them) from `concurrency` asyncio workers, and exits; on the
  SDK's default transport (the reference) and, as a second line, on the SDK's aiohttp transport, which
  ftplug uses;
- ftplug: `ftplug run` of a zero-shot experiment over the same N real quotations (the `fortunes` corpus),
  with its scoring, its DuckDB store (a new file each round), its response cache and its report.

Prints each side's median wall time, their ratio (target <= 1.10), and with a latency the ideal
N x latency / concurrency with both sides' ratios to it. Also prints ftplug's peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEM = "Classify the quotation by topic. Answer with exactly one word."
BARE = '''
import asyncio, json, sys
from openai import AsyncOpenAI, DefaultAioHttpClient

async def main(path, concurrency, transport):
    client = AsyncOpenAI(max_retries=0, **({"http_client": DefaultAioHttpClient()} if transport == "aiohttp" else {}))
    lines = iter(open(path, encoding="utf-8"))
    async def worker():
        for line in lines:
            example = json.loads(line)
            await client.chat.completions.create(model="gpt-4o-mini-2024-07-18", temperature=0, seed=7, messages=[
                {"role": "system", "content": SYSTEM}, {"role": "user", "content": example["input"]}])
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await client.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
'''


def _experiment(directory: Path, requests: int) -> tuple[Path, Path]:
    """The test examples (JSONL) and an experiment whose test split is exactly them."""
    with gzip.open(HERE / "data" / "fortunes_all.jsonl.gz", "rt", encoding="utf-8") as corpus:
        examples = [json.loads(line) for line, _ in zip(corpus, range(requests + 50), strict=False)]
    data = directory / "quotes.jsonl"
    data.write_text("".join(json.dumps(e) + "\n" for e in examples), encoding="utf-8")
    test = directory / "test.jsonl"
    experiment = directory / "overhead.toml"
    experiment.write_text(f'''[experiment]
name = "overhead"
seed = 7
[data]
loader = "jsonl"
path = "{data}"
[split]
test = {requests}
validation = 0
[model]
base = "gpt-4o-mini-2024-07-18"
[[variants]]
name = "zero-shot"
prompt = {{ builder = "few-shot", shots = 0, system = {json.dumps(SYSTEM)} }}
[scoring]
scorers = ["exact"]
''', encoding="utf-8")
    return experiment, test


def _write_test_split(experiment: Path, test: Path) -> int:
    """The examples ftplug puts in the test split, for the reference script to send the same prompts."""
    from ftplug.experiment import load_experiment
    from ftplug.plugin_manager import get_plugins
    from ftplug.runner import load_splits

    splits = load_splits(load_experiment(experiment, get_plugins().registry))
    test.write_text("".join(json.dumps({"input": e.input}) + "\n" for e in splits.test), encoding="utf-8")
    return len(splits.test)


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds of ``command`` and its own peak RSS in KiB; fails loudly if it fails."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command[:4])} failed ({process.returncode}): "
                             f"{errors.read()[-2000:].decode(errors='replace')}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    """Run the comparison and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stub = subprocess.Popen([sys.executable, str(HERE / "stub_server.py"), "0", str(args.latency_ms)],
                            stdout=subprocess.PIPE, text=True)
    assert stub.stdout is not None
    base_url = stub.stdout.readline().strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=base_url)
    times: dict[str, list[float]] = {"bare": [], "bare-aiohttp": [], "ftplug": []}
    peak = 0
    try:
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            experiment, test = _experiment(directory, args.requests)
            count = _write_test_split(experiment, test)
            script = directory / "bare.py"
            script.write_text(f"SYSTEM = {SYSTEM!r}\n{BARE}", encoding="utf-8")
            bare = [sys.executable, str(script), str(test), str(args.concurrency)]
            for round_number in range(args.rounds):
                sides = list(times) if round_number % 2 == 0 else list(reversed(times))
                for side in sides:
                    if side.startswith("bare"):
                        elapsed, _ = _timed([*bare, "aiohttp" if side == "bare-aiohttp" else "httpx"], env)
                    else:
                        db = directory / f"run{round_number}.duckdb"
                        elapsed, rss = _timed([sys.executable, "-m", "ftplug.cli", "run", str(experiment), "--db",
                                               str(db), "--live", "--quiet", "--concurrency",
                                               str(args.concurrency)], env)
                        peak = max(peak, rss)
                    times[side].append(elapsed)
    finally:
        stub.terminate()
    bare_s, ftplug_s = statistics.median(times["bare"]), statistics.median(times["ftplug"])
    aiohttp_s = statistics.median(times["bare-aiohttp"])
    print(f"{count} zero-shot predictions, concurrency {args.concurrency}, server latency {args.latency_ms:g} ms, "
          f"{args.rounds} rounds (whole processes)")
    print(f"bare AsyncOpenAI loop: {bare_s:6.2f} s  (rounds: {', '.join(f'{t:.2f}' for t in times['bare'])})")
    print(f"bare loop, aiohttp:    {aiohttp_s:6.2f} s  "
          f"(rounds: {', '.join(f'{t:.2f}' for t in times['bare-aiohttp'])})")
    print(f"ftplug run:            {ftplug_s:6.2f} s  (rounds: {', '.join(f'{t:.2f}' for t in times['ftplug'])})")
    print(f"ratio ftplug / bare: {ftplug_s / bare_s:.2f}  (target <= 1.10); "
          f"ftplug / bare on the same aiohttp transport: {ftplug_s / aiohttp_s:.2f}")
    if args.latency_ms:
        ideal = count * args.latency_ms / 1000 / args.concurrency
        print(f"ideal N x latency / concurrency: {ideal:.2f} s; bare {bare_s / ideal:.2f} x ideal, "
              f"bare aiohttp {aiohttp_s / ideal:.2f} x ideal, ftplug {ftplug_s / ideal:.2f} x ideal")
    print(f"ftplug peak RSS: {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
