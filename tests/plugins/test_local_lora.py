"""The local-lora trainer on a tiny random-weight chat model (CPU, offline): training lowers the loss, the
saved adapter reloads to the same answers, identical inputs reuse it, and it runs in an experiment beside
a simulator variant."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("peft", reason="the local-lora extra is not installed: pip install torch==2.13.0 '.[local]'")

from ftplug.components import TrainingContext
from ftplug.dataset import Example
from ftplug.plugins.duckdb_store.store import DuckDBStore
from ftplug.plugins.few_shot.builder import FewShotBuilder
from ftplug.plugins.trainers.local_lora.trainer import LocalLoRA
from tests.helpers import fortunes_experiment, run_cli
from tests.tiny_model import SYSTEM, lora_variant, quotations


def _context(examples: list[Example], store: DuckDBStore | None = None) -> TrainingContext:
    prompt = FewShotBuilder(shots=0, system=SYSTEM)
    prompt.prepare(examples[:48], "gpt-4o-mini", 0)
    return TrainingContext(experiment="lora", variant="tiny", base_model="tiny", train=examples[:48],
                           validation=examples[48:56], prompt=prompt, client=None, simulated=False, seed=3,
                           ledger=store, log=lambda line: None)


def _trainer(model: Path, adapters: Path) -> LocalLoRA:
    return LocalLoRA(model=str(model), epochs=4, learning_rate=1e-2, batch_size=8, max_length=160,
                     max_new_tokens=4, adapters=str(adapters), device="cpu", price_per_hour=0.5)


def test_training_lowers_the_loss_and_records_the_job(tiny_model: Path, tmp_path: Path) -> None:
    examples = quotations()[::5]  # 60 quotations across the five topics
    store = DuckDBStore(str(tmp_path / "r.duckdb"))
    trained = _trainer(tiny_model, tmp_path / "adapters").train(_context(examples, store))
    details = trained.details
    job = store.get_job(details["job_id"])
    events = [e for e in store.job_events(details["job_id"]) if e.step is not None]
    store.close()
    losses = [e.train_loss for e in events]
    assert len(losses) == 4 * 6  # 48 examples in batches of 8, four epochs
    assert sum(losses[-6:]) / 6 < 0.7 * sum(losses[:6]) / 6  # the last epoch's loss well under the first's
    assert job is not None and job.status == "succeeded" and not job.simulated and job.trained_tokens > 0
    assert details["training_cost_usd"] == pytest.approx(details["training_seconds"] / 3600 * 0.5)
    assert details["final_valid_loss"] is not None and details["device"] == "cpu"
    assert trained.cost_per_hour == 0.5 and trained.model.startswith("local-lora:")


def test_the_saved_adapter_reloads_to_the_same_answers_and_is_reused(tiny_model: Path, tmp_path: Path) -> None:
    from ftplug.plugins.local.generation import LocalGenerator

    examples = quotations()[1::5]
    context = _context(examples)
    first = _trainer(tiny_model, tmp_path / "adapters").train(context)
    queries = examples[56:60]
    answers = first.predict_many(queries)
    assert len(answers) == 4 and all(a.completion_tokens and a.prompt_tokens for a in answers)
    folder = Path(first.details["adapter"])
    stamp = (folder / "ftplug-adapter.json").stat().st_mtime_ns
    reloaded = LocalGenerator(str(tiny_model), context.prompt.build, device="cpu", adapter=folder, max_new_tokens=4,
                              max_length=160)
    assert [a.output for a in reloaded.predict_many(queries)] == [a.output for a in answers]
    again = _trainer(tiny_model, tmp_path / "adapters").train(_context(examples))
    assert again.details["reused_job"] and again.details["adapter"] == str(folder)
    assert (folder / "ftplug-adapter.json").stat().st_mtime_ns == stamp  # not trained again
    assert [a.output for a in again.predict_many(queries)] == [a.output for a in answers]
    other = LocalLoRA(model=str(tiny_model), epochs=1, adapters=str(tmp_path / "adapters"), device="cpu",
                      max_length=160).train(_context(examples))
    assert other.details["adapter"] != str(folder)  # other options: another adapter


@pytest.mark.slow
def test_an_experiment_with_a_local_lora_variant_runs_beside_a_simulator_variant(tiny_model: Path,
                                                                                 tmp_path: Path) -> None:
    experiment = tmp_path / "e.toml"
    experiment.write_text(fortunes_experiment("lora-vs-prompting", seed=2, test=12, validation=8) + f'''
[[variants]]
name = "few-shot"
prompt = {{ builder = "few-shot", shots = 5, system = "{SYSTEM}" }}
[[variants]]
name = "lora"
train_size = 40
trainer = {{ name = "local-lora", model = "{tiny_model}", epochs = 2, learning_rate = 0.01, batch_size = 8, \
max_length = 160, max_new_tokens = 4, price_per_hour = 1.0 }}
prompt = {{ builder = "few-shot", shots = 0, system = "{SYSTEM}" }}
''', encoding="utf-8")
    db = tmp_path / "r.duckdb"
    done = run_cli("run", str(experiment), "--db", str(db), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(run_cli("report", "--db", str(db), "--format", "json").stdout)
    variants = {v["variant"]: v for v in report["variants"]}
    assert variants["few-shot"]["simulated"] and not variants["lora"]["simulated"]
    assert variants["lora"]["predictions"] == 12 and variants["lora"]["errors"] == 0
    assert variants["lora"]["training"]["trained_tokens"] > 0 and variants["lora"]["train_rows"] == 40
    assert len(report["loss_curves"]["lora"]) == 2 * 5  # 40 rows in batches of 8, two epochs
    assert variants["lora"]["cost_per_prediction"] > 0  # its share of an hour at $1
    assert list((tmp_path / "ftplug-adapters").iterdir())  # the adapter, under its content key
    out = tmp_path / "served"
    exported = run_cli("export-model", "lora", str(out), "--db", str(db), "--adapter-only", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert (out / "adapter_config.json").is_file() and "--enable-lora" in exported.stdout
    refused = run_cli("export-model", "few-shot", str(tmp_path / "x"), "--db", str(db), cwd=tmp_path)
    assert refused.returncode == 1 and "was not trained by local-lora" in refused.stderr


def test_the_merged_export_answers_like_the_adapter(tiny_model: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftplug.plugins.commands.export_model import export_merged, find_adapter
    from ftplug.plugins.local.tokens import chat_prompt

    examples = quotations()[2::5]
    context = _context(examples)
    trained = _trainer(tiny_model, tmp_path / "adapters").train(context)
    adapter, meta = find_adapter(trained.details["adapter"], str(tmp_path / "none.duckdb"), None)
    export_merged(adapter, meta, tmp_path / "merged")
    model = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged"))
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "merged"))
    expected = [a.output for a in trained.predict_many(examples[56:60])]
    for example, answer in zip(examples[56:60], expected, strict=True):
        ids = tokenizer(chat_prompt(tokenizer, context.prompt.build(example)), add_special_tokens=False,
                        return_tensors="pt")
        output = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        assert tokenizer.decode(output[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip() == answer


def test_finetune_show_and_events_read_a_local_job_from_the_store(tiny_model: Path, tmp_path: Path) -> None:
    store = DuckDBStore(str(tmp_path / "r.duckdb"))
    trained = _trainer(tiny_model, tmp_path / "adapters").train(_context(quotations()[3::5], store))
    store.close()
    job = trained.details["job_id"]
    shown = run_cli("finetune", "show", job, "--db", str(tmp_path / "r.duckdb"))
    assert shown.returncode == 0, shown.stderr
    assert f"job {job}: succeeded" in shown.stdout and "endpoint local" in shown.stdout
    events = run_cli("finetune", "events", job, "--db", str(tmp_path / "r.duckdb"))
    assert events.stdout.count("training loss") == 24
    refused = run_cli("finetune", "cancel", job, "--db", str(tmp_path / "r.duckdb"))
    assert refused.returncode == 1 and "already succeeded" in refused.stderr


@pytest.mark.slow
def test_ftplug_train_under_torchrun_trains_in_two_processes_and_the_run_reuses_the_adapter(
        tiny_model: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    experiment = tmp_path / "e.toml"
    experiment.write_text(fortunes_experiment("distributed", seed=3, test=8, validation=6,
                                              base=f"local:{tiny_model}") + f'''
local = {{ device = "cpu" }}
[[variants]]
name = "few-shot"
prompt = {{ builder = "few-shot", shots = 3, reserve_output = 4, system = "{SYSTEM}" }}
''' + lora_variant(batch_size=4), encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    trained = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                              "-m", "ftplug.cli", "train", str(experiment)],
                             cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert trained.returncode == 0, trained.stderr
    assert "lora: training in 2 processes" in trained.stderr and "few-shot" not in trained.stderr
    assert trained.stderr.count("lora: step 8/8") == 1  # 32 rows, 4 per process and step, two epochs; one logger
    adapters = list((tmp_path / "ftplug-adapters").iterdir())
    assert len(adapters) == 1 and (adapters[0] / "ftplug-adapter.json").is_file()
    meta = json.loads((adapters[0] / "ftplug-adapter.json").read_text(encoding="utf-8"))
    assert meta["processes"] == 2 and len(meta["steps"]) == 8
    db = tmp_path / "r.duckdb"
    done = run_cli("run", str(experiment), "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"lora: reusing the adapter in ftplug-adapters/{adapters[0].name}" in done.stderr
    report = json.loads(run_cli("report", "--db", str(db), "--format", "json").stdout)
    assert len(report["loss_curves"]["lora"]) == 8  # the distributed training's loss curve, in the store
    refused = run_cli("train", str(experiment), "--variant", "few-shot", cwd=tmp_path)
    assert refused.returncode == 1 and "does not train ahead" in refused.stderr


def test_the_model_fingerprint_is_the_models_content_not_where_or_when_it_was_converted(tiny_model: Path,
                                                                                         tmp_path: Path) -> None:
    import shutil

    from ftplug.plugins.trainers.local_lora.data import model_fingerprint

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    (copy / "ftplug-gguf.json").write_text('{"converted_at": "now"}', encoding="utf-8")
    assert model_fingerprint(str(copy)) == model_fingerprint(str(tiny_model))
    (copy / "config.json").write_text((copy / "config.json").read_text(encoding="utf-8") + " ", encoding="utf-8")
    assert model_fingerprint(str(copy)) != model_fingerprint(str(tiny_model))


def test_training_on_the_cpu_is_deterministic_for_a_seed(tiny_model: Path, tmp_path: Path) -> None:
    examples = quotations()[4::5]
    first = _trainer(tiny_model, tmp_path / "one").train(_context(examples))
    second = _trainer(tiny_model, tmp_path / "two").train(_context(examples))  # another folder: trained again
    assert not second.details["reused_job"]
    losses = [json.loads((Path(t.details["adapter"]) / "ftplug-adapter.json").read_text(encoding="utf-8"))["steps"]
              for t in (first, second)]
    assert losses[0] == losses[1] and len(losses[0]) == 24
    assert [a.output for a in first.predict_many(examples[56:60])] == [a.output for a in second.predict_many(
        examples[56:60])]
