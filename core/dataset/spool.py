"""Examples kept on disk instead of in memory, read back in any order: how a test split of millions of
examples stays out of memory while the runner streams through it."""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

if TYPE_CHECKING:
    from ftplug.dataset import Example


class ExampleSpool:
    """An append-only file of pickled examples, each at a recorded offset; removed when garbage-collected."""

    def __init__(self) -> None:
        handle, self.path = tempfile.mkstemp(prefix="ftplug-examples-", suffix=".pickle")
        self._file = os.fdopen(handle, "w+b", buffering=1 << 20)
        self._offsets: list[Any] = []  # NumPy int64 arrays, a chunk at a time
        self._pending: list[int] = []
        self._closer = weakref.finalize(self, _remove, self._file, self.path)

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self._offsets) + len(self._pending)

    def append(self, example: Example) -> None:
        """Write ``example`` at the end."""
        self._pending.append(self._file.tell())
        pickle.dump(example, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        if len(self._pending) >= 65_536:
            self._offsets.append(np.array(self._pending, dtype=np.int64))
            self._pending = []

    def offsets(self) -> Any:
        """Where each example starts, in the order they were appended."""
        self._file.flush()
        if self._pending:
            self._offsets.append(np.array(self._pending, dtype=np.int64))
            self._pending = []
        return np.concatenate(self._offsets) if self._offsets else np.zeros(0, np.int64)

    def read(self, offsets: Sequence[int] | Any) -> Iterator[Example]:
        """The examples at ``offsets``, in that order (each reading has a file handle of its own)."""
        self._file.flush()
        with open(self.path, "rb", buffering=1 << 16) as file:
            for offset in offsets:
                file.seek(int(offset))
                yield pickle.load(file)


class SpooledExamples(Sequence["Example"]):
    """A read-only sequence of examples held in an :class:`ExampleSpool`: ``len``, iteration, indexing and
    slicing, without holding the examples in memory."""

    def __init__(self, spool: ExampleSpool, offsets: Any) -> None:
        self.spool, self.offsets = spool, offsets

    def __len__(self) -> int:
        return len(self.offsets)

    def __iter__(self) -> Iterator[Example]:
        return self.spool.read(self.offsets)

    @overload
    def __getitem__(self, index: int) -> Example: ...

    @overload
    def __getitem__(self, index: slice) -> SpooledExamples: ...

    def __getitem__(self, index: int | slice) -> Example | SpooledExamples:
        if isinstance(index, slice):
            return SpooledExamples(self.spool, self.offsets[index])
        return next(self.spool.read([self.offsets[index]]))

    def matching(self, keep: Callable[[Example], bool]) -> SpooledExamples:
        """The examples for which ``keep`` is true, as another spooled sequence (one pass over these)."""
        chosen = [offset for offset, example in zip(self.offsets, self, strict=True) if keep(example)]
        return SpooledExamples(self.spool, np.array(chosen, dtype=np.int64))

    def __repr__(self) -> str:
        return f"<{len(self)} examples spooled to {self.spool.path}>"


def _remove(file: Any, path: str) -> None:
    file.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
