"""Client-side rate limits, the server's rate-limit headers, and the retry policy."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from ftplug.config.experiment import load_experiment
from ftplug.config.run_options import RunOptions
from ftplug.engine.endpoint import Endpoint
from ftplug.engine.rate_limits import RequestLimiter, parse_duration
from ftplug.engine.retry_policy import RetryPolicy, retry_after
from ftplug.engine.workbench import Workbench
from ftplug.plugins.duckdb_store.store import DuckDBStore
from ftplug.simulator import FaultRule, Simulator, SimulatorOptions
from tests.helpers import ROOT, fresh_plugins


class FakeTime:
    """A clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def _admissions(limiter: RequestLimiter, time: FakeTime, sizes: list[int],
                used: list[int] | None = None) -> list[tuple[float, int]]:
    """Admit requests of ``sizes`` tokens one after another; settle each with ``used`` if given."""
    admitted = []

    async def go() -> None:
        for index, size in enumerate(sizes):
            reservation = await limiter.acquire(size)
            admitted.append((time.now, used[index] if used else size))
            if used:
                limiter.settle(reservation, used[index])

    asyncio.run(go())
    return admitted


def _most_in_any_window(admitted: list[tuple[float, int]], seconds: float, weight: bool = False) -> float:
    """The largest count (or token sum) admitted within any window of ``seconds``."""
    best = 0.0
    for start, _ in admitted:
        inside = [amount for at, amount in admitted if start <= at < start + seconds]
        best = max(best, sum(inside) if weight else len(inside))
    return best


def test_the_limiter_never_exceeds_its_rpm_over_any_minute_and_paces_within_it() -> None:
    time = FakeTime()
    limiter = RequestLimiter(rpm=120, clock=time.clock, sleep=time.sleep)
    admitted = _admissions(limiter, time, [0] * 600)
    assert _most_in_any_window(admitted, 60) == 120  # the limit, used in full and never passed
    assert _most_in_any_window(admitted, 1.0) <= 2 + 2  # a second's burst plus a second's rate
    span = admitted[-1][0] - admitted[0][0]
    assert 297 <= span <= 301  # 600 requests at 2 per second: the limit is used, not wasted


def test_the_token_limit_counts_real_usage_and_refuses_what_never_fits() -> None:
    time = FakeTime()
    limiter = RequestLimiter(tpm=10_000, clock=time.clock, sleep=time.sleep)
    rng = random.Random(3)
    sizes = [rng.randint(100, 900) for _ in range(300)]
    used = [max(1, size - rng.randint(0, 80)) for size in sizes]  # usage is known only after the answer
    admitted = _admissions(limiter, time, sizes, used)
    assert _most_in_any_window(admitted, 60, weight=True) <= 10_000
    rate = sum(used[:-1]) / (admitted[-1][0] - admitted[0][0])
    assert 0.9 * 10_000 / 60 <= rate <= 10_000 / 60  # the limit is used, not wasted
    assert limiter.too_large(10_001) and not limiter.too_large(10_000)


def test_headers_teach_the_limit_and_an_exhausted_window_pauses_until_its_reset() -> None:
    time = FakeTime()
    limiter = RequestLimiter(clock=time.clock, sleep=time.sleep)
    assert limiter.rpm is None and not limiter.counts_tokens
    limiter.observe({"x-ratelimit-limit-requests": "600", "x-ratelimit-limit-tokens": "90000",
                     "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2.5s"})
    assert (limiter.rpm, limiter.tpm) == (600, 90_000) and limiter.counts_tokens
    admitted = _admissions(limiter, time, [10])
    assert admitted[0][0] == pytest.approx(1002.5)
    limiter.observe({"x-ratelimit-limit-requests": "6000"})  # a higher limit never raises the one in force
    assert limiter.rpm == 600


@pytest.mark.parametrize(("text", "seconds"), [("20ms", 0.02), ("1.5s", 1.5), ("6m0s", 360.0), ("1h2m3s", 3723.0),
                                               ("", None), ("soon", None), ("5", None)])
