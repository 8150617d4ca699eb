"""The simulator for a client that is not the SDK: the standard library's HTTP, and the standalone server."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

from openai.types import FileObject
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob

KEY = {"Authorization": "Bearer sk-stdlib"}


def _call(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method, headers={**KEY, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            data = response.read()
            return response.status, json.loads(data) if response.headers["Content-Type"] == "application/json" \
                else data
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "ftplugboundary1234"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_upload_train_and_ask_with_the_standard_library(simulator) -> None:
    base = simulator.base_url
    lines = b"".join(json.dumps({"messages": [{"role": "user", "content": f"q {i} about law"},
                                              {"role": "assistant", "content": "law"}]}).encode() + b"\n"
                     for i in range(10))
    body, content_type = _multipart({"purpose": "fine-tune"}, "t.jsonl", lines)
    status, uploaded = _call("POST", f"{base}/files", body, {"Content-Type": content_type})
    assert status == 200 and FileObject.model_validate(uploaded).bytes == len(lines)
    status, content = _call("GET", f"{base}/files/{uploaded['id']}/content")
    assert status == 200 and content == lines

    status, job = _call("POST", f"{base}/fine_tuning/jobs",
                        json.dumps({"model": "gpt-4.1-nano", "training_file": uploaded["id"]}).encode(),
                        {"Content-Type": "application/json"})
    assert status == 200 and FineTuningJob.model_validate(job).model == "gpt-4.1-nano-2025-04-14"
    simulator.clock.advance(3600)
    status, job = _call("GET", f"{base}/fine_tuning/jobs/{job['id']}")
    assert job["status"] == "succeeded"
    status, completion = _call("POST", f"{base}/chat/completions", json.dumps({
        "model": job["fine_tuned_model"], "messages": [{"role": "user", "content": "q 99 about law"}]}).encode(),
        {"Content-Type": "application/json"})
    assert status == 200 and ChatCompletion.model_validate(completion).choices[0].message.content == "law"
    status, error = _call("POST", f"{base}/fine_tuning/jobs", b'{"model": "gpt-4o-mini"}',
                          {"Content-Type": "application/json"})
    assert status == 400 and error["error"]["param"] == "training_file"


def test_standalone_server_prints_its_url_first_and_checks_the_key() -> None:
    process = subprocess.Popen([sys.executable, "-m", "ftplug.cli", "simulator", "serve", "--port", "0",
                                "--api-key", "sk-only-this-one", "--seed", "3"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        request = urllib.request.Request(f"{base_url}/models/gpt-4o",
                                         headers={"Authorization": "Bearer sk-only-this-one"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read())["id"] == "gpt-4o"
        status, error = _call("GET", f"{base_url}/models/gpt-4o")
        assert status == 401 and error["error"]["code"] == "invalid_api_key"
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_serve_refuses_bad_options() -> None:
    result = subprocess.run([sys.executable, "-m", "ftplug.cli", "simulator", "serve", "--fault", "418"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and "kind must be one of" in result.stderr and "Traceback" not in result.stderr
