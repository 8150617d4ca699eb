"""The HTTP server: a threaded stdlib server on loopback speaking the OpenAI API under ``/v1``."""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ftplug.simulator.api import batches as batches_api
from ftplug.simulator.api import chat as chat_api
from ftplug.simulator.api import files as files_api
from ftplug.simulator.api import fine_tuning as fine_tuning_api
from ftplug.simulator.api import models as models_api
from ftplug.simulator.api import openapi
from ftplug.simulator.api import responses as responses_api
from ftplug.simulator.behaviour.faults import DropConnection
from ftplug.simulator.http.recording import Recorder, Replayer
from ftplug.simulator.http.routing import ApiError, Request, Response, Router, parse_query
from ftplug.simulator.state import persistence
from ftplug.simulator.state.clock import Clock, SystemClock
from ftplug.simulator.state.store import JobTiming, SimulatorOptions, State

MAX_BODY_BYTES = 512 * 1024 * 1024


def build_router(state: State) -> Router:
    """Every simulated endpoint, bound to ``state``."""
    router = Router()
    for module in (files_api, fine_tuning_api, models_api, chat_api, responses_api, batches_api):
        module.add_routes(router, state)
    router.add("GET", "/v1/openapi.json",
               lambda request: openapi.document(f"http://{request.headers.get('host', '127.0.0.1')}"))
    return router


def mask_key(key: str) -> str:
    """A key as the API shows it in errors: its first and last few characters only."""
    return f"{key[:6]}***{key[-4:]}" if len(key) > 12 else "***"


