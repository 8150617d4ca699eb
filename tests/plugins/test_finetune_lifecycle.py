"""The fine-tuning lifecycle on the simulator through the SDK: jobs kept in DuckDB before waiting, resumed
after an interruption, reused when identical, gated by cost, refused clearly, followed from the CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from ftplug.catalogue.models import default_catalogue
from ftplug.catalogue.training_cost import estimate_training
from ftplug.components import TrainingContext
from ftplug.dataset import Example
from ftplug.engine.endpoint import SIMULATOR_KEY, Endpoint, simulator_state_dir
from ftplug.engine.workbench import Workbench
from ftplug.errors import FtplugError
from ftplug.plugins.duckdb_store.store import DuckDBStore
from ftplug.plugins.few_shot.builder import FewShotBuilder
from ftplug.plugins.trainers.openai import watch as finetune_watch
from ftplug.plugins.trainers.openai.risk import lifecycle_warnings
from ftplug.plugins.trainers.openai.trainer import OpenAIFineTuning, chat_jsonl
from ftplug.simulator import JobTiming, ManualClock, Simulator, SimulatorOptions
from tests.helpers import EXAMPLE, run_cli

FAST = JobTiming(validating=0.05, queued=0.05, per_step=0.0005)
SLOW = JobTiming(validating=1, queued=1, per_step=10)  # on a ManualClock: runs only when the test moves time


def _fortunes(n: int, offset: int = 0) -> list[Example]:
    import csv

    with EXAMPLE.with_name("fortunes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[offset:offset + n]
    return [Example(r["id"], r["text"], r["topic"]) for r in rows]


def _context(client: Any, store: Any, lines: list[str], **overrides: Any) -> TrainingContext:
    values: dict[str, Any] = {
        "experiment": "fortunes", "variant": "ft", "base_model": "gpt-4o-mini", "train": _fortunes(12),
        "validation": _fortunes(4, 100), "prompt": FewShotBuilder(system="Name the topic."), "client": client,
        "simulated": True, "seed": 5, "log": lines.append, "ledger": store, "resume_hint": "ftplug run exp.toml"}
    values.update(overrides)
    return TrainingContext(**values)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = DuckDBStore(str(tmp_path / "r.duckdb"))
    yield opened
    opened.close()


def test_the_job_is_stored_before_waiting_and_its_events_and_cost_after(store: Any) -> None:
    seen_while_waiting: list[Any] = []
    with Simulator(seed=2, timing=FAST) as simulator:
        client = OpenAI(base_url=simulator.base_url, api_key="sk-test", max_retries=0)
        lines: list[str] = []

        def log(line: str) -> None:
            lines.append(line)
            if "created" in line and line.startswith("fine-tuning job"):
                seen_while_waiting.append(store.jobs()[0])

        trained = OpenAIFineTuning(n_epochs=2).train(_context(client, store, lines, log=log))
        api_job = client.fine_tuning.jobs.retrieve(trained.details["job_id"])
    assert seen_while_waiting and seen_while_waiting[0].job_id == api_job.id and seen_while_waiting[0].active
    record = store.get_job(api_job.id)
    price = default_catalogue().get("gpt-4o-mini").training_price
    assert (record.status, record.fine_tuned_model, record.trained_tokens) == (
        "succeeded", trained.model, api_job.trained_tokens)
    assert record.training_cost_usd == pytest.approx(api_job.trained_tokens * price / 1e6)
    expected = estimate_training([FewShotBuilder(system="Name the topic.").training_messages(e)
                                  for e in _fortunes(12)], "gpt-4o-mini", 2)
    assert record.estimated_cost_usd == pytest.approx(expected.cost_usd)
    assert expected.billed_tokens == api_job.trained_tokens  # our estimate is what the service bills
    events = store.job_events(api_job.id)
    assert events[0].message.startswith("Created fine-tuning job") and "successfully completed" in events[-1].message
    metrics = [e for e in events if e.step is not None]
    assert metrics and metrics[-1].step == metrics[-1].total_steps
    assert trained.details["final_train_loss"] == metrics[-1].train_loss
    assert trained.details["final_valid_loss"] == metrics[-1].valid_loss
    progress = [line for line in lines if line.startswith(f"job {api_job.id}: ") and ", step " in line]
    assert progress and progress[-1].endswith(f"step {metrics[-1].step}/{metrics[-1].total_steps}, training loss "
                                              f"{metrics[-1].train_loss:.3f}, validation loss "
                                              f"{metrics[-1].valid_loss:.3f}")
    assert api_job.metadata == {"ftplug_experiment": "fortunes", "ftplug_variant": "ft",
                                "ftplug_key": record.key}


def test_an_interrupted_wait_resumes_the_same_job_and_an_identical_job_is_reused(
        store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = ManualClock()
    with Simulator(seed=3, clock=clock, timing=SLOW) as simulator:
        client = OpenAI(base_url=simulator.base_url, api_key="sk-test", max_retries=0)

        def interrupt(seconds: float) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(finetune_watch.time, "sleep", interrupt)
        lines: list[str] = []
        with pytest.raises(KeyboardInterrupt):
            OpenAIFineTuning(n_epochs=1).train(_context(client, store, lines))
        [record] = store.jobs()
        assert record.active
        assert any("keeps running on the server. Resume with: ftplug run exp.toml" in line
                   and f"ftplug finetune cancel {record.job_id}" in line for line in lines)

        clock.advance(10_000)  # the job finishes while nobody waits
        monkeypatch.setattr(finetune_watch.time, "sleep", lambda seconds: None)
        lines = []
        trained = OpenAIFineTuning(n_epochs=1).train(_context(client, store, lines))
        assert any(line.startswith(f"resuming job {record.job_id}") for line in lines)
        assert [job.id for job in client.fine_tuning.jobs.list().data] == [record.job_id]  # no second job

        lines = []
        again = OpenAIFineTuning(n_epochs=1).train(_context(client, store, lines))
        assert again.model == trained.model and again.details["reused_job"] is True
        assert lines[0].startswith(f"reusing {trained.model} from job {record.job_id}")
        assert len(client.fine_tuning.jobs.list().data) == 1

        changed = OpenAIFineTuning(n_epochs=2)  # other settings: another job
        with pytest.raises(KeyboardInterrupt):
            monkeypatch.setattr(finetune_watch.time, "sleep", interrupt)
            changed.train(_context(client, store, []))
        assert len(client.fine_tuning.jobs.list().data) == 2


def test_a_job_the_endpoint_forgot_is_replaced(store: Any) -> None:
    with Simulator(seed=4, timing=FAST) as first:
        client = OpenAI(base_url=first.base_url, api_key="sk-test", max_retries=0)
        OpenAIFineTuning().train(_context(client, store, []))
    [record] = store.jobs()
    record.status = "running"  # as if the run had been killed while it ran
    store.save_job(record)
    with Simulator(seed=40, timing=FAST) as second:  # a fresh simulator: it never saw that job
        client = OpenAI(base_url=second.base_url, api_key="sk-test", max_retries=0)
        lines: list[str] = []
        trained = OpenAIFineTuning().train(_context(client, store, lines))
    assert any("unknown to the endpoint; starting a new one" in line for line in lines)
    assert trained.details["job_id"] != record.job_id and store.get_job(record.job_id).status == "failed"


def _copy_example(tmp_path: Path, trainer_options: str) -> Path:
    """The example experiment with other options for its fine-tuned variant's trainer."""
    text = EXAMPLE.read_text(encoding="utf-8").replace("n_epochs = 3", trainer_options)
    (tmp_path / "fortunes.csv").write_bytes(EXAMPLE.with_name("fortunes.csv").read_bytes())
    (tmp_path / "exp.toml").write_text(text, encoding="utf-8")
    return tmp_path / "exp.toml"


