"""Simulator features beyond the basic flows: checkpoints, logprobs, structured outputs, batches,
Responses, keys, faults against the SDK's own retries, rate limits, latency, persistence."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest
from openai import OpenAI
from openai.types import Batch
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint
from openai.types.responses import Response

from ftplug.simulator import FaultRule, JobTiming, LatencyModel, ManualClock, Simulator, SimulatorOptions


def _lines(n: int) -> bytes:
    topics = ("food", "law", "science")
    return "".join(json.dumps({"messages": [
        {"role": "user", "content": f"talk of {topics[i % 3]} and {topics[i % 3]} things {i}"},
        {"role": "assistant", "content": topics[i % 3]}]}) + "\n" for i in range(n)).encode()


def _client(simulator: Simulator, **options: Any) -> OpenAI:
    return OpenAI(base_url=simulator.base_url, api_key=options.pop("api_key", "sk-test"),
                  max_retries=options.pop("max_retries", 0), **options)


def _finished_job(simulator: Simulator, client: OpenAI, **create: Any) -> Any:
    training = client.files.create(file=("t.jsonl", _lines(30)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(training_file=training.id, **create)
    simulator.clock.advance(3600)
    return client.fine_tuning.jobs.retrieve(job.id)


def test_checkpoints_and_deprecated_hyperparameters(simulator, sim_client) -> None:
    job = _finished_job(simulator, sim_client, model="gpt-4o-mini", hyperparameters={"n_epochs": 4, "batch_size": 3})
    assert (job.hyperparameters.n_epochs, job.hyperparameters.batch_size) == (4, 3)
    raw = sim_client.fine_tuning.jobs.checkpoints.with_raw_response.list(job.id)
    checkpoints = [FineTuningJobCheckpoint.model_validate(c) for c in json.loads(raw.text)["data"]]
    assert [c.step_number for c in checkpoints] == [40, 30, 20]  # 10 steps per epoch, last three epochs
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-40"
    answer = sim_client.chat.completions.create(model=checkpoints[1].fine_tuned_model_checkpoint,
                                                messages=[{"role": "user", "content": "talk of law"}])
    assert answer.choices[0].message.content == "law"


def test_job_listing_pagination_and_cancel(simulator, sim_client) -> None:
    training = sim_client.files.create(file=("t.jsonl", _lines(12)), purpose="fine-tune")
    ids = [sim_client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id).id for _ in range(5)]
    first = sim_client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == ids[::-1][:2] and first.has_more
    assert [j.id for j in sim_client.fine_tuning.jobs.list(limit=2)] == ids[::-1]  # auto-paging with `after`
    cancelled = sim_client.fine_tuning.jobs.cancel(ids[0])
    assert cancelled.status == "cancelled"
    simulator.clock.advance(3600)
    assert sim_client.fine_tuning.jobs.retrieve(ids[0]).status == "cancelled"
    assert sim_client.fine_tuning.jobs.retrieve(ids[1]).status == "succeeded"
    with pytest.raises(openai.BadRequestError, match="cannot be cancelled"):
        sim_client.fine_tuning.jobs.cancel(ids[1])
    with pytest.raises(openai.BadRequestError) as raised:
        sim_client.fine_tuning.jobs.create(model="gpt-4", training_file=training.id)
    assert raised.value.param == "model"


def test_logprobs_follow_the_vote(sim_client) -> None:
    messages = [{"role": "user", "content": "court appeal"}, {"role": "assistant", "content": "law"},
                {"role": "user", "content": "bread oven"}, {"role": "assistant", "content": "food"},
                {"role": "user", "content": "the appeal went to court"}]
    raw = sim_client.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages, temperature=0,
                                                               logprobs=True, top_logprobs=2)
    completion = ChatCompletion.model_validate(json.loads(raw.text))
    content = completion.choices[0].logprobs.content
    assert "".join(entry.token for entry in content) == completion.choices[0].message.content == "law"
    assert -0.7 < content[0].logprob <= 0
    assert {top.token for top in content[0].top_logprobs} == {"law", "food"}
    with pytest.raises(openai.BadRequestError, match="requires 'logprobs'"):
        sim_client.chat.completions.create(model="gpt-4o", messages=messages, top_logprobs=2)


SCHEMA = {"type": "object", "properties": {
    "topic": {"type": "string", "enum": ["food", "law", "science"]},
    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    "reasons": {"type": "array", "items": {"$ref": "#/$defs/reason"}, "minItems": 2},
    "final": {"type": "boolean"}},
    "required": ["topic", "confidence", "reasons", "final"], "additionalProperties": False,
    "$defs": {"reason": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
                         "additionalProperties": False}}}


def test_structured_outputs_are_valid_against_the_schema(sim_client) -> None:
    messages = [{"role": "user", "content": "bread oven"}, {"role": "assistant", "content": "food"},
                {"role": "user", "content": "fresh bread"}]
    completion = sim_client.chat.completions.create(model="gpt-4o-mini", messages=messages, response_format={
        "type": "json_schema", "json_schema": {"name": "topic", "schema": SCHEMA, "strict": True}})
    parsed = json.loads(completion.choices[0].message.content)
    jsonschema.validate(parsed, SCHEMA)
    assert parsed["topic"] == "food"
    as_object = sim_client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                                   response_format={"type": "json_object"})
    assert json.loads(as_object.choices[0].message.content) == {"answer": "food"}
    with pytest.raises(openai.BadRequestError) as raised:
        sim_client.chat.completions.create(model="gpt-4o-mini", messages=messages, response_format={
            "type": "json_schema", "json_schema": {"name": "bad name!", "schema": SCHEMA}})
    assert raised.value.param == "response_format.json_schema.name"


def test_batch_lifecycle_with_output_and_error_files() -> None:
    simulator = Simulator(clock=ManualClock(), timing=JobTiming(validating=1, queued=1, per_step=1)).start()
    sim_client = _client(simulator)
    lines = [{"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {i}"}]}}
             for i in range(4)]
    lines[2]["body"]["model"] = "gpt-9"  # fails: unknown model
    upload = sim_client.files.create(file=("b.jsonl", "\n".join(json.dumps(x) for x in lines).encode()),
                                     purpose="batch")
    raw = sim_client.batches.with_raw_response.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                                      completion_window="24h", metadata={"run": "t"})
    batch = Batch.model_validate(json.loads(raw.text))
    assert batch.status == "validating" and batch.request_counts.total == 4
    statuses = []
    for _ in range(20):
        current = sim_client.batches.retrieve(batch.id)
        if not statuses or statuses[-1] != current.status:
            statuses.append(current.status)
        simulator.clock.advance(0.5)
    assert statuses == ["validating", "in_progress", "finalizing", "completed"]
    done = Batch.model_validate(json.loads(sim_client.batches.with_raw_response.retrieve(batch.id).text))
    assert (done.request_counts.completed, done.request_counts.failed) == (3, 1)
    outputs = [json.loads(x) for x in sim_client.files.content(done.output_file_id).read().splitlines()]
    errors = [json.loads(x) for x in sim_client.files.content(done.error_file_id).read().splitlines()]
    assert [o["custom_id"] for o in outputs] == ["r0", "r1", "r3"]
    ChatCompletion.model_validate(outputs[0]["response"]["body"])
    assert errors[0]["custom_id"] == "r2" and errors[0]["response"]["status_code"] == 404
    assert done.usage.input_tokens > 0 and done.completed_at is not None
    assert [b.id for b in sim_client.batches.list()] == [batch.id]
    simulator.stop()


def test_a_batch_with_bad_lines_fails_naming_them(simulator, sim_client) -> None:
    upload = sim_client.files.create(file=("b.jsonl", b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/'
                                                      b'completions", "body": {}}\nnot json\n'), purpose="batch")
    batch = sim_client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
    simulator.clock.advance(10)
    failed = sim_client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.errors.data[0].line == 2


def test_responses_endpoint(sim_client) -> None:
    raw = sim_client.responses.with_raw_response.create(model="gpt-4.1-mini", instructions="Answer with one of: a, b.",
                                                        input="which one?")
    response = Response.model_validate(json.loads(raw.text))
    assert response.status == "completed" and response.output_text.startswith("As an AI language model")
    assert response.usage.input_tokens > 0 and response.model == "gpt-4.1-mini-2025-04-14"
    assert sim_client.responses.retrieve(response.id).id == response.id
    sim_client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        sim_client.responses.retrieve(response.id)


def test_a_required_key_is_enforced_and_masked() -> None:
    with Simulator(options=SimulatorOptions(api_key="sk-right-key-0000")) as simulator:
        assert _client(simulator, api_key="sk-right-key-0000").models.retrieve("gpt-4o").id == "gpt-4o"
        with pytest.raises(openai.AuthenticationError) as raised:
            _client(simulator, api_key="sk-wrong-key-123456789").models.list()
    assert raised.value.code == "invalid_api_key"
    assert "sk-wro***6789" in raised.value.message and "wrong-key-123456789" not in raised.value.message


def test_the_sdk_retries_injected_429s_honouring_retry_after_ms() -> None:
    rules = (FaultRule.parse("429@/v1/chat/completions:first=2:retry_after_ms=150"),)
    with Simulator(options=SimulatorOptions(faults=rules)) as simulator:
        client = _client(simulator, max_retries=2)
        started = time.perf_counter()
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini",
                                                               messages=[{"role": "user", "content": "hi"}])
        elapsed = time.perf_counter() - started
        assert raw.retries_taken == 2 and elapsed >= 0.3
    with Simulator(options=SimulatorOptions(faults=rules)) as simulator, pytest.raises(openai.RateLimitError):
        _client(simulator).chat.completions.create(  # with no retries the first 429 surfaces
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(("spec", "error"), [("500", openai.InternalServerError), ("503", openai.InternalServerError),
                                             ("drop", openai.APIConnectionError)])
def test_injected_failures_reach_the_client_as_the_api_would_send_them(spec: str, error: type) -> None:
    with Simulator(options=SimulatorOptions(faults=(FaultRule.parse(f"{spec}:every=2"),))) as simulator:
        client = _client(simulator)
        assert client.models.retrieve("gpt-4o").id == "gpt-4o"  # the 1st passes, the 2nd fails
        with pytest.raises(error) as raised:
            client.models.retrieve("gpt-4o")
    if spec == "503":
        assert raised.value.code == "server_is_overloaded"


def test_fault_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        FaultRule.parse("418")
    with pytest.raises(ValueError, match="unknown setting"):
        FaultRule.parse("500:often=1")
    assert FaultRule.parse("slow@/v1/chat:p=0.5:delay_ms=10") == FaultRule("slow", "/v1/chat", 0.5, delay_ms=10)


def test_requests_per_minute_limit_with_headers() -> None:
    with Simulator(options=SimulatorOptions(rpm=2)) as simulator:
        client = _client(simulator)
        messages = [{"role": "user", "content": "hi"}]
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
        assert raw.headers["x-ratelimit-limit-requests"] == "2"
        assert raw.headers["x-ratelimit-remaining-requests"] == "1"
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        with pytest.raises(openai.RateLimitError) as raised:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert raised.value.code == "rate_limit_exceeded"
    assert "on requests per min (RPM): Limit 2, Used 2, Requested 1" in raised.value.message
    assert 0 < int(raised.value.response.headers["retry-after-ms"]) <= 60_000


def test_tokens_per_minute_limit_refuses_an_oversized_request() -> None:
    with Simulator(options=SimulatorOptions(tpm=50)) as simulator, \
            pytest.raises(openai.RateLimitError, match="Request too large"):
        _client(simulator).chat.completions.create(model="gpt-4o-mini",
                                                       messages=[{"role": "user", "content": "word " * 100}])


def test_latency_model() -> None:
    with Simulator(options=SimulatorOptions(latency=LatencyModel(first_token_ms=150, per_token_ms=0))) as simulator:
        client = _client(simulator)
        started = time.perf_counter()
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert time.perf_counter() - started >= 0.15
        started = time.perf_counter()
        client.models.retrieve("gpt-4o")  # not a model call: no latency
        assert time.perf_counter() - started < 0.15


def test_state_folder_keeps_files_jobs_and_deletions(tmp_path: Path) -> None:
    clock = ManualClock()
    with Simulator(clock=clock, state_dir=tmp_path) as first:
        client = _client(first)
        job = _finished_job(first, client, model="gpt-4o-mini", suffix="kept")
        other = client.files.create(file=("x.jsonl", _lines(10)), purpose="fine-tune")
    with Simulator(clock=clock, state_dir=tmp_path) as second:
        client = _client(second)
        assert client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model == job.fine_tuned_model
        assert client.files.content(other.id).read() == _lines(10)
        answer = client.chat.completions.create(model=job.fine_tuned_model,
                                                messages=[{"role": "user", "content": "talk of science"}])
        assert answer.choices[0].message.content == "science"
        client.models.delete(job.fine_tuned_model)
        fresh = client.files.create(file=("y.jsonl", b"{}"), purpose="batch")
        assert fresh.id not in (other.id, job.training_file)
    with Simulator(clock=clock, state_dir=tmp_path) as third, pytest.raises(openai.NotFoundError):
        _client(third).models.retrieve(job.fine_tuned_model)


def test_record_then_replay_offline(tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "bread oven"}, {"role": "assistant", "content": "food"},
                {"role": "user", "content": "fresh bread"}]
    with Simulator(seed=5, options=SimulatorOptions(api_key="sk-upstream-secret-1234")) as upstream:
        recording = SimulatorOptions(record_dir=tmp_path, upstream_base_url=upstream.base_url,
                                     upstream_api_key="sk-upstream-secret-1234")
        with Simulator(options=recording) as recorder:
            client = _client(recorder)
            live = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            with pytest.raises(openai.NotFoundError):
                client.chat.completions.create(model="gpt-9", messages=messages)
    recorded = (tmp_path / "exchanges.jsonl").read_text()
    assert len(recorded.splitlines()) == 2 and "sk-upstream-secret" not in recorded
    with Simulator(options=SimulatorOptions(replay_dir=tmp_path)) as replayer:
        client = _client(replayer)
        again = client.chat.completions.create(model="gpt-4o-mini", messages=list(reversed(messages[::-1])))
        assert again.model_dump() == live.model_dump()
        with pytest.raises(openai.NotFoundError) as raised:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages[:1])
    assert raised.value.code == "no_recorded_exchange"


def test_many_clients_at_once_keep_state_consistent(simulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(worker: int) -> list[str]:
        client = _client(simulator)
        made = []
        for i in range(10):
            made.append(client.files.create(file=(f"{worker}-{i}.jsonl", _lines(1)), purpose="fine-tune").id)
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": str(i)}])
        return made

    with ThreadPoolExecutor(max_workers=12) as pool:
        ids = [file_id for made in pool.map(work, range(12)) for file_id in made]
    listed = {f.id for f in _client(simulator).files.list(limit=7)}
    assert len(ids) == len(set(ids)) == 120 and listed == set(ids)


def test_job_timing_lets_a_job_run_in_real_time() -> None:
    with Simulator(timing=JobTiming(validating=0.05, queued=0.05, per_step=0.001)) as simulator:
        client = _client(simulator)
        training = client.files.create(file=("t.jsonl", _lines(10)), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
        deadline = time.monotonic() + 5
        while client.fine_tuning.jobs.retrieve(job.id).status != "succeeded":
            assert time.monotonic() < deadline
            time.sleep(0.02)
