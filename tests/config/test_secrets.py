"""A recognisable fake API key never reaches anything ftplug writes: the result file, the simulator's state,
recordings, reports, the terminal — not even when a server echoes it back in an error."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ftplug.config.secrets import mask, redact, remember
from ftplug.simulator import Simulator, SimulatorOptions
from tests.helpers import EXAMPLE, run_cli

MIDDLE = secrets.token_hex(16)  # what must never appear anywhere: the key's hidden part
KEY = f"sk-ftplugtest-{MIDDLE}-wxyz"
OTHER_MIDDLE = secrets.token_hex(16)
OTHER_KEY = f"sk-provider-{OTHER_MIDDLE}-abcd"


class EchoingServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that carelessly echoes the caller's key in its 401 message."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": {"message": f"invalid key {self.headers['Authorization'][7:]}",
                                     "type": "invalid_request_error", "code": "invalid_api_key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _every_byte(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def test_masking_keeps_only_the_ends() -> None:
    assert mask(KEY) == "sk-ftp…wxyz" and MIDDLE not in redact(f"bad key {KEY}!")
    remember("abcdefgh-not-key-shaped-secret")
    assert redact("token abcdefgh-not-key-shaped-secret") == "token abcdef…cret"


@pytest.mark.slow
def test_no_key_reaches_any_file_report_or_message(tmp_path: Path) -> None:
    echo = ThreadingHTTPServer(("127.0.0.1", 0), EchoingServer)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    experiment = tmp_path / "e.toml"
    text = EXAMPLE.read_text(encoding="utf-8").replace('path = "fortunes.csv"',
                                                      f'path = "{EXAMPLE.with_name("fortunes.csv")}"')
    experiment.write_text(text + f'''
[[variants]]
name = "careless-provider"
endpoint = {{ base_url = "http://127.0.0.1:{echo.server_address[1]}/v1", api_key_env = "PROVIDER_KEY" }}
prompt = {{ builder = "few-shot", shots = 0, system = "Topic?" }}
''', encoding="utf-8")
    outputs = []
    with Simulator(seed=4, options=SimulatorOptions(api_key=KEY), state_dir=tmp_path / "sim-state") as simulator:
        env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": simulator.base_url, "PROVIDER_KEY": OTHER_KEY}
        for args in (["run", str(experiment), "--live", "--limit", "6", "--max-attempts", "1"],
                     ["report", "--format", "json"], ["report", "--format", "html", "-o", "report.html"],
                     ["sql", "SELECT * FROM predictions"], ["export", "exported", "--format", "csv"],
                     ["finetune", "list"], ["cache", "stats"]):
            done = run_cli(*args, cwd=tmp_path, env=env)
            outputs.append(done.stdout + done.stderr)
        wrong = run_cli("run", str(experiment), "--live", "--limit", "2", "--fresh", "--db", "wrong.duckdb",
                        cwd=tmp_path, env={**env, "OPENAI_API_KEY": "sk-wrong-" + "0" * 32})
        outputs.append(wrong.stdout + wrong.stderr)
    echo.shutdown()
    written = _every_byte(tmp_path)
    assert (tmp_path / "ftplug.duckdb").exists() and (tmp_path / "report.html").exists()
    assert "invalid key sk-pro" in "".join(outputs)  # the echoed key was stored and shown — masked
    for hidden in (MIDDLE, OTHER_MIDDLE, KEY, OTHER_KEY):
        assert hidden.encode() not in written
        assert all(hidden not in output for output in outputs)


def test_recorded_exchanges_keep_no_key_or_organisation(tmp_path: Path) -> None:
    import openai

    with Simulator(seed=1, options=SimulatorOptions(api_key=KEY)) as upstream, \
            Simulator(options=SimulatorOptions(record_dir=tmp_path / "rec", upstream_base_url=upstream.base_url,
                                               upstream_api_key=KEY)) as recorder:
        client = openai.OpenAI(base_url=recorder.base_url, api_key=KEY, organization=f"org-{OTHER_MIDDLE}",
                               max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        client.models.list()
    written = _every_byte(tmp_path)
    assert b"chat/completions" in written  # the exchange was recorded …
    assert MIDDLE.encode() not in written and OTHER_MIDDLE.encode() not in written  # … without key or organisation
