"""The simulator through the official SDK over loopback HTTP. Every object is validated from the raw JSON
body with the SDK's pydantic types, because the SDK itself accepts malformed objects silently."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import openai
import pytest
from openai.types import FileObject, Model
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent

from ftplug.catalogue.tokens import count_message_tokens


def _valid(raw: Any, model_type: type) -> Any:
    body = json.loads(raw.text)
    return model_type.model_validate(body, strict=False), body


def _training_lines(n: int, topics: tuple[str, ...] = ("food", "law")) -> bytes:
    lines = []
    for i in range(n):
        topic = topics[i % len(topics)]
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": "Answer with one of: food, law."},
            {"role": "user", "content": f"a saying about {topic} and {topic} matters, number {i}"},
            {"role": "assistant", "content": topic}]}))
    return ("\n".join(lines) + "\n").encode()


def test_files_upload_list_retrieve_content_delete(sim_client) -> None:
    raw = sim_client.files.with_raw_response.create(file=("train.jsonl", _training_lines(10)), purpose="fine-tune")
    uploaded, body = _valid(raw, FileObject)
    assert raw.headers["x-ftplug-simulated"] == "true" and raw.headers["x-request-id"].startswith("req_")
    assert body["object"] == "file" and uploaded.id.startswith("file-") and uploaded.bytes == len(_training_lines(10))
    assert uploaded.purpose == "fine-tune" and uploaded.filename == "train.jsonl"
    second = sim_client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch")
    listed = list(sim_client.files.list(limit=1))  # the SDK follows `after` cursors page by page
    assert {f.id for f in listed} == {uploaded.id, second.id}
    retrieved, _ = _valid(sim_client.files.with_raw_response.retrieve(uploaded.id), FileObject)
    assert retrieved == uploaded
    assert sim_client.files.content(uploaded.id).read() == _training_lines(10)
    deleted = sim_client.files.delete(uploaded.id)
    assert deleted.deleted and deleted.id == uploaded.id
    with pytest.raises(openai.NotFoundError, match="No such File object"):
        sim_client.files.retrieve(uploaded.id)


def test_fine_tuning_job_lifecycle(simulator, sim_client) -> None:
    training = sim_client.files.create(file=("t.jsonl", _training_lines(20)), purpose="fine-tune")
    validation = sim_client.files.create(file=("v.jsonl", _training_lines(4)), purpose="fine-tune")
    raw = sim_client.fine_tuning.jobs.with_raw_response.create(
        model="gpt-4o-mini", training_file=training.id, validation_file=validation.id, suffix="topics", seed=5,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": "auto"}}})
    job, body = _valid(raw, FineTuningJob)
    assert job.status == "validating_files" and job.model == "gpt-4o-mini-2024-07-18"
    assert job.hyperparameters.n_epochs == "auto" and job.result_files == [] and job.fine_tuned_model is None
    assert body["seed"] == 5 and job.id.startswith("ftjob-")

    seen = []
    for _ in range(40):
        current = sim_client.fine_tuning.jobs.retrieve(job.id)
        if not seen or seen[-1] != current.status:
            seen.append(current.status)
        if current.status == "succeeded":
            break
        simulator.clock.advance(0.1)
    assert seen == ["validating_files", "queued", "running", "succeeded"]
    done, _ = _valid(sim_client.fine_tuning.jobs.with_raw_response.retrieve(job.id), FineTuningJob)
    assert done.hyperparameters.n_epochs == 5  # auto: 20 examples × 3 < 100 → 100 // 20
    assert done.fine_tuned_model.startswith("ft:gpt-4o-mini-2024-07-18:ftplug-sim:topics:")
    assert len(done.fine_tuned_model.split(":")[-1]) == 8
    per_epoch = sum(count_message_tokens(json.loads(line)["messages"], "gpt-4o-mini")
                    for line in _training_lines(20).decode().splitlines())
    assert done.trained_tokens == per_epoch * 5

    raw_events = sim_client.fine_tuning.jobs.with_raw_response.list_events(job.id, limit=100)
    events = [FineTuningJobEvent.model_validate(e) for e in json.loads(raw_events.text)["data"]]
    messages = [e.message for e in reversed(events)]  # the API lists newest first
    assert messages[0] == f"Created fine-tuning job: {job.id}"
    assert messages[1] == f"Validating training file: {training.id} and validation file: {validation.id}"
    assert messages[2:4] == ["Files validated, moving job to queued state", "Fine-tuning job started"]
    assert messages[-2:] == [f"New fine-tuned model created: {done.fine_tuned_model}",
                             "The job has successfully completed"]
    metrics = [e for e in reversed(events) if e.type == "metrics"]
    assert metrics and metrics[-1].message.startswith("Step 100/100: training loss=")
    assert "validation loss=" in metrics[-1].message
    losses = [e.data["train_loss"] for e in metrics]
    assert losses[-1] < losses[0]

    csv_text = base64.b64decode(sim_client.files.content(done.result_files[0]).read()).decode()
    assert csv_text.splitlines()[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(csv_text.splitlines()) == 101

    model, _ = _valid(sim_client.models.with_raw_response.retrieve(done.fine_tuned_model), Model)
    assert model.id == done.fine_tuned_model  # colons in the path
    assert done.fine_tuned_model in {m.id for m in sim_client.models.list()}
    assert sim_client.models.delete(done.fine_tuned_model).deleted
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        sim_client.models.retrieve(done.fine_tuned_model)


class _RacingClock:
    """A clock that moves an hour on every reading: whatever the job does after its creation happens at once."""

    def __init__(self) -> None:
        self.seconds = 1_767_225_600.0

    def now(self) -> float:
        self.seconds += 3600
        return self.seconds


@pytest.mark.parametrize("valid", [True, False])
def test_creating_a_job_answers_the_job_as_created_however_fast_time_runs(valid: bool) -> None:
    from openai import OpenAI

    from ftplug.simulator import Simulator

    lines = _training_lines(12) if valid else b'{"messages": [{"role": "user", "content": "no answer"}]}\n' * 10
    with Simulator(seed=0, clock=_RacingClock()) as simulator:
        client = OpenAI(base_url=simulator.base_url, api_key="sk-test-simulator", max_retries=0)
        training = client.files.create(file=("t.jsonl", lines), purpose="fine-tune")
        created = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training.id)
        later = client.fine_tuning.jobs.retrieve(created.id)
        client.close()
    assert created.status == "validating_files" and created.fine_tuned_model is None and created.error is None
    assert created.finished_at is None and created.trained_tokens is None
    assert later.status == ("succeeded" if valid else "failed")


def test_a_bad_training_file_fails_the_job_naming_the_line(simulator, sim_client) -> None:
    content = _training_lines(12).split(b"\n")
    content[4] = b'{"messages": [{"role": "user", "content": "no answer here"}]}'
    training = sim_client.files.create(file=("t.jsonl", b"\n".join(content)), purpose="fine-tune")
    job = sim_client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=training.id)
    simulator.clock.advance(5)
    failed, _ = _valid(sim_client.fine_tuning.jobs.with_raw_response.retrieve(job.id), FineTuningJob)
    assert failed.status == "failed" and failed.fine_tuned_model is None
    assert failed.error.code == "invalid_training_file" and failed.error.param == "training_file"
    assert failed.error.message == "Line 5: has no assistant message (example_missing_assistant_message)."
    events = sim_client.fine_tuning.jobs.list_events(job.id)
    assert events.data[0].level == "error" and events.data[0].message == failed.error.message


def test_chat_completion_shape_and_usage(sim_client) -> None:
    messages = [{"role": "system", "content": "Answer with one of: food, law."},
                {"role": "user", "content": "cheese is delicious"}]
    raw = sim_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages, seed=1)
    completion, body = _valid(raw, ChatCompletion)
    assert completion.model == "gpt-4o-mini-2024-07-18" and completion.object == "chat.completion"
    assert body["system_fingerprint"] == "fp_ftplug_sim"
    assert completion.usage.prompt_tokens == count_message_tokens(messages, "gpt-4o-mini")
    text = completion.choices[0].message.content
    assert text.startswith("As an AI language model")  # no examples: the documented drift
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    again = sim_client.chat.completions.create(model="gpt-4o-mini", messages=messages, seed=1)
    assert again.choices[0].message.content == text  # deterministic


def test_few_shot_answers_follow_the_closest_example(sim_client) -> None:
    messages = [{"role": "user", "content": "the court ruled on the appeal"}, {"role": "assistant", "content": "law"},
                {"role": "user", "content": "bake the bread in the oven"}, {"role": "assistant", "content": "food"},
                {"role": "user", "content": "the judge heard the appeal in court"}]
    completion = sim_client.chat.completions.create(model="gpt-4o", messages=messages, temperature=0)
    assert completion.choices[0].message.content == "law"
    messages[-1] = {"role": "user", "content": "fresh bread from the oven"}
    completion = sim_client.chat.completions.create(model="gpt-4o", messages=messages, temperature=0, n=3,
                                                    max_completion_tokens=1)
    assert [c.message.content for c in completion.choices] == ["food"] * 3


def test_max_tokens_truncates_with_finish_reason_length(sim_client) -> None:
    completion = sim_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "will it rain tomorrow?"}], max_tokens=5)
    assert completion.choices[0].finish_reason == "length" and completion.usage.completion_tokens == 5


def test_context_window_of_gpt_4_is_enforced(sim_client) -> None:
    long_text = "data " * 9000
    with pytest.raises(openai.BadRequestError) as raised:
        sim_client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": long_text}])
    error = raised.value
    assert error.code == "context_length_exceeded" and error.param == "messages"
    prompt_tokens = count_message_tokens([{"role": "user", "content": long_text}], "gpt-4")
    assert error.body["message"] == (
        f"This model's maximum context length is 8192 tokens. However, your messages resulted in {prompt_tokens} "
        "tokens. Please reduce the length of the messages.")


def test_unknown_model_is_a_404_model_not_found(sim_client) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        sim_client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.code == "model_not_found"
    assert raised.value.body["message"] == "The model `gpt-9` does not exist or you do not have access to it."
    with pytest.raises(openai.NotFoundError):
        sim_client.chat.completions.create(model="ft:gpt-4o-mini-2024-07-18:org::nothere1",
                                           messages=[{"role": "user", "content": "hi"}])


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_missing_key_and_malformed_json(simulator) -> None:
    url = f"{simulator.base_url}/chat/completions"
    status, body = _post(url, b'{"model": "gpt-4o"}', {"Content-Type": "application/json"})
    assert status == 401 and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("You didn't provide an API key.")
    auth = {"Content-Type": "application/json", "Authorization": "Bearer sk-test"}
    status, body = _post(url, b'{"model": "gpt-4o", "messages": [', auth)
    assert status == 400 and "could not parse the JSON body" in body["error"]["message"]
    status, body = _post(url, b'{"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}', auth)
    assert status == 400 and body["error"]["param"] == "messages[0].role"
    status, body = _post(f"{simulator.base_url}/nowhere", b"{}", auth)
    assert status == 404 and set(body["error"]) == {"message", "type", "param", "code"}
