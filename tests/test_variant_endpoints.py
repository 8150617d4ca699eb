"""A variant with its own model and OpenAI-compatible endpoint: its requests go there, with its own key."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ftplug.errors import ConfigError
from ftplug.simulator import Simulator, SimulatorOptions
from tests.helpers import fortunes_experiment, run_cli

CATALOGUE = '''
[models."provider-llama-ft"]
context_window = 8192
max_output_tokens = 1024
encoding = "cl100k_base"
input_price = 0.20
output_price = 0.20
'''


def _experiment(tmp_path: Path, base_url: str) -> Path:
    (tmp_path / "models.toml").write_text(CATALOGUE, encoding="utf-8")
    path = tmp_path / "e.toml"
    path.write_text(fortunes_experiment("two-providers", seed=1, test=12, validation=10) + f'''catalogue = "models.toml"
[[variants]]
name = "openai-few-shot"
prompt = {{ builder = "few-shot", shots = 3, system = "Answer with one topic word." }}
[[variants]]
name = "provider-fine-tuned"
model = "provider-llama-ft"
endpoint = {{ base_url = "{base_url}", api_key_env = "PROVIDER_KEY" }}
prompt = {{ builder = "few-shot", shots = 0, system = "Answer with one topic word." }}
''', encoding="utf-8")
    return path


def test_each_variant_asks_its_own_endpoint_with_its_own_key_and_model(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTPLUG_MODELS", str(tmp_path / "models.toml"))  # the provider-side simulator knows it
    (tmp_path / "models.toml").write_text(CATALOGUE, encoding="utf-8")
    with Simulator(seed=1, options=SimulatorOptions(api_key="sk-openai-side")) as openai_side, \
            Simulator(seed=2, options=SimulatorOptions(api_key="sk-provider-side")) as provider:
        provider_url = provider.base_url
        experiment = _experiment(tmp_path, provider_url)
        db = tmp_path / "r.duckdb"
        done = run_cli("run", str(experiment), "--live", "--db", str(db), "--quiet",
                       env={"OPENAI_API_KEY": "sk-openai-side", "OPENAI_BASE_URL": openai_side.base_url,
                            "PROVIDER_KEY": "sk-provider-side"})
        assert done.returncode == 0, done.stderr
        chat = "POST /v1/chat/completions"
        assert openai_side.state.requests.get(chat) == 12 and provider.state.requests.get(chat) == 12
    with duckdb.connect(str(db), read_only=True) as connection:
        runs = dict(connection.execute("SELECT variant, model || ' @ ' || endpoint FROM runs").fetchall())
        cost = connection.execute("SELECT sum(p.cost_usd), sum(p.prompt_tokens + p.completion_tokens) "
                                  "FROM predictions p JOIN runs r USING (run_id) "
                                  "WHERE r.variant = 'provider-fine-tuned'").fetchone()
    assert runs["provider-fine-tuned"] == f"provider-llama-ft @ {provider_url}"
    assert runs["openai-few-shot"].startswith("gpt-4o-mini-2024-07-18 @ ")
    assert cost[0] == pytest.approx(cost[1] * 0.20 / 1e6)  # priced from the user's catalogue file


def test_a_missing_key_or_bad_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path, "http://127.0.0.1:9/v1")
    done = run_cli("run", str(experiment), "--live", "--db", str(tmp_path / "r.duckdb"), "--quiet",
                   env={"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert "needs its API key in $PROVIDER_KEY" in done.stdout + done.stderr
    from ftplug.experiment import load_experiment
    from tests.helpers import fresh_plugins

    text = experiment.read_text(encoding="utf-8").replace('base_url = "http://127.0.0.1:9/v1"', 'base_url = "ftp://x"')
    experiment.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"endpoint base_url: must be an http\(s\) URL"):
        load_experiment(experiment, fresh_plugins().registry)
