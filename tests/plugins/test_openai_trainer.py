"""The ``openai`` trainer against the simulator, through the real SDK."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ftplug.components import TrainingContext
from ftplug.dataset import Example
from ftplug.errors import FtplugError
from ftplug.plugins.few_shot.builder import FewShotBuilder
from ftplug.plugins.trainers.openai.trainer import OpenAIFineTuning, chat_jsonl
from ftplug.simulator import JobTiming, Simulator

FAST = JobTiming(validating=0.05, queued=0.05, per_step=0.0005)


def _examples(n: int, prefix: str = "t") -> list[Example]:
    topics = ["food", "law"]
    return [Example(f"{prefix}{i}", f"a quotation about {topics[i % 2]} number {i}", topics[i % 2]) for i in range(n)]


def _context(client: Any, prompt: Any, lines: list[str], train: int = 12, validation: int = 4) -> TrainingContext:
    return TrainingContext(experiment="e", variant="ft", base_model="gpt-4o-mini", train=_examples(train),
                           validation=_examples(validation, "v"), prompt=prompt, client=client, simulated=True,
                           seed=3, log=lines.append)


def test_training_file_is_chat_jsonl_from_the_prompt_builder() -> None:
    builder = FewShotBuilder(system="Pick one of: food, law.")
    lines = chat_jsonl(_examples(2), builder).decode().splitlines()
    assert [json.loads(line) for line in lines][1] == {"messages": [
        {"role": "system", "content": "Pick one of: food, law."},
        {"role": "user", "content": "a quotation about law number 1"},
        {"role": "assistant", "content": "law"}]}


def test_trainer_uploads_creates_polls_and_returns_the_model() -> None:
    from openai import OpenAI

    with Simulator(seed=1, timing=FAST) as simulator:
        client = OpenAI(base_url=simulator.base_url, api_key="sk-test", max_retries=0)
        lines: list[str] = []
        trained = OpenAIFineTuning(n_epochs=2, suffix="unit").train(
            _context(client, FewShotBuilder(system="Pick one of: food, law."), lines))
        job = client.fine_tuning.jobs.retrieve(trained.details["job_id"])
        uploaded = client.files.content(job.training_file).read().decode().splitlines()
        answer = client.chat.completions.create(model=trained.model, messages=[
            {"role": "user", "content": "a quotation about law number 99"}]).choices[0].message.content
    assert trained.model.startswith("ft:gpt-4o-mini-2024-07-18:ftplug-sim:unit:")
    assert trained.details["n_epochs"] == 2 and trained.details["trained_tokens"] > 0
    assert job.status == "succeeded" and job.validation_file == trained.details["validation_file"]
    assert len(uploaded) == 12
    assert any(line.startswith("fine-tuning job ftjob-") and "created" in line for line in lines)
    assert lines[-1].endswith(f"succeeded: {trained.model}")
    assert answer == "law"


class NoAnswerBuilder(FewShotBuilder):
    """Writes training examples without the assistant's answer: the service rejects such a file."""

    def training_messages(self, example: Example) -> list[dict[str, Any]]:
        return [{"role": "user", "content": example.input_text}]


def test_an_example_the_service_would_reject_is_refused_before_any_upload() -> None:
    from openai import OpenAI

    with Simulator(timing=FAST) as simulator:
        client = OpenAI(base_url=simulator.base_url, api_key="sk-test", max_retries=0)
        with pytest.raises(FtplugError) as raised:
            OpenAIFineTuning().train(_context(client, NoAnswerBuilder(), []))
        assert client.files.list().data == []
    assert str(raised.value) == ("training example 't0' would be rejected by the fine-tuning service: it has no "
                                 "assistant message (example_missing_assistant_message)")


def test_a_job_that_fails_validation_raises_with_the_jobs_error_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from openai import OpenAI

    from ftplug.plugins.trainers.openai import trainer as openai_finetune

    # a service stricter than ftplug's own checks: the job is created, then fails validating its file
    monkeypatch.setattr(openai_finetune, "_check_conversations", lambda *arguments: None)
    with Simulator(timing=FAST) as simulator:
        client = OpenAI(base_url=simulator.base_url, api_key="sk-test", max_retries=0)
        with pytest.raises(FtplugError) as raised:
            OpenAIFineTuning().train(_context(client, NoAnswerBuilder(), []))
    assert "failed: Line 1: has no assistant message (example_missing_assistant_message)." in str(raised.value)


def test_too_few_examples_are_refused_before_any_upload() -> None:
    class NoClient:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("no request may be made")

    with pytest.raises(FtplugError, match="at least 10 training examples, the training split has 9"):
        OpenAIFineTuning().train(_context(NoClient(), FewShotBuilder(), [], train=9))
