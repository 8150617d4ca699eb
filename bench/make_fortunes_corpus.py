"""Build ``bench/data/fortunes_all.jsonl.gz``: every quotation of Debian's ``fortunes`` package with its file
as the label, the corpus of the prompt-building benchmark.

    apt-get download fortunes
    python bench/make_fortunes_corpus.py 'fortunes_1%3a1.99.1-7.3_all.deb'
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "data" / "examples"))
from make_fortunes import quotations  # noqa: E402

OUTPUT = ROOT / "bench" / "data" / "fortunes_all.jsonl.gz"


def main(deb: str) -> None:
    """Extract the package and write one JSON line per non-empty quotation, in file order."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg", "-x", deb, tmp], check=True)
        folder = Path(tmp) / "usr" / "share" / "games" / "fortunes"
        files = sorted(p for p in folder.iterdir() if not p.suffix and not p.is_symlink())
        count = 0
        # mtime=0 keeps the file byte-identical from one build to the next
        with gzip.GzipFile(OUTPUT, "wb", compresslevel=9, mtime=0) as raw, io.TextIOWrapper(raw, "utf-8") as out:
            for path in files:
                for index, block in enumerate(quotations(path)):
                    text = " ".join(block.split())
                    if text:
                        out.write(json.dumps({"id": f"{path.name}-{index:04d}", "input": text,
                                              "expected": path.name}) + "\n")
                        count += 1
    print(f"{OUTPUT}: {count} quotations from {len(files)} files", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
