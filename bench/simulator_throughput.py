"""Chat-completion throughput of the simulator against a trivial stub server, side by side.

    python bench/simulator_throughput.py [--requests 3000] [--concurrency 64] [--rounds 3]

Both servers run as separate processes on 127.0.0.1; the official AsyncOpenAI client sends the same
few-shot chat request to each, alternating servers round by round. Prints each server's median rate
(requests/s), and the simulator's rate as a fraction of the stub's. Target: at least 0.80.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

from openai import AsyncOpenAI

MESSAGES = [
    {"role": "system", "content": "Classify the quotation by topic. Answer with exactly one of: science, law, food."},
    {"role": "user", "content": "The court of appeal upheld the ruling."}, {"role": "assistant", "content": "law"},
    {"role": "user", "content": "Bake the bread until golden."}, {"role": "assistant", "content": "food"},
    {"role": "user", "content": "Energy equals mass times the speed of light squared."},
    {"role": "assistant", "content": "science"},
    {"role": "user", "content": "The judge dismissed the appeal."},
]


async def _rate(base_url: str, requests: int, concurrency: int) -> float:
    client = AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    try:
        async def drive(count: int) -> float:
            remaining = iter(range(count))

            async def worker() -> None:
                for _ in remaining:
                    await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return count / (time.perf_counter() - started)

        await drive(concurrency * 4)  # warm-up: connections, caches
        return await drive(requests)
    finally:
        await client.close()


def _start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def main() -> None:
    """Run the comparison and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    servers = {
        "stub": [sys.executable, str(Path(__file__).with_name("stub_server.py"))],
        "simulator": [sys.executable, "-m", "ftplug.cli", "simulator", "serve", "--port", "0"],
    }
    started = {name: _start(command) for name, command in servers.items()}
    rates: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for round_number in range(args.rounds):
            order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
            for name in order:
                rates[name].append(asyncio.run(_rate(started[name][1], args.requests, args.concurrency)))
    finally:
        for process, _ in started.values():
            process.terminate()
    stub, simulator = statistics.median(rates["stub"]), statistics.median(rates["simulator"])
    print(f"AsyncOpenAI, concurrency {args.concurrency}, {args.requests} requests x {args.rounds} rounds")
    print(f"stub server:  {stub:8.0f} requests/s  (rounds: {', '.join(f'{r:.0f}' for r in rates['stub'])})")
    print(f"simulator:    {simulator:8.0f} requests/s  (rounds: {', '.join(f'{r:.0f}' for r in rates['simulator'])})")
    print(f"ratio simulator / stub: {simulator / stub:.2f}  (target >= 0.80)")


if __name__ == "__main__":
    main()
