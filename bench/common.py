"""What the runner benchmarks share: the fortunes corpus, a zero-shot experiment over it, a timed process."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODEL = "gpt-4o-mini-2024-07-18"
SYSTEM = "Classify the quotation by topic. Answer with exactly one word."


def fortunes(count: int) -> list[dict[str, Any]]:
    """The first ``count`` quotations of the fortunes corpus (id, input, expected): real text."""
    with gzip.open(HERE / "data" / "fortunes_all.jsonl.gz", "rt", encoding="utf-8") as corpus:
        return [json.loads(line) for line, _ in zip(corpus, range(count), strict=False)]


def zero_shot_experiment(path: Path, data: Path, test: int) -> Path:
    """An experiment file at ``path``: one zero-shot variant, a test split of ``test`` examples of ``data``
    (a JSONL of id/input/expected lines), the rest the training split."""
    path.write_text(f'''[experiment]
name = "{path.stem}"
seed = 7
[data]
loader = "jsonl"
path = "{data}"
[split]
test = {test}
validation = 0
[model]
base = "{MODEL}"
[[variants]]
name = "zero-shot"
prompt = {{ builder = "few-shot", shots = 0, system = {json.dumps(SYSTEM)} }}
[scoring]
scorers = ["exact"]
''', encoding="utf-8")
    return path


def test_split(experiment: Path) -> Any:
    """The test examples ftplug takes from ``experiment``, so that a reference tool sends the same ones."""
    from ftplug.config.experiment import load_experiment
    from ftplug.engine.planning import load_splits
    from ftplug.pluginhost.manager import get_plugins

    return load_splits(load_experiment(experiment, get_plugins().registry)).test


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None,
          ok: tuple[int, ...] = (0,)) -> tuple[float, int, bytes]:
    """Run ``command``: its wall seconds, its own peak RSS (KiB, from wait4) and its standard output; exit
    with its error output if its exit code is not in ``ok``."""
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        output.seek(0)
        printed = output.read()
        if os.waitstatus_to_exitcode(status) not in ok:
            errors.seek(0)
            raise SystemExit(f"{command[0]} failed ({os.waitstatus_to_exitcode(status)}): "
                             f"{errors.read()[-2000:].decode(errors='replace')}")
    return elapsed, usage.ru_maxrss, printed


def start_stub(latency_ms: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    """``bench/stub_server.py`` in a process of its own, and its base URL."""
    import sys

    stub = subprocess.Popen([sys.executable, str(HERE / "stub_server.py"), "0", str(latency_ms)],
                            stdout=subprocess.PIPE, text=True)
    assert stub.stdout is not None
    return stub, stub.stdout.readline().strip()


def api_environment(base_url: str) -> dict[str, str]:
    """This process's environment pointed at ``base_url`` with a placeholder key (no real key leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=base_url)
    return env
