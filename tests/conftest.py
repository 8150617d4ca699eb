"""Shared fixtures: a live simulator on loopback, and a guard that blocks the network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses


@pytest.fixture(autouse=True)
def no_network() -> Iterator[responses.RequestsMock]:
    """Fail any request made through `requests` (tiktoken's downloader uses it): tests run offline."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as guard:
        yield guard


@pytest.fixture
def simulator():
    """A running simulator on 127.0.0.1 with a manual clock; yields the Simulator object."""
    from ftplug.simulator import ManualClock, Simulator

    sim = Simulator(seed=0, clock=ManualClock())
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def sim_client(simulator):
    """The official OpenAI SDK pointed at the simulator."""
    from openai import OpenAI

    client = OpenAI(base_url=simulator.base_url, api_key="sk-test-simulator", max_retries=0)
    yield client
    client.close()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny random-weight chat model (tests/tiny_model.py) with a tokenizer trained on the fortunes quotations,
    built once per session: for the tests of local models (they need the local extra)."""
    from tests.tiny_model import SYSTEM, build_tiny_chat_model, quotations

    texts = [f"{e.input} {e.expected}" for e in quotations()] + [SYSTEM]
    return build_tiny_chat_model(tmp_path_factory.mktemp("model") / "tiny", texts)