def _live_runner(tmp_path: Path, simulator: Simulator, **gate: Any) -> tuple[Any, Any, Endpoint]:
    from ftplug.config.run_options import RunOptions
    from ftplug.engine.cost_gate import CostGate
    from tests.helpers import fresh_plugins

    store = DuckDBStore(str(tmp_path / "live.duckdb"))
    runner = Workbench.load(_copy_example(tmp_path, 'n_epochs = 3, poll_interval = 0.05'), plugins=fresh_plugins(),
                            options=RunOptions(limit=2, cost_gate=CostGate(**gate))).runner(store)
    # the simulator standing in for a live endpoint: the gate applies to live endpoints only
    return runner, store, Endpoint(base_url=simulator.base_url, api_key="sk-test", simulated=False)


@pytest.mark.parametrize(("options", "message"), [
    ({}, "estimated training cost $0.11 needs confirmation (over $0.05): re-run with --yes to accept it"),
    ({"max_training_cost": 0.0001, "yes": True}, "is over --max-training-cost $0.00; nothing was started"),
    ({"confirm": lambda question: False}, "fine-tuning declined; nothing was started"),
])
def test_the_cost_gate_stops_a_live_job_before_anything_is_uploaded(tmp_path: Path, options: dict[str, Any],
                                                                    message: str) -> None:
    with Simulator(timing=FAST) as simulator:
        runner, store, endpoint = _live_runner(tmp_path, simulator, confirm_above_usd=0.05, **options)
        plan = runner.plan()
        variant = next(v for v in plan.variants if v.spec.name == "fine-tuned")
        with pytest.raises(FtplugError, match=re.escape(message)):
            runner._train(variant, plan.splits, None, endpoint)  # type: ignore[arg-type]
        client = OpenAI(base_url=simulator.base_url, api_key="sk-test")
        assert client.files.list().data == [] and client.fine_tuning.jobs.list().data == []
        store.close()


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_the_cost_gate_lets_an_approved_or_cheap_job_through(tmp_path: Path, threshold: float) -> None:
    asked: list[str] = []
    with Simulator(timing=FAST) as simulator:
        runner, store, endpoint = _live_runner(tmp_path, simulator, confirm_above_usd=threshold,
                                     confirm=lambda question: asked.append(question) or True)
        plan = runner.plan()
        variant = next(v for v in plan.variants if v.spec.name == "fine-tuned")
        trained = runner._train(variant, plan.splits, None, endpoint)  # type: ignore[arg-type]
        store.close()
    assert trained.model.startswith("ft:")
    if threshold:  # the estimate ($0.11) is under the threshold: nobody is asked
        assert asked == []
    else:
        assert asked == ["Start fine-tuning at an estimated $0.11?"]


