"""A standalone simulator (``ftplug simulator serve``) reached as a live API is still the simulator: it says so in
its ``x-ftplug-simulated`` header, and its runs are labelled simulated in the store, the views, every report
format and the terminal, as the embedded simulator's are."""

from __future__ import annotations

import csv
import http.client
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from ftplug.simulator import Simulator, SimulatorOptions
from tests.helpers import fortunes_experiment, run_in_process

HEADER = "x-ftplug-simulated"  # every simulator answer has it, errors included
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@contextmanager
def unlabelled(upstream: Simulator) -> Iterator[str]:
    """A thin proxy in front of ``upstream`` that drops its ``x-ftplug-simulated`` header: an OpenAI-compatible
    server that does not say it is the simulator, as a real API does not. Yields its base URL."""
    target = urlsplit(upstream.base_url)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
            connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
            try:
                connection.request(self.command, self.path, body=body or None, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP | {HEADER}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            finally:
                connection.close()

        do_GET = do_POST = do_DELETE = _forward

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{target.path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _experiment(path: Path, extra: str = "") -> Path:
    path.write_text(fortunes_experiment("standalone", seed=2, test=8, validation=5) + '''
[[variants]]
name = "zero-shot"
prompt = { builder = "few-shot", shots = 0, system = "Answer with one topic word." }
[[variants]]
name = "few-shot"
prompt = { builder = "few-shot", shots = 3, system = "Answer with one topic word." }
''' + extra, encoding="utf-8")
    return path


def test_the_header_is_read_from_answers_and_errors_and_its_absence_means_real() -> None:
    from ftplug.engine.endpoint import SIMULATED_HEADER, announces_simulator, says_simulated

    assert SIMULATED_HEADER == HEADER
    assert says_simulated({HEADER: "true"}) and says_simulated({HEADER: " True "})
    assert not says_simulated({}) and not says_simulated({HEADER: "false"})
    with Simulator(seed=0, options=SimulatorOptions(api_key="sk-right")) as simulator:
        assert announces_simulator(simulator.base_url, "sk-right")
        with unlabelled(simulator) as plain:
            assert not announces_simulator(plain, "sk-right")
    with Simulator(seed=0, options=SimulatorOptions(api_key="sk-right")) as simulator:
        assert announces_simulator(simulator.base_url, "sk-wrong")  # the 401 carries the header too
    assert not announces_simulator("http://127.0.0.1:9/v1", "sk-x")  # nothing listening: a real API's failure


def test_a_live_run_against_a_standalone_simulator_is_labelled_simulated_everywhere(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    with Simulator(seed=1) as simulator:
        base_url = simulator.base_url
        done = run_in_process("run", str(_experiment(tmp_path / "e.toml")), "--live", "--db", str(db),
                       env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": simulator.base_url})
    assert done.exit_code == 0, done.stderr
    assert "(SIMULATED)" in done.stderr and "(live)" not in done.stderr
    assert "zero-shot: 8/8 predictions, 0 errors" in done.stderr and "[simulated]" in done.stderr
    assert "results are SIMULATED" in done.stderr
    with duckdb.connect(str(db), read_only=True) as connection:
        runs = connection.execute("SELECT variant, simulated, endpoint FROM runs ORDER BY variant").fetchall()
        predictions = connection.execute("SELECT bool_and(simulated), count(*) FROM predictions").fetchone()
        views = {view: connection.execute(f"SELECT DISTINCT simulated, source FROM {view}").fetchall()
                 for view in ("latest_runs", "summary", "costs", "comparisons", "metric_values")}
        reference = connection.execute("SELECT DISTINCT reference_source FROM comparisons").fetchall()
    assert runs == [("few-shot", True, base_url), ("zero-shot", True, base_url)]
    assert predictions == (True, 16)
    assert all(labels == [(True, "simulated")] for labels in views.values()) and reference == [("simulated",)]

    text = run_in_process("report", "--db", str(db))
    assert text.exit_code == 0, text.stderr
    assert "Experiment standalone [SIMULATED]" in text.stdout and "SIMULATED: these answers" in text.stdout
    table = [line.split() for line in text.stdout.splitlines() if line.startswith(("zero-shot ", "few-shot "))][:2]
    assert [(row[0], row[2]) for row in table] == [("zero-shot", "simulated"), ("few-shot", "simulated")]
    document = json.loads(run_in_process("report", "--db", str(db), "--format", "json").stdout)
    assert document["simulated"] is True and document["notice"]
    assert {v["source"] for v in document["variants"]} == {"simulated"}
    rows = list(csv.DictReader(io.StringIO(run_in_process("report", "--db", str(db), "--format", "csv").stdout)))
    assert rows and {(row["simulated"], row["source"]) for row in rows} == {("True", "simulated")}
    assert {row["variant"] for row in rows} == {"zero-shot", "few-shot"}


def test_a_variant_endpoint_on_a_standalone_simulator_is_simulated_beside_a_real_api(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    with Simulator(seed=1) as api_side, Simulator(seed=2) as provider, unlabelled(api_side) as real_looking:
        provider_url = provider.base_url
        experiment = _experiment(tmp_path / "e.toml", f'''[[variants]]
name = "provider"
endpoint = {{ base_url = "{provider.base_url}", api_key_env = "PROVIDER_KEY" }}
prompt = {{ builder = "few-shot", shots = 0, system = "Answer with one topic word." }}
''')
        done = run_in_process("run", str(experiment), "--live", "--db", str(db),
                       env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": real_looking, "PROVIDER_KEY": "sk-p"})
        assert done.exit_code == 0, done.stderr
        assert provider.state.requests.get("POST /v1/chat/completions") == 8  # it asked the variant's own server
    assert f"provider by {provider_url} (SIMULATED)" in done.stderr
    assert f"zero-shot, few-shot by {real_looking} (live)" in done.stderr
    with duckdb.connect(str(db), read_only=True) as connection:
        runs = dict(connection.execute("SELECT variant, simulated FROM runs").fetchall())
        predictions = dict(connection.execute("SELECT r.variant, bool_and(p.simulated) FROM predictions p "
                                              "JOIN runs r USING (run_id) GROUP BY ALL").fetchall())
        costs = dict(connection.execute("SELECT variant, source FROM costs").fetchall())
        compared = dict(connection.execute(
            "SELECT variant, simulated FROM comparisons WHERE scorer = 'exact'").fetchall())
    assert runs == predictions == {"zero-shot": False, "few-shot": False, "provider": True}
    assert costs == {"zero-shot": "live", "few-shot": "live", "provider": "simulated"}
    assert compared == {"few-shot": False, "provider": True}  # against zero-shot, the reference
    report = run_in_process("report", "--db", str(db))
    assert "[partly SIMULATED]" in report.stdout and "provider" in report.stdout
