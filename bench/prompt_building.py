"""Few-shot prompt building at scale: ``shots="max"``, ``select="similar"``, an 8,192-token window.

    python bench/prompt_building.py [--pool 5000] [--prompts 10000]

Corpus: every quotation of Debian's ``fortunes`` package (``bench/data/fortunes_all.jsonl.gz``, 14,396
quotations in 40 files; see ``make_fortunes_corpus.py``). The pool is ``--pool`` quotations chosen by a
seeded shuffle; the test examples are the rest, taken in turn until ``--prompts`` prompts are built (with
5,000 in the pool, 9,396 distinct test quotations; the first 604 are used a second time under new ids).

Prints prompts/s, how the time splits between tokenising, selection and packing, and the reference:
tiktoken encoding every pool input and answer and every test input once, timed in the same run. Target:
the builder's tokenising time is below 2× the reference.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ftplug.catalogue.tokens import TokenCounter
from ftplug.dataset import Example
from ftplug.plugins.few_shot.builder import FewShotBuilder

CORPUS = Path(__file__).resolve().parent / "data" / "fortunes_all.jsonl.gz"
MODEL = "gpt-4"  # 8,192-token window, cl100k_base
CHUNK = 256
SYSTEM = "Name the fortune file this quotation comes from. Answer with the file's name only."


class Stopwatch:
    """Accumulates the time spent inside wrapped callables."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function``, timed."""
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1
        return timed

    def wrap_iterator(self, function: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """``function`` returning an iterator, with the time of producing each item counted."""
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            iterator = iter(function(*args, **kwargs))
            while True:
                start = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    self.seconds += time.perf_counter() - start
                yield item
        return timed


def load(pool_size: int, prompts: int) -> tuple[list[Example], list[Example]]:
    """The pool and the test examples."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    random.Random(0).shuffle(rows)
    examples = [Example(id=r["id"], input=r["input"], expected=r["expected"]) for r in rows]
    pool, rest = examples[:pool_size], examples[pool_size:]
    test = [Example(id=f"{e.id}#{n // len(rest)}", input=e.input, expected=e.expected)
            for n, e in ((n, rest[n % len(rest)]) for n in range(prompts))]
    return pool, test


def reference_seconds(pool: list[Example], test: list[Example]) -> float:
    """tiktoken alone: encode every pool input and answer and every test input once."""
    encoding = TokenCounter(MODEL).encoding
    texts = [e.input_text for e in pool] + [e.expected for e in pool] + [e.input_text for e in test]
    start = time.perf_counter()
    for text in texts:
        encoding.encode_ordinary(text)
    return time.perf_counter() - start


def build_all(pool: list[Example], test: list[Example]) -> dict[str, Any]:
    """Prepare the builder and build every prompt, timing tokenising and selection separately."""
    tokenising, selecting = Stopwatch(), Stopwatch()
    original_counter = TokenCounter.__init__

    def counting_init(self: TokenCounter, model: str) -> None:
        original_counter(self, model)
        self.text = tokenising.wrap(self.text)  # type: ignore[method-assign]
        self.texts = tokenising.wrap(self.texts)  # type: ignore[method-assign]

    TokenCounter.__init__ = counting_init  # type: ignore[method-assign]
    try:
        builder = FewShotBuilder(shots="max", select="similar", system=SYSTEM)
        start = time.perf_counter()
        builder.prepare(pool, MODEL, seed=0)
        prepared = time.perf_counter()
        assert builder.selector is not None
        builder.selector.chunks = selecting.wrap_iterator(builder.selector.chunks)  # type: ignore[method-assign]
        shots = 0
        for first in range(0, len(test), CHUNK):  # as the runner does: a chunk of queries at a time
            shots += sum((len(messages) - 2) // 2 for messages in builder.build_many(test[first:first + CHUNK]))
        finished = time.perf_counter()
    finally:
        TokenCounter.__init__ = original_counter  # type: ignore[method-assign]
    return {"prepare": prepared - start, "build": finished - prepared, "total": finished - start,
            "tokenising": tokenising.seconds, "tokenise_calls": tokenising.calls, "selecting": selecting.seconds,
            "shots_mean": shots / len(test), "report": builder.report()}


def main() -> None:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", type=int, default=5000)
    parser.add_argument("--prompts", type=int, default=10000)
    args = parser.parse_args()
    pool, test = load(args.pool, args.prompts)
    reference = reference_seconds(pool, test)
    result = build_all(pool, test)
    report = result["report"]
    other = result["total"] - result["tokenising"] - result["selecting"]
    print(f"pool {len(pool):,} examples, {len(test):,} prompts, {MODEL} window {report['context_window']:,}, "
          f"budget {report['budget']:,}")
    print(f"prompts/s: {len(test) / result['total']:,.0f}  (total {result['total']:.2f} s: prepare "
          f"{result['prepare']:.2f} s, build {result['build']:.2f} s)")
    print(f"shots per prompt: mean {result['shots_mean']:.1f}, min {report['packed_min']}, max {report['packed_max']}; "
          f"prompt tokens mean {report['prompt_tokens_mean']:,.0f}, max {report['prompt_tokens_max']:,}")
    print(f"time split: tokenising {result['tokenising']:.2f} s ({result['tokenise_calls']:,} encodes), "
          f"selection {result['selecting']:.2f} s, packing and assembly {other:.2f} s")
    ratio = result["tokenising"] / reference
    print(f"reference: tiktoken encoding pool inputs, answers and test inputs once: {reference:.2f} s")
    print(f"tokenising / reference = {ratio:.2f} (target < 2.00): {'PASS' if ratio < 2 else 'FAIL'}")


if __name__ == "__main__":
    main()