def test_a_refused_job_says_what_happened_and_what_to_do(store: Any) -> None:
    with Simulator(timing=FAST, options=SimulatorOptions(refuse_fine_tuning=True)) as simulator:
        client = OpenAI(base_url=simulator.base_url, api_key="sk-test", max_retries=0)
        with pytest.raises(FtplugError) as raised:
            OpenAIFineTuning().train(_context(client, store, []))
    text = str(raised.value)
    assert text.startswith("the endpoint refused to fine-tune gpt-4o-mini (HTTP 403: Fine-tuning is not available")
    assert "2027-01-06" in text and "base_url" in text and "local trainer" in text
    assert store.jobs() == []


def test_wind_down_warnings_follow_the_catalogue_dates() -> None:
    info = default_catalogue().get("gpt-4o-mini")
    assert lifecycle_warnings(info, dt.date(2026, 6, 1), 60) == []
    near = lifecycle_warnings(info, dt.date(2026, 11, 27), 60)
    assert near == ["OpenAI's self-serve fine-tuning accepts no new jobs from 2027-01-06, 40 days from now",
                    "models fine-tuned from gpt-4o-mini-2024-07-18 stop answering on 2027-01-14, 48 days from now"]
    past = lifecycle_warnings(info, dt.date(2027, 2, 1), 60)
    assert past[0].startswith("OpenAI's self-serve fine-tuning has accepted no new jobs since 2027-01-06")
    assert past[1] == "gpt-4o-mini-2024-07-18 and the models fine-tuned from it were retired on 2027-01-14 (catalogue)"


