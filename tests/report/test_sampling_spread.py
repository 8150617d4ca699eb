"""Repeated sampling and shot draws: every sample scored and stored, the spread over samples and over few-shot
selections, on the embedded simulator through the CLI."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import duckdb
import pytest

from ftplug.config.experiment import load_experiment
from ftplug.dataset.labels import normalize
from ftplug.errors import ConfigError
from ftplug.plugins.duckdb_store.store import DuckDBStore
from ftplug.report.sampling_spread import draw_spread, render_spread, sampling_spread
from tests.helpers import fortunes_experiment, fresh_plugins, run_cli

SYSTEM = "Answer with exactly one of: science, politics, computers, law, food."
VARIANTS = (f'[[variants]]\nname = "plain"\nprompt = {{ builder = "few-shot", shots = 3, system = "{SYSTEM}" }}\n'
            f'[[variants]]\nname = "fs"\ndraws = 3\n'
            f'prompt = {{ builder = "few-shot", shots = 3, system = "{SYSTEM}" }}\n')
SCORING = '[scoring]\nscorers = ["exact", "consistency"]\nsamples = 4\ntemperature = 1.0\n'


@pytest.fixture(scope="module")
def registry():
    return fresh_plugins().registry


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An experiment with 4 answers per prompt at temperature 1.0 and a variant drawn 3 times, run once."""
    folder = tmp_path_factory.mktemp("spread")
    experiment = folder / "exp.toml"
    experiment.write_text(fortunes_experiment("spread", seed=7, test=20, validation=5) + VARIANTS + SCORING,
                          encoding="utf-8")
    db = folder / "r.duckdb"
    result = run_cli("run", str(experiment), "--db", str(db), "--quiet")
    assert result.returncode == 0, result.stderr
    return experiment, db


def _spreads(db: Path) -> tuple[dict, list[dict], list[dict]]:
    store = DuckDBStore(str(db))
    try:
        rows = store.variant_rows("spread")
        meta = next(row["details"]["scorers"] for row in rows)
        summary = dict(store.db.execute("SELECT variant, value FROM summary WHERE scorer = 'exact'").fetchall())
        section = sampling_spread(store, rows, meta, "exact")
        draws = draw_spread(rows, {variant: {"exact": {"value": value}} for variant, value in summary.items()},
                            "exact")
    finally:
        store.close()
    assert section is not None
    return section, draws, rows


def test_every_sample_is_scored_and_the_spread_is_over_the_four_answers(sampled: tuple[Path, Path]) -> None:
    _, db = sampled
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute(
            "SELECT r.variant, s.value, s.sample_values, p.samples, e.expected FROM scores s "
            "JOIN predictions p USING (run_id, example_id) JOIN runs r USING (run_id) "
            "JOIN examples e ON e.experiment = r.experiment AND e.example_id = s.example_id "
            "WHERE s.scorer = 'exact'").fetchall()
        consistency = con.execute("SELECT count(*) FROM scores WHERE scorer = 'consistency' "
                                  "AND sample_values IS NOT NULL").fetchone()[0]
    assert len(stored) == 4 * 20 and consistency == 0  # a sample scorer already looks at every sample
    by_variant: dict[str, list[list[float]]] = {}
    for variant, value, sample_values, samples, expected in stored:
        answers = json.loads(samples)
        by_hand = [float(normalize(answer) == normalize(expected)) for answer in answers]
        assert len(answers) == 4 and sample_values == by_hand and sample_values[0] == value
        by_variant.setdefault(variant, []).append(by_hand)
    section, _, _ = _spreads(db)
    assert section["simulated"] and [v["variant"] for v in section["variants"]] == [
        "plain", "fs-draw=1", "fs-draw=2", "fs-draw=3"]
    for variant in section["variants"]:
        entry = variant["scorers"]["exact"]
        assert variant["k"] == entry["k"] == 4 and set(variant["scorers"]) == {"exact"}
        examples = by_variant[variant["variant"]]
        per_sample = [statistics.fmean(values[j] for values in examples) for j in range(4)]
        assert entry["per_sample"] == pytest.approx(per_sample)
        assert entry["sd"] == pytest.approx(statistics.stdev(per_sample))
        assert (entry["min"], entry["max"]) == (min(per_sample), max(per_sample))
        assert entry["disagreement"] == pytest.approx(sum(len(set(v)) > 1 for v in examples) / 20)
    assert any(v["scorers"]["exact"]["sd"] > 0 for v in section["variants"])  # temperature 1.0 does move it


