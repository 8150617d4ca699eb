"""The exchange-rate example: real 150-day windows hit gpt-4's token wall, and the reductions make room."""

from __future__ import annotations

import json
from datetime import date
from itertools import pairwise

from ftplug.catalogue.tokens import count_text_tokens
from ftplug.config.experiment import load_experiment
from ftplug.config.run_options import RunOptions
from ftplug.engine.planning import make_plan
from tests.helpers import EXAMPLE, fresh_plugins

EXCHANGE = EXAMPLE.with_name("exchange.toml")
WINDOWS = EXAMPLE.with_name("exchange_windows.jsonl")


def test_windows_are_150_days_of_one_series_and_do_not_overlap() -> None:
    rows = [json.loads(line) for line in WINDOWS.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 60 and {r["expected"] for r in rows} <= {"up", "down", "unchanged"}
    spans: dict[str, list[tuple[date, date]]] = {}
    for row in rows:
        lines = row["input"].splitlines()
        assert lines[1] == "date,rate" and len(lines) == 152
        dates = [date.fromisoformat(line.split(",")[0]) for line in lines[2:]]
        assert dates == sorted(dates) and len(set(dates)) == 150
        spans.setdefault(row["id"].split("-")[0], []).append((dates[0], dates[-1]))
    for series in spans.values():
        assert all(earlier[1] < later[0] for earlier, later in pairwise(series))
    # The seed's observation: 150 lines of data are most of an 8,192-token window on their own.
    assert min(count_text_tokens(r["input"], "gpt-4") for r in rows) > 1700


def test_reductions_pack_more_windows_into_the_same_budget() -> None:
    plugins = fresh_plugins()
    experiment = load_experiment(EXCHANGE, plugins.registry)
    plan = make_plan(experiment, RunOptions())
    packed = {}
    for variant in plan.variants:
        for example in plan.test:
            variant.prompt.build(example)
        report = variant.prompt.report()
        # zero-shot prompts whose bytes fit are not counted: their byte count bounds their tokens
        largest = report["prompt_tokens_max"] if report["prompts_not_counted"] == 0 else report["prompt_bytes_max"]
        assert largest <= report["budget"] == 8192 - 256 - 32
        packed[variant.spec.name] = report["packed_min"]
        if report["reduce"]:
            assert report["pool_input_tokens_after_reduce"] < report["pool_input_tokens_before_reduce"]
    assert packed["zero-shot"] == 0
    assert 1 <= packed["max-raw"] < packed["max-last-60"] < packed["max-every-3"] < packed["max-weekly"]
