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
