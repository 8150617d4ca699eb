"""The simulator as a server others point tools at: loopback by default, limits on what it keeps, ids that are
not its own refused, slow clients unable to stall others, clean stops, state that survives SIGKILL, and an
OpenAPI description that schemathesis tests it against."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import openai
import pytest

from ftplug.simulator import ManualClock, Simulator, SimulatorOptions

schemathesis = pytest.importorskip("schemathesis")
TRAINING = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 10


def _serve(*args: str, state_dir: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "ftplug.cli", "simulator", "serve", "--port", "0", *args]
    if state_dir is not None:
        command += ["--state-dir", str(state_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_interruptible)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def _interruptible() -> None:
    """Ctrl-C's default for the server, also when the tests run as a background job (which ignores SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_it_listens_on_loopback_and_warns_when_exposed_without_a_key() -> None:
    with Simulator() as simulator:
        assert simulator.base_url.startswith("http://127.0.0.1:")
    process, url = _serve("--host", "0.0.0.0")
    try:
        assert url.startswith("http://")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert "warning: listening on 0.0.0.0 without --api-key" in stderr


def test_storage_limits_refuse_uploads_until_files_are_deleted(sim_client: openai.OpenAI, simulator: Simulator) -> None:
    simulator.state.options = replace(simulator.state.options, max_files=2)
    first = sim_client.files.create(file=("a.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
    sim_client.files.create(file=("b.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="File storage is full"):
        sim_client.files.create(file=("c.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
    sim_client.files.delete(first.id)
    sim_client.files.create(file=("c.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
    simulator.state.options = replace(simulator.state.options, max_stored_bytes=len(TRAINING) * 2)
    with pytest.raises(openai.BadRequestError, match="delete files"):
        sim_client.files.create(file=("d.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")


@pytest.mark.parametrize("identifier", ["../../state.json", "..", "file-" + "x" * 4000, "a/b", "%00", "ü"])
def test_ids_that_are_not_its_own_are_not_found(sim_client: openai.OpenAI, identifier: str) -> None:
    from urllib.parse import quote

    for route in ("files/{}", "files/{}/content", "fine_tuning/jobs/{}", "batches/{}", "models/{}"):
        with pytest.raises((openai.NotFoundError, openai.BadRequestError)):  # the SDK's own path rules
            sim_client.get("/" + route.format(quote(identifier, safe="")), cast_to=object)  # refuse some ids


def test_a_state_folder_with_a_foreign_file_id_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"counter": 1, "files": [{"id": "../../etc/passwd", "filename": "x", '
                                         '"purpose": "fine-tune", "created_at": 0}], "jobs": [], "batches": [], '
                                         '"deleted_models": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="is not one this simulator makes"):
        Simulator(state_dir=tmp_path)


def test_a_half_open_client_cannot_stall_the_others() -> None:
    with Simulator(options=SimulatorOptions(client_timeout=1.0), clock=ManualClock()) as simulator:
        from urllib.parse import urlsplit

        address = urlsplit(simulator.base_url)
        stalled = socket.create_connection((address.hostname, address.port))
        stalled.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        client = openai.OpenAI(base_url=simulator.base_url, api_key="sk-x", max_retries=0, timeout=5)
        started = time.monotonic()
        for _ in range(5):
            client.models.list()
        assert time.monotonic() - started < 2  # the others are served while one client hangs
        stalled.settimeout(5)
        started = time.monotonic()
        answer = b""
        while chunk := stalled.recv(4096):  # a 408, then the connection is closed, after client_timeout
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b'"error"' in answer
        assert time.monotonic() - started < 3
        client.close()


def test_sigterm_and_sigint_stop_it_cleanly() -> None:
    for sent in (signal.SIGTERM, signal.SIGINT):
        process, url = _serve()
        client = openai.OpenAI(base_url=url, api_key="sk-x", max_retries=0)
        assert client.models.list().data
        process.send_signal(sent)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0 and "stopped" in stderr and "Traceback" not in stderr


def test_state_survives_sigkill(tmp_path: Path) -> None:
    process, url = _serve(state_dir=tmp_path / "state")
    client = openai.OpenAI(base_url=url, api_key="sk-x", max_retries=0)
    uploaded = client.files.create(file=("t.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=uploaded.id)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    again, url = _serve(state_dir=tmp_path / "state")
    try:
        client = openai.OpenAI(base_url=url, api_key="sk-x", max_retries=0)
        assert client.files.content(uploaded.id).read() == TRAINING
        assert client.fine_tuning.jobs.retrieve(job.id).training_file == uploaded.id
    finally:
        again.terminate()
        again.communicate(timeout=10)


def _fuzz_operation(operation: schemathesis.APIOperation, base: str, seen: dict[str, set[int]]) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, headers={"Authorization": "Bearer sk-schema"}, timeout=10)
        assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text)
        if response.status_code >= 400:
            error = response.json()["error"]
            assert isinstance(error["message"], str) and error["type"]
        seen.setdefault(f"{operation.method} {operation.path}", set()).add(response.status_code)

    call()


def test_every_operation_of_its_openapi_description_answers_generated_requests(no_network) -> None:
    """schemathesis generates requests from the description the simulator serves: none may get a 5xx, every
    error must be in the API's shape."""
    with Simulator(seed=5, clock=ManualClock()) as simulator:
        client = openai.OpenAI(base_url=simulator.base_url, api_key="sk-schema", max_retries=0)
        document = client.get("/openapi.json", cast_to=object)
        client.close()
        base = simulator.base_url.removesuffix("/v1")
        no_network.add_passthru(base)  # the guard wraps `requests`, which schemathesis calls through
        operations = [result.ok() for result in schemathesis.openapi.from_dict(document).get_all_operations()]
        assert len(operations) == 22
        seen: dict[str, set[int]] = {}
        for operation in operations:
            _fuzz_operation(operation, base, seen)
        assert len(seen) == 22 and any(200 in codes for codes in seen.values())