def check_key(authorization: str, expected: str | None) -> None:
    """401 unless a bearer key is given (and equals ``expected``, when the server was given one)."""
    key = authorization[7:].strip() if authorization.startswith("Bearer ") else ""
    if not key:
        raise ApiError(401, "You didn't provide an API key. You need to provide your API key in an Authorization "
                            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
    if expected is not None and key != expected:
        raise ApiError(401, f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
                            "https://platform.openai.com/account/api-keys.", code="invalid_api_key")


# The routes a model answers: they take a slot (SimulatorOptions.slots), and change nothing the state folder
# keeps, so they are not worth a snapshot each.
MODEL_ROUTES = ("/v1/chat/completions", "/v1/responses")


class _Handler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a :class:`Request` for the router and writes its answer."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        # a slow or half-open client is disconnected after this many idle seconds (what the base class does
        # with a handler's class-level ``timeout``)
        self.request.settimeout(self.server.state.options.client_timeout)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no line per request on stderr
        pass

    def _handle(self) -> None:
        slots = self.server.slots if self.path.startswith(MODEL_ROUTES) else None
        if slots is None:
            self._answer()
            return
        with slots:  # waiting here is the queue of a server with that many slots
            self._answer()

    def _answer(self) -> None:
        started = time.perf_counter()
        state = self.server.state
        try:
            response, delay = self._dispatch()
            if (self.server.state_dir is not None and self.command in ("POST", "DELETE")
                    and not self.path.startswith(MODEL_ROUTES)):
                persistence.save(state, self.server.state_dir)
            if response.generated_tokens is not None:
                delay += state.options.latency.seconds(response.generated_tokens)
            if delay:
                time.sleep(delay)
        except DropConnection:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        except ApiError as error:
            response = Response(status=error.status, json_body=error.body(), headers=error.headers)
        except Exception as error:  # a bug must still answer in the API's shape, never hang the client
            response = Response(status=500, json_body=ApiError(
                500, f"The server had an error while processing your request. Sorry about that! ({error})",
                type="server_error").body())
        payload = response.payload()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        self.send_header("openai-processing-ms", str(round((time.perf_counter() - started) * 1000)))
        self.send_header("openai-version", "2020-10-01")
        self.send_header("x-ftplug-simulated", "true")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _dispatch(self) -> tuple[Response, float]:
        """The response and any extra delay a ``slow`` fault adds. The body is always read first, so that
        an early error leaves the keep-alive connection ready for the next request."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413 if length > 0 else 400, "Invalid or too large Content-Length.")
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:  # a client that stopped sending: answer and hang up, freeing the thread
            self.close_connection = True
            raise ApiError(408, "The request body was not received in time.") from None
        route = f"{self.command} {urlsplit(self.path).path}"
        with self.server.state.lock:
            self.server.state.requests[route] += 1
            self.server.state.arrivals.append((time.monotonic(), route))
        delay = self.server.state.faults.check(urlsplit(self.path).path)
        check_key(self.headers.get("Authorization", ""), self.server.state.options.api_key)
        url = urlsplit(self.path)
        request = Request(method=self.command, path=url.path.rstrip("/") or "/", query=parse_query(url.query),
                          headers={k.lower(): v for k, v in self.headers.items()}, body=body)
        if self.server.replayer is not None:
            return self.server.replayer.answer(request), delay
        if self.server.recorder is not None:
            return self.server.recorder.forward(request), delay
        return self.server.router.dispatch(request), delay

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    server_address: tuple[str, int]  # an AF_INET socket's name once bound: (host, port)

    def __init__(self, address: tuple[str, int], state: State, state_dir: Path | None) -> None:
        self.state, self.state_dir = state, state_dir
        self.router = build_router(state)
        options = state.options
        self.slots = threading.BoundedSemaphore(options.slots) if options.slots else None
        self.replayer = Replayer(options.replay_dir) if options.replay_dir is not None else None
        self.recorder = None
        if options.record_dir is not None:
            if not options.upstream_api_key:
                raise ValueError("recording needs the upstream API key")
            self.recorder = Recorder(options.record_dir, options.upstream_api_key, options.upstream_base_url)
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer (an interrupted run) is normal, not worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Simulator:
    """The offline OpenAI API on loopback. ``start()`` serves it from a background thread.

    :param seed: makes every answer, id and loss curve reproducible.
    :param clock: what fine-tuning jobs measure time with; a :class:`ManualClock` lets tests move it.
    :param timing: seconds a job spends validating, queued, and per training step.
    :param options: API key, latency model, faults and rate limits.
    :param state_dir: keep files, jobs, batches and deleted models in this folder across restarts.
    """

    def __init__(self, seed: int = 0, clock: Clock | None = None, host: str = "127.0.0.1", port: int = 0,
                 timing: JobTiming | None = None, options: SimulatorOptions | None = None,
                 state_dir: Path | None = None) -> None:
        self.state = State(seed=seed, clock=clock or SystemClock(), timing=timing or JobTiming(),
                           options=options or SimulatorOptions())
        self.state_dir = Path(state_dir) if state_dir is not None else None
        if self.state_dir is not None:
            persistence.load(self.state, self.state_dir)
        self.host, self.port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def clock(self) -> Clock:
        """The clock jobs run on."""
        return self.state.clock

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, for an SDK's ``base_url``."""
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def bind(self) -> Simulator:
        """Open the listening socket (without serving yet)."""
        if self._server is None:
            self._server = _Server((self.host, self.port), self.state, self.state_dir)
        return self

    def start(self) -> Simulator:
        """Serve in a daemon thread; returns ``self``."""
        self.bind()
        assert self._server is not None
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="ftplug-simulator", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self.bind()
        assert self._server is not None
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving, close the socket and, with a state folder, write the state a last time."""
        if self._server is not None and self.state_dir is not None:
            persistence.save(self.state, self.state_dir)
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=5)
            self._server.server_close()
        self._server, self._thread = None, None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def serve(simulator: Simulator) -> None:
    """Serve ``simulator`` in the foreground until Ctrl-C; its base URL is the first line on stdout."""
    simulator.bind()
    print(simulator.base_url, flush=True)
    print("ftplug simulator: offline, simulated models (not a real model's answers); Ctrl-C stops it",
          file=sys.stderr, flush=True)
    def stop_on_signal(number: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)  # `kill` stops it as cleanly as Ctrl-C
    try:
        simulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
        print("ftplug simulator: stopped", file=sys.stderr, flush=True)
