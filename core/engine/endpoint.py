"""Where requests go: the embedded offline simulator or a live OpenAI-compatible API."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ftplug.config.secrets import remember
from ftplug.errors import InputError

Mode = Literal["auto", "simulate", "live"]
SIMULATOR_KEY = "sk-ftplug-simulator"
SIMULATED_HEADER = "x-ftplug-simulated"  # the simulator sends it, as "true", on every answer, errors included
PROBE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible API the official SDK talks to.

    :param simulated: ``True`` for the offline simulator; every result from it is labelled simulated.
    :param standalone: ``True`` for a simulator found at an address the user gave (``ftplug simulator serve``
        behind ``OPENAI_BASE_URL`` or a variant's ``endpoint``), which said so in its ``x-ftplug-simulated``
        header. Requests still go where the user sent them; only the embedded simulator (``simulated`` and not
        ``standalone``) answers every variant itself.
    """

    base_url: str | None
    api_key: str
    simulated: bool
    standalone: bool = False

    @property
    def embedded(self) -> bool:
        """Whether this is the simulator ``ftplug run`` started itself, which answers every variant."""
        return self.simulated and not self.standalone

    @property
    def label(self) -> str:
        """How the endpoint is shown to the user (and recorded as a run's ``endpoint``)."""
        if self.embedded:
            return f"simulator {self.base_url}"
        return self.base_url or OPENAI_URL

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


OPENAI_URL = "https://api.openai.com/v1"  # where the SDK sends requests when no base URL is given
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
    from ftplug.catalogue.models import default_catalogue

    if endpoint.simulated or is_openai_endpoint(endpoint.base_url) or default_catalogue().is_users(model):
        return None
    assert endpoint.base_url is not None
    return f"{model} at {host_of(endpoint.base_url)}"


def says_simulated(headers: Mapping[str, str]) -> bool:
    """Whether an answer's headers say it comes from ftplug's simulator (``x-ftplug-simulated: true``). A
    missing header means a real API."""
    return (headers.get(SIMULATED_HEADER) or "").strip().lower() == "true"


_announced: dict[str | None, bool] = {}  # by base_url: a server is asked once per process
_announced_lock = threading.Lock()


def announces_simulator(base_url: str | None, api_key: str) -> bool:
    """Whether the server at ``base_url`` is ftplug's simulator, by its answer to one ``GET /models`` through
    the official SDK: the simulator marks every answer, an error too (a wrong key's 401), with
    ``x-ftplug-simulated: true``. Anything else — no such header, no answer, any failure — means a real API,
    so the real path is never refused or changed. Asked once per ``base_url`` in a process."""
    with _announced_lock:
        if base_url in _announced:
            return _announced[base_url]
    answer = _probe(base_url, api_key)
    with _announced_lock:
        _announced[base_url] = answer
    return answer


def _probe(base_url: str | None, api_key: str) -> bool:
    try:
        import openai

        client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=PROBE_TIMEOUT_SECONDS)
    except Exception:  # no key the SDK accepts, a URL it refuses: not the simulator's business
        return False
    try:
        try:
            headers: Mapping[str, str] = client.models.with_raw_response.list().headers
        except openai.APIStatusError as error:  # an error answer is still an answer, with its headers
            headers = error.response.headers
        return says_simulated(headers)
    except Exception:  # unreachable, timed out, not HTTP: a real API as far as labels go
        return False
    finally:
        client.close()


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
    is none: no simulator is started and no API key is asked for. A live endpoint that turns out to be a
    standalone simulator (:func:`announces_simulator`) is simulated."""
    if not needed:
        yield NO_ENDPOINT
        return
    if wants_simulator(mode):
        with simulator_endpoint(seed=seed, state_dir=state_dir) as endpoint:
            yield endpoint
        return
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key:
        raise InputError("--live needs OPENAI_API_KEY in the environment")
    remember(api_key)
    yield _announced_endpoint(os.environ.get("OPENAI_BASE_URL") or None, api_key)


@contextmanager
def simulator_endpoint(seed: int = 0, state_dir: Path | None = None) -> Iterator[Endpoint]:
    """The embedded simulator (seeded with ``seed``, its state kept in ``state_dir`` if given), started for
    the block; the only place the engine starts it."""
    from ftplug.simulator import Simulator

    with Simulator(seed=seed, state_dir=state_dir) as simulator:
        yield Endpoint(base_url=simulator.base_url, api_key=SIMULATOR_KEY, simulated=True)


def forget_servers() -> None:
    """Forget which servers were asked whether they are the simulator (a new command asks again)."""
    with _announced_lock:
        _announced.clear()


def _announced_endpoint(base_url: str | None, api_key: str) -> Endpoint:
    """An endpoint the user named, simulated when the server there says it is the simulator."""
    simulated = announces_simulator(base_url, api_key)
    return Endpoint(base_url=base_url, api_key=api_key, simulated=simulated, standalone=simulated)


def endpoint_label(run_endpoint: Endpoint, variant_endpoint: dict[str, str] | None, local: bool) -> str:
    """What a run records as its endpoint: ``local`` for a predictor in this process, the variant's own API
    (not on the embedded simulator, which answers everything), or the run's."""
    if local:
        return "local"
    if variant_endpoint is not None and not run_endpoint.embedded:
        return variant_endpoint["base_url"]
    return run_endpoint.label


def answering_endpoint(run_endpoint: Endpoint, base_url: str | None, api_key_env: str | None,
                       variant_endpoint: dict[str, str] | None) -> Endpoint:
    """Where a variant's model answers: the endpoint its trainer named (``base_url``), else the variant's own
    (``endpoint = {…}``), else the run's. On the embedded simulator everything answers there. A variant's own
    endpoint is simulated when it says so (:func:`variant_simulated` labels its run alike); a trainer's is
    known only after the run is stored, so it is not asked and its answers keep the run's label.

    :raises FtplugError: when the chosen endpoint's key variable is not set.
    """
    if run_endpoint.embedded:
        return run_endpoint
    if base_url is not None:
        return _keyed(base_url, api_key_env or "OPENAI_API_KEY", ask=False)
    if variant_endpoint is not None:
        return _keyed(variant_endpoint["base_url"], variant_endpoint["api_key_env"])
    return run_endpoint


def _keyed(base_url: str, api_key_env: str, ask: bool = True) -> Endpoint:
    from ftplug.errors import FtplugError

    key = os.environ.get(api_key_env)
    if not key:
        raise FtplugError(f"{base_url} needs its API key in ${api_key_env}")
    remember(key)
    return _announced_endpoint(base_url, key) if ask else Endpoint(base_url=base_url, api_key=key, simulated=False)


def variant_simulated(run_endpoint: Endpoint, variant_endpoint: dict[str, str] | None) -> bool:
    """Whether a variant's answers (from the run's endpoint, or from its own ``endpoint = {…}``) come from a
    simulator, known before it starts: its run and predictions are labelled so. A variant endpoint whose key
    is not set is not asked (the variant fails on it anyway)."""
    if variant_endpoint is None or run_endpoint.embedded:
        return run_endpoint.simulated
    key = os.environ.get(variant_endpoint["api_key_env"])
    return bool(key) and announces_simulator(variant_endpoint["base_url"], key or "")
