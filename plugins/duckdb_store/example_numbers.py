"""Each stored example's number, looked up for a batch of predictions without a join in the database.

Every score carries its example's number (``scores.example_no``). Joining each committed batch with the
``examples`` table costs a scan of that table per batch; instead the store keeps, per experiment, the sorted
64-bit hashes of the example ids beside their numbers (12 bytes an example) and finds a batch's numbers
with one ``searchsorted``. Two ids of one experiment with the same hash (about one chance in 10^7 with
a million examples) make that experiment fall back to an exact lookup in the database. An id that was never
stored (possible only through the store API) would take a stored id's number only if their hashes matched:
about one chance in 10^13 with a million stored examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

MISSING = -1  # the number of an example that was never stored (NULL in the table)
_PAGE = 100_000


def id_hashes(ids: Sequence[str]) -> np.ndarray:
    """The 64-bit hashes of example ids (Python's string hash: stable within the process, which is all the
    index needs)."""
    return np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids))


class ExampleNumbers:
    """The numbers of one experiment's stored examples, by id, read from the store's connection ``db``."""

    def __init__(self, db: Any, experiment: str) -> None:
        self.db, self.experiment = db, experiment
        hashes, numbers = self._read()
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.numbers = hashes[order], numbers[order]
        self.exact = bool(len(self.hashes) < 2 or np.all(self.hashes[1:] != self.hashes[:-1]))

    def _read(self) -> tuple[np.ndarray, np.ndarray]:
        """The hashes of the experiment's example ids and their numbers, a page at a time (the ids are hashed
        and dropped)."""
        hashes, numbers = [np.empty(0, np.int64)], [np.empty(0, np.int32)]
        last = self.db.execute("SELECT max(number) FROM examples WHERE experiment = ?",
                               [self.experiment]).fetchall()[0][0]
        for first in range(0, (last if last is not None else -1) + 1, _PAGE):
            page = self.db.execute("SELECT example_id, number FROM examples WHERE experiment = ? AND number >= ? "
                                   "AND number < ?", [self.experiment, first, first + _PAGE]).fetchnumpy()
            hashes.append(id_hashes(page["example_id"]))
            numbers.append(np.asarray(page["number"], dtype=np.int32))
        return np.concatenate(hashes), np.concatenate(numbers)

    def find(self, ids: Sequence[str]) -> np.ndarray:
        """The number of each of ``ids`` (``MISSING`` for an id never stored), looked up exactly in the database
        when two of this experiment's ids share a hash."""
        if not self.exact:
            return self._find_in_database(ids)
        if not len(self.hashes):
            return np.full(len(ids), MISSING, dtype=np.int32)
        wanted = id_hashes(ids)
        at = np.minimum(np.searchsorted(self.hashes, wanted), len(self.hashes) - 1)
        return np.where(self.hashes[at] == wanted, self.numbers[at], MISSING).astype(np.int32)

    def _find_in_database(self, ids: Sequence[str]) -> np.ndarray:
        self.db.register("wanted_examples", {"example_id": np.asarray(ids, dtype=object),
                                             "position": np.arange(len(ids))})
        try:
            return self.db.execute(
                f"SELECT coalesce(e.number, {MISSING}) AS number FROM wanted_examples w LEFT JOIN examples e "
                "ON e.experiment = ? AND e.example_id = w.example_id ORDER BY w.position",
                [self.experiment]).fetchnumpy()["number"].astype(np.int32)
        finally:
            self.db.unregister("wanted_examples")
