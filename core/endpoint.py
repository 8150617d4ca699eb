"""Where requests go: the embedded offline simulator or a live OpenAI-compatible API."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ftplug.errors import InputError
from ftplug.secrets import remember

Mode = Literal["auto", "simulate", "live"]
SIMULATOR_KEY = "sk-ftplug-simulator"


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible API the official SDK talks to.

    :param simulated: ``True`` for the offline simulator; every result from it is labelled simulated.
    """

    base_url: str | None
    api_key: str
    simulated: bool

    @property
    def label(self) -> str:
        """How the endpoint is shown to the user."""
        if self.simulated:
            return f"simulator {self.base_url}"
        return self.base_url or "https://api.openai.com/v1"

    def client(self, **options: Any) -> Any:
        """A synchronous ``openai.OpenAI`` client for this endpoint."""
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key=self.api_key, **options)

    def async_client(self, **options: Any) -> Any:
        """An ``openai.AsyncOpenAI`` client for this endpoint, on the SDK's aiohttp transport when installed
        (``openai[aiohttp]``, a dependency): the default httpx transport spends about twice the CPU per
        request, and with many requests in flight the client's CPU is what limits the rate."""
        from openai import AsyncOpenAI, DefaultAioHttpClient

        if "http_client" not in options:
            with contextlib.suppress(RuntimeError):  # without the extra: the SDK's default transport
                options["http_client"] = DefaultAioHttpClient()
        return AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, **options)


class LazyClient:
    """A client made on first use: a trainer that never calls the API (no training, a local baseline) costs
    no client — building one sets up TLS, a noticeable fraction of a second."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make, self._client = make, None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)

    def close(self) -> None:
        """Close the client, if it was ever made."""
        if self._client is not None:
            self._client.close()


OPENAI_HOSTS = ("api.openai.com",)
AZURE_OPENAI_SUFFIX = ".openai.azure.com"


def is_openai_endpoint(base_url: str | None) -> bool:
    """Whether ``base_url`` is OpenAI's API (the default, ``api.openai.com``, or Azure OpenAI), whose models
    the shipped catalogue names and prices; any other server only borrows the names."""
    if base_url is None:
        return True
    from urllib.parse import urlsplit

    host = (urlsplit(base_url).hostname or "").lower()
    return host in OPENAI_HOSTS or host.endswith(AZURE_OPENAI_SUFFIX)


def host_of(base_url: str) -> str:
    """``host:port`` of ``base_url``, for labels."""
    from urllib.parse import urlsplit

    return urlsplit(base_url).netloc or base_url


def borrowed_name(endpoint: Endpoint, model: str) -> str | None:
    """``MODEL at HOST`` when a server that is not OpenAI's answers under ``model`` and the user's own catalogue
    does not price it: the name is OpenAI's, the model that answered is not, and its prices are not OpenAI's.
    ``None`` when the name is the model's (OpenAI's API, the simulator, or a model the user's catalogue prices)."""
    from ftplug.catalogue import default_catalogue

    if endpoint.simulated or is_openai_endpoint(endpoint.base_url) or default_catalogue().is_users(model):
        return None
    assert endpoint.base_url is not None
    return f"{model} at {host_of(endpoint.base_url)}"


def wants_simulator(mode: Mode) -> bool:
    """Whether ``mode`` means the simulator: asked for, or ``auto`` with no ``OPENAI_API_KEY`` set."""
    return mode == "simulate" or (mode == "auto" and not os.environ.get("OPENAI_API_KEY"))


def simulator_state_dir(db: str) -> Path | None:
    """Where the embedded simulator keeps its files, jobs and models for the result store ``db``, so that
    simulated fine-tuning jobs outlive the process (resumed and reused like real ones)."""
    return None if db == ":memory:" else Path(db).with_name(Path(db).name + ".simulator")


NO_ENDPOINT = Endpoint(base_url=None, api_key="", simulated=False)  # for runs whose every variant is local


@contextmanager
def open_endpoint(mode: Mode = "auto", seed: int = 0, state_dir: Path | None = None,
                  needed: bool = True) -> Iterator[Endpoint]:
    """The endpoint for ``mode``; starts (and afterwards stops) the embedded simulator when needed, keeping
    its state in ``state_dir`` if given. With ``needed`` false (every variant answers in this process) there
    is none: no simulator is started and no API key is asked for."""
    if not needed:
        yield NO_ENDPOINT
        return
    if wants_simulator(mode):
        from ftplug.simulator import Simulator

        with Simulator(seed=seed, state_dir=state_dir) as simulator:
            yield Endpoint(base_url=simulator.base_url, api_key=SIMULATOR_KEY, simulated=True)
        return
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key:
        raise InputError("--live needs OPENAI_API_KEY in the environment")
    remember(api_key)
    yield Endpoint(base_url=os.environ.get("OPENAI_BASE_URL") or None, api_key=api_key, simulated=False)


def endpoint_label(run_endpoint: Endpoint, variant_endpoint: dict[str, str] | None, local: bool) -> str:
    """What a run records as its endpoint: ``local`` for a predictor in this process, the variant's own API
    (not on the simulator, which answers everything), or the run's."""
    if local:
        return "local"
    if variant_endpoint is not None and not run_endpoint.simulated:
        return variant_endpoint["base_url"]
    return run_endpoint.label


def answering_endpoint(run_endpoint: Endpoint, base_url: str | None, api_key_env: str | None,
                       variant_endpoint: dict[str, str] | None) -> Endpoint:
    """Where a variant's model answers: the endpoint its trainer named (``base_url``), else the variant's own
    (``endpoint = {…}``), else the run's. On the simulator everything answers there.

    :raises FtplugError: when the chosen endpoint's key variable is not set.
    """
    if run_endpoint.simulated:
        return run_endpoint
    if base_url is not None:
        return _keyed(base_url, api_key_env or "OPENAI_API_KEY")
    if variant_endpoint is not None:
        return _keyed(variant_endpoint["base_url"], variant_endpoint["api_key_env"])
    return run_endpoint


def _keyed(base_url: str, api_key_env: str) -> Endpoint:
    from ftplug.errors import FtplugError

    key = os.environ.get(api_key_env)
    if not key:
        raise FtplugError(f"{base_url} needs its API key in ${api_key_env}")
    remember(key)
    return Endpoint(base_url=base_url, api_key=key, simulated=False)
