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
import json
import statistics
import sys
import tempfile
from pathlib import Path

from common import SYSTEM, api_environment, fortunes, start_stub, test_split, timed, zero_shot_experiment

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


def main() -> None:
    """Run the comparison and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stub, base_url = start_stub(args.latency_ms)
    env = api_environment(base_url)
    times: dict[str, list[float]] = {"bare": [], "bare-aiohttp": [], "ftplug": []}
    peak = 0
    try:
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            data = directory / "quotes.jsonl"
            data.write_text("".join(json.dumps(e) + "\n" for e in fortunes(args.requests + 50)), encoding="utf-8")
            experiment = zero_shot_experiment(directory / "overhead.toml", data, args.requests)
            chosen = test_split(experiment)
            count = len(chosen)
            test = directory / "test.jsonl"
            test.write_text("".join(json.dumps({"input": e.input}) + "\n" for e in chosen), encoding="utf-8")
            script = directory / "bare.py"
            script.write_text(f"SYSTEM = {SYSTEM!r}\n{BARE}", encoding="utf-8")
            bare = [sys.executable, str(script), str(test), str(args.concurrency)]
            for round_number in range(args.rounds):
                sides = list(times) if round_number % 2 == 0 else list(reversed(times))
                for side in sides:
                    if side.startswith("bare"):
                        elapsed, _, _ = timed([*bare, "aiohttp" if side == "bare-aiohttp" else "httpx"], env)
                    else:
                        db = directory / f"run{round_number}.duckdb"
                        elapsed, rss, _ = timed([sys.executable, "-m", "ftplug.cli", "run", str(experiment), "--db",
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