def test_reset_durations_are_read_as_the_api_writes_them(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def _status_error(status: int, headers: dict[str, str] | None = None, code: str | None = None) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://localhost/v1/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request)
    body = {"message": "m", "code": code} if code else None  # the SDK passes the "error" object
    classes = {429: openai.RateLimitError, 500: openai.InternalServerError, 400: openai.BadRequestError}
    return classes.get(status, openai.APIStatusError)("m", response=response, body=body)


def test_the_retry_policy_waits_what_the_server_says_backs_off_otherwise_and_gives_up_in_time() -> None:
    policy = RetryPolicy(attempts=4, base=0.5, cap=3.0, random=random.Random(1))
    assert policy.delay(1, _status_error(429, {"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert policy.delay(1, _status_error(429, {"retry-after": "2"})) == 2.0
    assert policy.delay(1, _status_error(429, {"retry-after": "900"})) is None  # longer than waiting is worth
    delays = [policy.delay(attempt, _status_error(500)) for attempt in (1, 2, 3)]
    assert all(0 <= d <= cap for d, cap in zip(delays, (0.5, 1.0, 2.0), strict=True))  # type: ignore[operator]
    assert policy.delay(4, _status_error(500)) is None  # the fourth attempt was the last
    assert policy.delay(1, _status_error(400)) is None  # the request's own fault
    assert policy.delay(1, _status_error(429, code="insufficient_quota")) is None  # no wait cures that
    request = httpx.Request("POST", "http://localhost/v1/chat/completions")
    assert policy.delay(1, openai.APIConnectionError(request=request)) is not None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 28 <= retry_after({"retry-after": later}) <= 30  # type: ignore[operator]


def _experiment(tmp_path: Path, run_table: str = "") -> Path:
    path = tmp_path / "limits.toml"
    path.write_text(f'''
[experiment]
name = "limits"
seed = 3
[data]
loader = "csv"
path = "{ROOT / 'data' / 'examples' / 'fortunes.csv'}"
input = "text"
expected = "topic"
id = "id"
[split]
test = 60
[model]
base = "gpt-4o-mini-2024-07-18"
[[variants]]
name = "zero-shot"
prompt = {{ builder = "few-shot", shots = 0, system = "Classify the quotation by topic." }}
[scoring]
scorers = ["exact"]
{run_table}
''')
    return path


def _run(path: Path, simulator: Simulator, store: DuckDBStore, lines: list[str], **options: Any) -> Any:
    endpoint = Endpoint(base_url=simulator.base_url, api_key="sk-sim", simulated=True)
    bench = Workbench.load(path, plugins=fresh_plugins(), log=lines.append,
                           options=options.pop("options", None) or RunOptions(**options))
    return bench.run(store, endpoint)


def test_a_run_with_rpm_keeps_every_window_at_the_simulator_within_it(tmp_path: Path) -> None:
    path = _experiment(tmp_path, "[run]\nrpm = 1200\nconcurrency = 16")
    store = DuckDBStore(str(tmp_path / "r.duckdb"))
    lines: list[str] = []
    with Simulator(seed=1) as simulator:
        from ftplug.config.run_options import run_options_for

        plugins = fresh_plugins()
        options = run_options_for(load_experiment(path, plugins.registry))
        assert (options.rpm, options.concurrency) == (1200, 16)
        [summary] = _run(path, simulator, store, lines, options=options)
        arrivals = [at for at, route in simulator.state.arrivals if route.endswith("/chat/completions")]
    assert summary.predictions == 60 and summary.errors == 0
    admitted = [(at, 1) for at in arrivals]
    # 20 per second: a burst of 20, then paced; any one second sees at most the burst and a second's rate
    assert _most_in_any_window(admitted, 1.0) <= 20 + 20 + 2  # +2: the moment of sending vs of arriving
    assert arrivals[-1] - arrivals[0] >= (60 - 20) / 20 * 0.9
    assert summary.details["requests"]["rpm"] == 1200 and summary.details["requests"]["limit_wait_s"] > 0
    store.close()


def test_the_servers_limit_is_learned_and_its_retry_after_honoured(tmp_path: Path) -> None:
    path = _experiment(tmp_path)
    store = DuckDBStore(str(tmp_path / "r.duckdb"))
    lines: list[str] = []
    faults = (FaultRule.parse("429@/v1/chat/completions:first=1:retry_after_ms=400"),)
    with Simulator(seed=1, options=SimulatorOptions(rpm=5000, faults=faults)) as simulator:
        [summary] = _run(path, simulator, store, lines, concurrency=1, limit=5)
        arrivals = [at for at, route in simulator.state.arrivals if route.endswith("/chat/completions")]
    stats = summary.details["requests"]
    assert summary.predictions == 5 and summary.errors == 0
    assert stats["rpm"] == 5000  # learned from x-ratelimit-limit-requests
    assert (stats["retries"], stats["rate_limited"], stats["sent"]) == (1, 1, 6)
    assert arrivals[1] - arrivals[0] >= 0.4  # the refused request waited what retry-after-ms said
    assert "1 retries (1 rate-limited)" in lines[-1]
    store.close()


def test_exhausted_quota_stops_the_variant_without_retrying(tmp_path: Path) -> None:
    path = _experiment(tmp_path)
    store = DuckDBStore(str(tmp_path / "r.duckdb"))
    lines: list[str] = []
    faults = (FaultRule.parse("quota@/v1/chat/completions:every=10"),)
    with Simulator(seed=1, options=SimulatorOptions(faults=faults)) as simulator:
        [summary] = _run(path, simulator, store, lines, concurrency=2)
        asked = simulator.state.requests["POST /v1/chat/completions"]
    assert summary.status == "failed" and "quota" in (summary.error or "")
    assert asked <= 10 + 2  # stopped at the first quota refusal; only requests in flight went on
    assert 0 < summary.predictions < 60