def test_a_trainer_base_url_trains_and_answers_at_that_endpoint(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from ftplug.config.run_options import RunOptions
    from ftplug.engine.cost_gate import CostGate
    from tests.helpers import fresh_plugins

    with Simulator(seed=1, timing=FAST) as run_endpoint, Simulator(
            seed=2, timing=FAST, options=SimulatorOptions(api_key="sk-elsewhere")) as elsewhere:
        monkeypatch.setenv("ELSEWHERE_KEY", "sk-elsewhere")
        elsewhere_url = elsewhere.base_url
        path = _copy_example(tmp_path, f'n_epochs = 1, poll_interval = 0.05, base_url = "{elsewhere_url}", '
                                       'api_key_env = "ELSEWHERE_KEY"')
        store = DuckDBStore(str(tmp_path / "r.duckdb"))
        bench = Workbench.load(path, plugins=fresh_plugins(), options=RunOptions(limit=3, cost_gate=CostGate(yes=True)))
        summaries = bench.run(store, Endpoint(base_url=run_endpoint.base_url, api_key="sk-run", simulated=False))
        tuned = next(s for s in summaries if s.variant == "fine-tuned")
        elsewhere_jobs = OpenAI(base_url=elsewhere.base_url, api_key="sk-elsewhere").fine_tuning.jobs.list().data
        local_jobs = OpenAI(base_url=run_endpoint.base_url, api_key="sk-run").fine_tuning.jobs.list().data
        [record] = store.jobs()
        store.close()
    assert (tuned.status, tuned.predictions, tuned.errors) == ("succeeded", 3, 0)
    assert [j.id for j in elsewhere_jobs] == [record.job_id] and local_jobs == []
    assert record.endpoint == elsewhere_url and record.api_key_env == "ELSEWHERE_KEY"


def test_jobs_from_the_cli_list_show_events_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "r.duckdb"
    store = DuckDBStore(str(db))
    with Simulator(seed=6, timing=JobTiming(validating=0.01, queued=0.01, per_step=3600),
                   state_dir=simulator_state_dir(str(db))) as simulator:
        client = OpenAI(base_url=simulator.base_url, api_key=SIMULATOR_KEY, max_retries=0)
        monkeypatch.setattr(finetune_watch.time, "sleep", lambda seconds: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):
            OpenAIFineTuning().train(_context(client, store, []))
        monkeypatch.undo()  # time.sleep is the time module's own: restore it before anything else waits
    [record] = store.jobs()
    store.close()
    listed = run_cli("finetune", "list", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(f"{record.job_id}  running") and "[simulated]" in listed.stdout
    cancelled = run_cli("finetune", "cancel", record.job_id, "--db", str(db))
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"job {record.job_id}: cancelled [simulated]"
    shown = run_cli("finetune", "show", record.job_id, "--db", str(db))
    assert f"job {record.job_id} [simulated]: cancelled" in shown.stdout
    events = run_cli("finetune", "events", record.job_id, "--db", str(db)).stdout.splitlines()
    assert "Created fine-tuning job" in events[0] and events[-1].endswith("Fine-tuning job cancelled")
    again = run_cli("finetune", "cancel", record.job_id, "--db", str(db))
    assert again.returncode == 1 and "has already cancelled; nothing to cancel" in again.stderr
    unknown = run_cli("finetune", "show", "ftjob-nope", "--db", str(db))
    assert unknown.returncode == 2 and "no fine-tuning job 'ftjob-nope'" in unknown.stderr
    as_json = json.loads(run_cli("finetune", "list", "--db", str(db), "--json").stdout)
    assert as_json[0]["status"] == "cancelled"


def test_dry_run_prints_every_variants_estimate_and_calls_nothing(tmp_path: Path) -> None:
    db = tmp_path / "never.duckdb"
    # a live endpoint that does not exist: any request would fail
    result = run_cli("run", str(EXAMPLE), "--dry-run", "--live", "--db", str(db),
                     env={"OPENAI_API_KEY": "sk-none", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert result.returncode == 0, result.stderr
    assert not db.exists()
    lines = result.stdout.splitlines()
    assert lines[0] == "Dry run of fortunes-topic: estimated costs on gpt-4o-mini-2024-07-18, nothing was called"
    tuned = next(line for line in lines if line.startswith("fine-tuned "))
    builder = FewShotBuilder(system="Classify the quotation by topic. Answer with exactly one of: science, "
                                    "politics, computers, law, food.")
    from ftplug.config.experiment import load_experiment
    from ftplug.config.run_options import RunOptions
    from ftplug.engine.planning import make_plan
    from tests.helpers import fresh_plugins

    plugins = fresh_plugins()
    plan = make_plan(load_experiment(EXAMPLE, plugins.registry), RunOptions())
    estimate = estimate_training([builder.training_messages(e) for e in plan.splits.train], "gpt-4o-mini", 3)
    assert f"${estimate.cost_usd:,.4f}" in tuned and f"{estimate.billed_tokens:,} billed tokens" in tuned
    assert [line.split()[0] for line in lines[2:6]] == ["zero-shot", "few-shot-5", "few-shot-40", "fine-tuned"]
    assert chat_jsonl  # the training file the estimate describes is the one uploaded (see the lifecycle test)


def test_a_run_killed_while_its_job_trains_resumes_the_same_job(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    text = EXAMPLE.read_text(encoding="utf-8")
    fine_tuned_only = text[:text.index("[[variants]]")] + text[text.index('[[variants]]\nname = "fine-tuned"'):]
    (tmp_path / "fortunes.csv").write_bytes(EXAMPLE.with_name("fortunes.csv").read_bytes())
    (tmp_path / "exp.toml").write_text(fine_tuned_only.replace("n_epochs = 3", "n_epochs = 3, poll_interval = 0.1"),
                                       encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-m", "ftplug.cli", "simulator", "serve", "--speed", "0.5",
                               "--state-dir", str(tmp_path / "sim")], stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()  # type: ignore[union-attr]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")},
               "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": base_url}
        command = [sys.executable, "-m", "ftplug.cli", "run", str(tmp_path / "exp.toml"), "--db",
                   str(tmp_path / "r.duckdb"), "--limit", "2", "--yes"]
        first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        seen = []
        for line in first.stderr:  # type: ignore[union-attr]
            seen.append(line)
            if "fine-tuning job ftjob-" in line and "created" in line:
                time.sleep(0.5)
                first.send_signal(signal.SIGKILL)  # no clean-up at all
                break
        first.wait(timeout=30)
        client = OpenAI(base_url=base_url, api_key="sk-test")
        [job] = client.fine_tuning.jobs.list().data
        assert job.status in ("validating_files", "queued", "running"), seen
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 0, second.stderr
        assert f"resuming job {job.id} from an earlier run" in second.stderr
        assert [j.id for j in client.fine_tuning.jobs.list().data] == [job.id]  # no second job
        assert f"job {job.id} succeeded" in second.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
