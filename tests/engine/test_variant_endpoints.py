"""A variant with its own model and OpenAI-compatible endpoint: its requests go there, with its own key."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from ftplug.errors import ConfigError
from ftplug.simulator import Simulator, SimulatorOptions
from tests.engine.test_simulated_label import unlabelled
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
    # the OpenAI side stands in for a real API: a proxy drops the simulator's x-ftplug-simulated header
    with Simulator(seed=1, options=SimulatorOptions(api_key="sk-openai-side")) as openai_side, \
            Simulator(seed=2, options=SimulatorOptions(api_key="sk-provider-side")) as provider, \
            unlabelled(openai_side) as openai_url:
        provider_url = provider.base_url
        experiment = _experiment(tmp_path, provider_url)
        db = tmp_path / "r.duckdb"
        done = run_cli("run", str(experiment), "--live", "--db", str(db), "--quiet",
                       env={"OPENAI_API_KEY": "sk-openai-side", "OPENAI_BASE_URL": openai_url,
                            "PROVIDER_KEY": "sk-provider-side"})
        assert done.returncode == 0, done.stderr
        chat = "POST /v1/chat/completions"
        assert openai_side.state.requests.get(chat) == 12 and provider.state.requests.get(chat) == 12
    with duckdb.connect(str(db), read_only=True) as connection:
        runs = dict(connection.execute("SELECT variant, model || ' @ ' || endpoint FROM runs").fetchall())
        cost = connection.execute("SELECT sum(p.cost_usd), sum(p.prompt_tokens + p.completion_tokens) "
                                  "FROM predictions p JOIN runs r USING (run_id) "
                                  "WHERE r.variant = 'provider-fine-tuned'").fetchone()
        borrowed = connection.execute("SELECT count(p.cost_usd), count(*) FROM predictions p JOIN runs r "
                                      "USING (run_id) WHERE r.variant = 'openai-few-shot'").fetchone()
        simulated = dict(connection.execute("SELECT variant, simulated FROM runs").fetchall())
    assert runs["provider-fine-tuned"] == f"provider-llama-ft @ {provider_url}"
    # the provider is a standalone simulator and says so: that variant is simulated, the other one is not
    assert simulated == {"provider-fine-tuned": True, "openai-few-shot": False}
    assert cost[0] == pytest.approx(cost[1] * 0.20 / 1e6)  # priced from the user's catalogue file
    # OPENAI_BASE_URL points at a server that is not OpenAI's: the OpenAI name it answers under is not the
    # model that answered, so the run says where it was answered and its answers are not priced as that model's
    host = openai_url.split("//")[1].split("/")[0]
    assert runs["openai-few-shot"] == f"gpt-4o-mini-2024-07-18 at {host} @ {openai_url}"
    assert borrowed == (0, 12)


def test_only_openais_own_hosts_are_openais_api() -> None:
    from ftplug.engine.endpoint import is_openai_endpoint

    assert is_openai_endpoint(None) and is_openai_endpoint("https://api.openai.com/v1")
    assert is_openai_endpoint("https://my-team.openai.azure.com/openai/v1")
    assert not is_openai_endpoint("http://127.0.0.1:8771/v1")
    assert not is_openai_endpoint("https://api.openai.com.example.net/v1")


def test_a_missing_key_or_bad_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    experiment = _experiment(tmp_path, "http://127.0.0.1:9/v1")
    done = run_cli("run", str(experiment), "--live", "--db", str(tmp_path / "r.duckdb"), "--quiet",
                   env={"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert "needs its API key in $PROVIDER_KEY" in done.stdout + done.stderr
    from ftplug.config.experiment import load_experiment
    from tests.helpers import fresh_plugins

    text = experiment.read_text(encoding="utf-8").replace('base_url = "http://127.0.0.1:9/v1"', 'base_url = "ftp://x"')
    experiment.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"endpoint base_url: must be an http\(s\) URL"):
        load_experiment(experiment, fresh_plugins().registry)


class _ChatOnly(BaseHTTPRequestHandler):
    """A chat-completions server with nothing else, as llama.cpp's and vLLM's servers are: every other route 404."""

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path != "/v1/chat/completions":
            self._reply(404, {"detail": "Not Found"})
            return
        body = json.loads(raw)
        self._reply(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "smollm2",
                          "choices": [{"index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": "law"}}],
                          "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
                          "system_fingerprint": body.get("model")})

    def do_GET(self) -> None:
        self._reply(404, {"detail": "Not Found"})

    def _reply(self, status: int, document: dict[str, object]) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


def test_an_endpoint_without_a_fine_tuning_api_is_one_line_naming_it(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatOnly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        experiment = tmp_path / "e.toml"
        experiment.write_text(fortunes_experiment("chat-only", seed=1, test=6, validation=10) + '''
[[variants]]
name = "few-shot"
prompt = { builder = "few-shot", shots = 2, system = "Answer with one topic word." }
[[variants]]
name = "fine-tuned"
trainer = { name = "openai", n_epochs = 1 }
prompt = { builder = "few-shot", shots = 0, system = "Answer with one topic word." }
''', encoding="utf-8")
        done = run_cli("run", str(experiment), "--live", "--db", str(tmp_path / "r.duckdb"),
                       env={"OPENAI_API_KEY": "sk-local", "OPENAI_BASE_URL": base_url})
    finally:
        server.shutdown()
        thread.join()
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (f"fine-tuned: failed: {base_url} has no fine-tuning API (POST /files answered 404): use a local trainer "
            "(local-lora) or an endpoint that fine-tunes") in done.stderr
    assert "few-shot: 6/6 predictions, 0 errors" in done.stderr
