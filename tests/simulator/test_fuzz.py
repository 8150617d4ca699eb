"""Property-based fuzzing: the parsers and the experiment validator fail only with ftplug's clear errors, and the
simulator answers any body or header with the API's error shapes — never a 500, never a hang."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftplug.catalogue.training_file import validate_training_file
from ftplug.components import LoadContext
from ftplug.config.experiment import experiment_from_dict
from ftplug.errors import InputError
from ftplug.plugins.few_shot.reduction import apply_reduction, parse_reduction
from ftplug.plugins.loaders.files import CsvLoader, JsonlLoader
from ftplug.plugins.loaders.timeseries import TimeSeriesLoader
from tests.helpers import EXAMPLE, fresh_plugins

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                           max_leaves=20)
toml_values = st.recursive(st.one_of(st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False),
                                     st.text(max_size=30)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=12)

VALID = {
    "experiment": {"name": "fuzz", "seed": 1},
    "data": {"loader": "csv", "path": str(EXAMPLE.with_name("fortunes.csv")), "input": "text", "expected": "topic",
             "id": "id"},
    "split": {"test": 10, "validation": 5},
    "model": {"base": "gpt-4o-mini-2024-07-18"},
    "variants": [{"name": "zero", "prompt": {"builder": "few-shot", "shots": 0, "system": "Topic?"}},
                 {"name": "ft", "trainer": {"name": "openai", "n_epochs": 2}}],
    "scoring": {"scorers": ["exact", {"name": "format", "regex": "[a-z]+"}]},
    "report": {"volume": 1000},
    "run": {"concurrency": 4},
}
REGISTRY = fresh_plugins().registry


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


@FUZZ
@given(data=st.data())
def test_any_mutation_of_an_experiment_is_accepted_or_refused_with_a_config_error(data: st.DataObject) -> None:
    document = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(_paths(document)))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(toml_values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(min_size=1, max_size=10))] = data.draw(toml_values)
        if not isinstance(document, dict):
            break
    try:
        experiment_from_dict(document, REGISTRY, Path(tempfile.gettempdir()) / "fuzz.toml")
    except InputError as error:
        assert "\n" not in str(error) and "fuzz.toml" in str(error)


def _load(loader: Any, folder: Path) -> None:
    for _ in loader.load(LoadContext(base_dir=folder, config_path="fuzz.toml")):
        pass


@FUZZ
@given(content=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_the_csv_and_jsonl_loaders_fail_only_with_a_data_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "d.csv").write_bytes(b"id,text,topic\n" + content)
        (Path(folder) / "d.jsonl").write_bytes(content)
        for loader in (CsvLoader("d.csv", input="text", expected="topic", id="id"), JsonlLoader("d.jsonl")):
            try:
                _load(loader, Path(folder))
            except InputError as error:
                assert "\n" not in str(error)


numbers_or_junk = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr), st.text(
    alphabet=st.characters(blacklist_characters="\r\n,\"", blacklist_categories=("Cs",)), max_size=8))


@FUZZ
@given(rows=st.lists(st.tuples(numbers_or_junk, numbers_or_junk), max_size=30), window=st.integers(2, 6),
       target=st.sampled_from(["value", "pct_change", "direction"]), relative=st.booleans())
def test_the_timeseries_loader_fails_only_with_an_input_error(rows: list[tuple[str, str]], window: int, target: str,
                                                              relative: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        text = "a,b\n" + "".join(f"{a},{b}\n" for a, b in rows)
        (Path(folder) / "s.csv").write_text(text, encoding="utf-8")
        try:
            _load(TimeSeriesLoader("s.csv", window=window, target=target, relative=relative), Path(folder))
        except InputError as error:
            assert "\n" not in str(error)


@FUZZ
@given(spec=st.text(max_size=30), text=st.text(max_size=300))
def test_reductions_parse_or_refuse_and_always_return_text(spec: str, text: str) -> None:
    try:
        steps = parse_reduction(spec)
    except InputError:
        steps = parse_reduction("last:3,every:2,round:1,aggregate:2")
    assert isinstance(apply_reduction(text, steps, lambda t, n: t[-n:]), str)


@FUZZ
@given(content=st.one_of(st.binary(max_size=600), st.lists(json_values, max_size=12).map(
    lambda values: "\n".join(__import__("json").dumps(v) for v in values).encode())))
def test_the_training_file_check_reports_every_file_without_failing(content: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as handle:
        handle.write(content)
        handle.flush()
        report = validate_training_file(handle.name, "gpt-4o-mini-2024-07-18")
        assert report.examples >= 0 and (report.rejected or report.examples >= 10)
        assert report.to_json()["rejected"] == report.rejected


# ---- the simulator ---------------------------------------------------------------------------------------------

roles = st.sampled_from(["system", "user", "assistant", "developer", "tool", "wizard", "", 7])
contents = st.one_of(st.text(max_size=60), st.none(), st.integers(), st.lists(st.dictionaries(
    st.sampled_from(["type", "text", "image_url"]), st.one_of(st.text(max_size=10), st.integers()), max_size=3),
    max_size=3))
chat_bodies = st.fixed_dictionaries({}, optional={
    "model": st.one_of(st.sampled_from(["gpt-4o-mini", "gpt-4", "ft:gpt-4o-mini:x:y:z", ""]), scalars),
    "messages": st.one_of(st.lists(st.fixed_dictionaries({}, optional={"role": roles, "content": contents,
                                                                      "name": scalars}), max_size=4), scalars),
    "temperature": scalars, "n": st.one_of(st.integers(-5, 200), scalars), "seed": scalars,
    "max_tokens": st.one_of(st.integers(-5, 10**7), scalars), "max_completion_tokens": scalars,
    "stop": st.one_of(st.lists(st.text(max_size=5), max_size=6), scalars), "stream": scalars,
    "logprobs": scalars, "top_logprobs": st.one_of(st.integers(-3, 30), scalars),
    "response_format": st.one_of(json_values, st.fixed_dictionaries({"type": st.sampled_from(
        ["json_object", "json_schema", "text", "xml"])}, optional={"json_schema": json_values})),
})
job_bodies = st.fixed_dictionaries({}, optional={
    "model": scalars, "training_file": st.one_of(st.sampled_from(["file-abc", "../../etc/passwd"]), scalars),
    "validation_file": scalars, "suffix": scalars, "seed": scalars,
    "hyperparameters": st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "n_epochs": scalars, "batch_size": scalars, "learning_rate_multiplier": scalars})),
    "method": json_values})
batch_bodies = st.fixed_dictionaries({}, optional={
    "input_file_id": scalars, "endpoint": st.one_of(st.sampled_from(["/v1/chat/completions", "/v1/x"]), scalars),
    "completion_window": st.one_of(st.just("24h"), scalars), "metadata": json_values})
header_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~",
                       min_size=1, max_size=20).filter(lambda name: name.lower() not in (
                           "content-length", "host", "transfer-encoding", "authorization", "connection",
                           "content-type", "expect", "upgrade"))
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(str.strip)


def _expect_api_shape(client: openai.OpenAI, method: str, path: str, body: Any, headers: dict[str, str]) -> None:
    """Send through the SDK's own request methods; any answer must be a success or the API's error shape."""
    send = {"GET": client.get, "POST": client.post, "DELETE": client.delete}[method]
    arguments: dict[str, Any] = {"cast_to": object, "options": {"headers": headers}}
    if method == "POST":
        arguments["body"] = body
    try:
        send(f"/{path}", **arguments)
        return
    except openai.APITimeoutError:  # pragma: no cover - the failure this test exists to catch
        pytest.fail(f"{method} {path} hung on {body!r}")
    except openai.APIStatusError as error:
        status, payload = error.status_code, error.response.json()
    assert status < 500, (method, path, body, payload)
    assert set(payload) == {"error"} and isinstance(payload["error"]["message"], str), payload
    assert payload["error"]["type"] in ("invalid_request_error", "not_found_error", "authentication_error",
                                        "rate_limit_error", "permission_error", "insufficient_quota"), payload


@pytest.fixture(scope="module")
def fuzz_client():
    from ftplug.simulator import ManualClock, Simulator

    with Simulator(seed=0, clock=ManualClock()) as simulator:
        client = openai.OpenAI(base_url=simulator.base_url, api_key="sk-fuzz", max_retries=0, timeout=10)
        yield client
        client.close()


@FUZZ
@given(body=st.one_of(chat_bodies, json_values), headers=st.dictionaries(header_names, header_values, max_size=3))
def test_the_simulator_answers_any_chat_request_in_the_api_shape(fuzz_client: openai.OpenAI, body: Any,
                                                                 headers: dict[str, str]) -> None:
    _expect_api_shape(fuzz_client, "POST", "chat/completions", body, headers)


@FUZZ
@given(route=st.sampled_from(["fine_tuning/jobs", "batches", "responses", "files", "embeddings", "models"]),
       body=st.one_of(job_bodies, batch_bodies, json_values))
def test_the_simulator_answers_any_body_on_any_route_in_the_api_shape(fuzz_client: openai.OpenAI, route: str,
                                                                      body: Any) -> None:
    _expect_api_shape(fuzz_client, "POST", route, body, {})


@FUZZ
@given(method=st.sampled_from(["GET", "DELETE", "POST"]),
       route=st.sampled_from(["files/{}", "files/{}/content", "models/{}", "fine_tuning/jobs/{}",
                              "fine_tuning/jobs/{}/events", "fine_tuning/jobs/{}/cancel", "batches/{}",
                              "batches/{}/cancel", "fine_tuning/jobs/{}/checkpoints"]),
       identifier=st.one_of(st.text(max_size=300), st.sampled_from(["..", "../../state", "%2e%2e%2fstate",
                                                                    "file-" + "a" * 5000])),
       query=st.sampled_from(["", "?limit=-1", "?limit=99999999999", "?after=x&limit=abc", "?limit=3"]))
def test_the_simulator_answers_any_id_in_the_api_shape(fuzz_client: openai.OpenAI, method: str, route: str,
                                                       identifier: str, query: str) -> None:
    from urllib.parse import quote

    _expect_api_shape(fuzz_client, method, route.format(quote(identifier, safe="")) + query, None, {})
