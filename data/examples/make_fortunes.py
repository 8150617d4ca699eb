"""Build fortunes.csv from Debian's `fortunes` package.

Usage: python make_fortunes.py PATH/TO/fortunes_1%3a1.99.1-7.3_all.deb > fortunes.csv

For each of the five topic files, the first 60 quotations (in file order) whose text, with whitespace
collapsed to single spaces, is 40 to 300 characters long and holds no tab. The id is the topic and the
quotation's index in its file, so every row can be traced back to the source.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

TOPICS = ("science", "politics", "computers", "law", "food")
PER_TOPIC = 60
MIN_CHARS, MAX_CHARS = 40, 300


def quotations(path: Path) -> list[str]:
    """The quotations of a fortune file: blocks separated by lines holding only ``%``."""
    text = path.read_text(encoding="latin-1")
    blocks, current = [], []
    for line in text.splitlines():
        if line.strip() == "%":
            blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    blocks.append("\n".join(current))
    return blocks


def rows(fortunes_dir: Path) -> list[tuple[str, str, str]]:
    """``(id, text, topic)`` rows, 60 per topic."""
    selected = []
    for topic in TOPICS:
        taken = 0
        for index, block in enumerate(quotations(fortunes_dir / topic)):
            if "\t" in block:
                continue
            text = " ".join(block.split())
            if MIN_CHARS <= len(text) <= MAX_CHARS:
                selected.append((f"{topic}-{index:04d}", text, topic))
                taken += 1
                if taken == PER_TOPIC:
                    break
    return selected


def main() -> None:
    """Extract the package and write the CSV to standard output."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["dpkg", "-x", sys.argv[1], folder], check=True)
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["id", "text", "topic"])
        writer.writerows(rows(Path(folder) / "usr/share/games/fortunes"))


if __name__ == "__main__":
    main()