def test_draws_select_different_shots_and_give_a_spread_over_three_draws(sampled: tuple[Path, Path],
                                                                         registry) -> None:
    experiment, db = sampled
    _, draws, rows = _spreads(db)
    details = {row["variant"]: row["details"]["draw"] for row in rows if "draw" in row["details"]}
    assert details == {f"fs-draw={j}": {"group": "fs", "number": j, "of": 3, "seed": 6 + j} for j in (1, 2, 3)}
    from ftplug.components import prompts_for
    from ftplug.config.run_options import run_options_for
    from ftplug.engine.planning import make_plan

    spec = load_experiment(experiment, registry)
    plan = make_plan(spec, run_options_for(spec))
    shots = {}
    for variant in plan.variants:
        _, messages = next(prompts_for(variant.prompt, plan.test[:1]))
        shots[variant.spec.name] = [m["content"] for m in messages[1:-1]]
    assert shots["plain"] == shots["fs-draw=1"]  # draw 1 is the variant as it is without draws
    assert len({tuple(shots[f"fs-draw={j}"]) for j in (1, 2, 3)}) == 3
    assert [d["variant"] for d in draws] == ["fs"] and draws[0]["draws"] == 3
    values = [entry["value"] for entry in draws[0]["values"]]
    assert len(values) == 3 and draws[0]["mean"] == pytest.approx(statistics.fmean(values))
    assert draws[0]["sd"] == pytest.approx(statistics.stdev(values))


def test_the_spread_renders_labelled_simulated(sampled: tuple[Path, Path]) -> None:
    section, draws, _ = _spreads(sampled[1])
    lines = render_spread(section, draws)
    assert lines[0].startswith("Repeated sampling: 4 answers per prompt at temperature 1.0")
    assert lines[0].endswith("[SIMULATED]")
    assert any(line.startswith("fs-draw=2") and " exact " in line for line in lines)
    heading = next(i for i, line in enumerate(lines) if line.startswith("Shot draws: exact"))
    assert lines[heading].endswith("[SIMULATED]") and lines[heading + 3].split()[:2] == ["fs", "3"]
    assert render_spread(None, []) == []


def test_no_spread_without_samples() -> None:
    rows = [{"run_id": "r", "variant": "v", "simulated": True, "details": {"samples": 1}}]
    assert sampling_spread(None, rows, {"exact": {"aggregate": "mean"}}, "exact") is None
    assert draw_spread(rows, {"v": {"exact": 0.5}}, "exact") == []


@pytest.mark.parametrize(("variant", "message"), [
    ('draws = 1\nprompt = { builder = "few-shot", shots = 2 }', "whole number of shot draws from 2 to 50, got 1"),
    ('draws = 51\nprompt = { builder = "few-shot", shots = 2 }', "from 2 to 50, got 51"),
    ('draws = "3"\nprompt = { builder = "few-shot", shots = 2 }', "got '3'"),
    ('draws = 3\nprompt = { builder = "few-shot", shots = 0 }', "this prompt has shots = 0"),
    ('draws = 3\nprompt = { builder = "few-shot", shots = 2, select = "similar" }', 'use select = "random" or'),
])
def test_bad_draws_are_one_line_naming_the_key(tmp_path: Path, registry, variant: str, message: str) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(fortunes_experiment("bad", seed=1, test=5) + f'[[variants]]\nname = "fs"\n{variant}\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_experiment(path, registry)
    text = str(caught.value)
    assert "[[variants]] 'fs' draws" in text and message in text and "\n" not in text


def test_an_older_result_file_gains_the_sample_values_column(tmp_path: Path) -> None:
    path = str(tmp_path / "nine.duckdb")
    DuckDBStore(path).close()
    with duckdb.connect(path) as con:
        con.execute("ALTER TABLE scores DROP COLUMN sample_values; UPDATE schema_version SET version = 9")
    DuckDBStore(path).close()
    with duckdb.connect(path, read_only=True) as con:
        assert ("sample_values", "DOUBLE[]") in [row[:2] for row in con.execute("DESCRIBE scores").fetchall()]
        assert con.execute("SELECT version FROM schema_version").fetchone() == (10,)
