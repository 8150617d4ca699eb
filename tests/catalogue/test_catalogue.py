"""The model catalogue and user overrides."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ftplug.catalogue.models import UnknownModelError, base_model, default_catalogue
from ftplug.errors import InputError


def test_aliases_snapshots_and_fine_tuned_ids_resolve() -> None:
    catalogue = default_catalogue()
    assert catalogue.resolve("gpt-4o-mini") == "gpt-4o-mini-2024-07-18"
    assert catalogue.get("gpt-4").context_window == 8192
    tuned = catalogue.get("ft:gpt-4o-mini-2024-07-18:org:sfx:abc12345")
    assert tuned.id == "gpt-4o-mini-2024-07-18" and tuned.ft_output_price == 1.20
    assert catalogue.get("ft:gpt-4o-mini-2024-07-18:org:sfx:abc12345:ckpt-step-20").id == "gpt-4o-mini-2024-07-18"
    assert catalogue.get("gpt-4.1").context_window == 1_047_576
    assert catalogue.get("gpt-4o").fine_tuning_shutdown == dt.date(2027, 1, 14)
    assert catalogue.as_of == dt.date(2026, 11, 24)
    required = {"gpt-4-0613", "gpt-3.5-turbo-0125", "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18",
                "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14"}
    assert required <= {info.id for info in catalogue.models()}


def test_base_model() -> None:
    assert base_model("ft:gpt-4o-mini-2024-07-18:org:sfx:abc123") == "gpt-4o-mini-2024-07-18"
    assert base_model("ft:gpt-3.5-turbo-0125:org::abc123") == "gpt-3.5-turbo-0125"
    assert base_model("gpt-4o") == "gpt-4o"


def test_unknown_model() -> None:
    with pytest.raises(UnknownModelError, match="'gpt-9' is not in the catalogue"):
        default_catalogue().get("gpt-9")
    assert default_catalogue().find("gpt-9") is None


def test_user_file_adds_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[models."llama-3.1-8b"]\ncontext_window = 131072\nmax_output_tokens = 4096\n'
                    'encoding = "o200k_base"\ninput_price = 0.05\noutput_price = 0.08\n'
                    '[models."gpt-4o-mini-2024-07-18"]\ninput_price = 0.2\n')
    catalogue = default_catalogue().with_overrides(path)
    assert catalogue.get("llama-3.1-8b").input_price == 0.05
    assert catalogue.get("gpt-4o-mini").input_price == 0.2
    assert catalogue.get("gpt-4o-mini").output_price == 0.60  # untouched fields stay
    assert default_catalogue().get("gpt-4o-mini").input_price == 0.15  # the shipped one is unchanged


@pytest.mark.parametrize(("text", "message"), [
    ('[models."x"]\ncontext_window = "big"\n', '[models."x"] context_window: must be int'),
    ('[models."x"]\ncontext_window = 1\nmax_output_tokens = 1\n', '[models."x"] encoding: missing key'),
    ('[models."gpt-4o"]\ncolour = 1\n', '[models."gpt-4o"] colour: unknown key'),
    ("[models\n", "invalid TOML"),
])
def test_bad_user_file_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        default_catalogue().with_overrides(path)
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)


CUSTOM = ('[models."local-llama"]\ncontext_window = 4096\nmax_output_tokens = 512\nencoding = "cl100k_base"\n'
          'input_price = 0.0\noutput_price = 0.0\n')


def test_models_flag_and_environment_reach_every_command(tmp_path: Path) -> None:
    from tests.helpers import run_in_process

    catalogue = tmp_path / "mine.toml"
    catalogue.write_text(CUSTOM, encoding="utf-8")
    text = tmp_path / "t.txt"
    text.write_text("hello world", encoding="utf-8")
    by_flag = run_in_process("--models", str(catalogue), "tokens", str(text), "--model", "local-llama", "--json")
    assert by_flag.exit_code == 0, by_flag.stderr
    assert json.loads(by_flag.stdout)["context_window"] == 4096
    listed = run_in_process("models", "--json", env={"FTPLUG_MODELS": str(catalogue)})
    ids = [m["id"] for m in json.loads(listed.stdout)["models"]]
    assert "local-llama" in ids and "gpt-4-0613" in ids
    without = run_in_process("tokens", str(text), "--model", "local-llama")
    assert without.exit_code == 2 and "local-llama" in without.stderr


def test_an_experiment_can_name_its_own_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftplug.catalogue import models as catalogue
    from ftplug.config.experiment import load_experiment
    from ftplug.config.run_options import RunOptions
    from ftplug.engine.planning import make_plan
    from tests.helpers import EXAMPLE, fresh_plugins

    monkeypatch.setattr(catalogue, "_user_files", [])  # the file stays in use for this test only
    (tmp_path / "models.toml").write_text(CUSTOM, encoding="utf-8")
    text = EXAMPLE.read_text(encoding="utf-8").replace('base = "gpt-4o-mini-2024-07-18"',
                                                       'base = "local-llama"\ncatalogue = "models.toml"')
    (tmp_path / "fortunes.csv").write_bytes(EXAMPLE.with_name("fortunes.csv").read_bytes())
    (tmp_path / "exp.toml").write_text(text.replace("shots = 40", 'shots = "max"'), encoding="utf-8")
    plugins = fresh_plugins()
    experiment = load_experiment(tmp_path / "exp.toml", plugins.registry)
    plan = make_plan(experiment, RunOptions())
    builder = plan.variants[2].prompt
    builder.build(plan.test[0])
    assert builder.report()["context_window"] == 4096 and builder.report()["budget"] == 4096 - 256 - 32


def test_a_bad_catalogue_named_by_an_experiment_is_a_one_line_error(tmp_path: Path) -> None:
    from tests.helpers import EXAMPLE, run_in_process

    (tmp_path / "models.toml").write_text('[models."x"]\ncontext_window = "big"\n', encoding="utf-8")
    text = EXAMPLE.read_text(encoding="utf-8").replace('base = "gpt-4o-mini-2024-07-18"',
                                                       'base = "gpt-4o-mini"\ncatalogue = "models.toml"')
    (tmp_path / "exp.toml").write_text(text, encoding="utf-8")
    result = run_in_process("run", str(tmp_path / "exp.toml"), "--db", str(tmp_path / "r.duckdb"))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert 'models.toml: [models."x"] context_window: must be int' in result.stderr
