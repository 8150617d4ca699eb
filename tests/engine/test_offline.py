"""A whole experiment runs with the network blocked: only loopback connections are made."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests
import responses

from ftplug.config.run_options import RunOptions
from ftplug.engine.endpoint import open_endpoint
from ftplug.engine.workbench import Workbench
from ftplug.plugins.duckdb_store.store import DuckDBStore
from tests.helpers import EXAMPLE, fresh_plugins


def test_experiment_runs_offline(no_network: responses.RequestsMock, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    connected: list[object] = []
    real_connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: object) -> None:
        connected.append(address)
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test blocked a connection to {address!r}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)

    with pytest.raises(requests.ConnectionError):  # the guard is live: `requests` cannot reach anything
        requests.get("https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken", timeout=1)

    bench = Workbench.load(EXAMPLE, plugins=fresh_plugins(), options=RunOptions(limit=5))
    store = DuckDBStore(str(tmp_path / "offline.duckdb"))
    with open_endpoint("auto", seed=bench.experiment.seed) as endpoint:
        assert endpoint.simulated
        summaries = bench.run(store, endpoint)
    rows = store.variant_rows()
    store.close()
    assert [s.status for s in summaries] == ["succeeded"] * 4
    assert [row["predictions"] for row in rows] == [5, 5, 5, 5]
    assert connected and all(address[0] == "127.0.0.1" for address in connected)
    assert len(no_network.calls) == 1  # only the probe above, which was refused
