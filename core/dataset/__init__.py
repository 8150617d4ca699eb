"""Examples, datasets and the seeded, disjoint train / validation / test split."""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ftplug.errors import ConfigError, DataError


@dataclass(frozen=True, slots=True)
class Example:
    """One input with its expected output.

    :param id: stable identifier; derived from the content when the source has none.
    :param input: the text (or chat messages) the model receives.
    :param expected: the output the model should produce.
    :param metadata: anything else the loader knows (source line, raw record, …).
    """

    id: str
    input: str | tuple[dict[str, Any], ...]
    expected: str
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def input_text(self) -> str:
        """The input as one string: the text itself, or the last user message of a conversation."""
        if isinstance(self.input, str):
            return self.input
        users = [m.get("content", "") for m in self.input if m.get("role") == "user"]
        return str(users[-1]) if users else ""


def shared_label(expected: str) -> str:
    """``expected``, as one shared string object when it is short: classification labels repeat across
    thousands of examples, and a million-example split would otherwise hold a million copies."""
    return sys.intern(expected) if len(expected) <= 64 else expected


def content_id(input_value: object, expected: str) -> str:
    """A short id derived from an example's content, stable across runs and machines."""
    payload = json.dumps([input_value, expected], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Splits:
    """The three disjoint parts of a dataset. ``train`` is also the few-shot pool."""

    train: tuple[Example, ...]
    validation: tuple[Example, ...]
    test: Sequence[Example]  # a tuple, or for very large datasets a sequence read from disk (``ftplug.dataset.spool``)
    method: str = "random"  # or "chronological"
    dropped: int = 0  # windows left out of a chronological split because they straddle a boundary

    def as_dict(self) -> dict[str, Sequence[Example]]:
        """The splits by name."""
        return {"train": self.train, "validation": self.validation, "test": self.test}


def split_size_problem(value: Any) -> str | None:
    """What is wrong with a ``[split]`` size, or ``None``: a float is a fraction of the dataset (0 to 1, where
    1.0 is all of it), an integer a count of examples (TOML keeps the two apart: ``1`` is one, ``1.0`` all)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a fraction such as 0.2 or a count such as 60, got {value!r}"
    if isinstance(value, float) and not 0 <= value <= 1:
        hint = f" (for a count of examples write the integer {int(value)})" if value > 1 and value.is_integer() \
            else ""
        return f"a fraction (a float) must be from 0 to 1, got {value!r}{hint}"
    if value < 0:
        return f"a count of examples (an integer) cannot be negative, got {value!r}"
    return None


def _split_size(value: float | int, total: int, name: str, config_path: str) -> int:
    problem = split_size_problem(value)
    if problem is not None:
        raise ConfigError(problem, path=config_path, where=f"[split] {name}")
    return round(total * value) if isinstance(value, float) else value


def _described(value: float | int, count: int) -> str:
    """A split size as written and what it came to: ``60``, or ``0.2 of the dataset = 60``."""
    return f"{value} of the dataset = {count}" if isinstance(value, float) else str(count)


SPOOL_ABOVE = 100_000  # datasets larger than this many examples go to a file on disk, not memory


def split_key(seed: int, example_id: str) -> int:
    """An example's place in the split order: the first 8 bytes of sha256(seed:id), as an integer."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{example_id}".encode()).digest()[:8], "big")


def check_example_length(example: Example, source_file: str) -> None:
    """Refuse an example whose input and expected output together are longer than ftplug reads
    (:data:`ftplug.catalogue.tokens.MAX_TEXT_CHARS` characters), naming its file and line.

    :raises DataError: for such an example.
    """
    from ftplug.catalogue.text_limits import MAX_TEXT_CHARS

    if isinstance(example.input, str):
        size = len(example.input)
    else:
        size = sum(len(m["content"]) for m in example.input if isinstance(m.get("content"), str))
    size += len(example.expected)
    if size > MAX_TEXT_CHARS:
        raise DataError(f"example {example.id!r} is {size:,} characters long, over the {MAX_TEXT_CHARS:,} ftplug "
                        "reads per example (twice what the largest context window holds): shorten or drop it",
                        path=source_file, where=example.metadata.get("line"))


def split_dataset(examples: Iterable[Example], *, seed: int, test: float | int, validation: float | int,
                  config_path: str = "<experiment>", source: str | None = None) -> Splits:
    """Split examples into disjoint train, validation and test parts, fixed by ``seed``.

    Each example's place in the order is a hash of (seed, example id), so the split does not depend on
    the order of the file and adding examples moves no existing one between test and train. The examples
    are read once; past ``SPOOL_ABOVE`` they are kept in a file on disk, and the test split is then read
    from there each time it is iterated (memory stays flat however large it is).

    :param test: a fraction (a float, 0 to 1) or a count (an integer) of examples for the test split.
    :param validation: the same for the validation split; the rest is the training split.
    :param source: the dataset's file, named in errors (no examples, duplicate ids).
    :raises DataError: for an empty dataset or two examples with the same id.
    """
    import numpy as np

    from ftplug.dataset.spool import ExampleSpool, SpooledExamples

    held: list[Example] = []
    spool: ExampleSpool | None = None
    keys: list[int] = []
    for example in examples:
        check_example_length(example, source or config_path)
        keys.append(split_key(seed, example.id))
        if spool is not None:
            spool.append(example)
            continue
        held.append(example)
        if len(held) > SPOOL_ABOVE:
            spool = ExampleSpool()
            for kept in held:
                spool.append(kept)
            held = []
    total = len(keys)
    source_file = source or config_path
    if not total:
        raise DataError("the dataset has no examples", path=source_file)
    key_array = np.array(keys, dtype=np.uint64)
    del keys
    order = np.argsort(key_array, kind="stable")
    offsets = spool.offsets() if spool is not None else None

    def fetch(indices: Any) -> list[Example]:
        if spool is None or offsets is None:  # (offsets are None when nothing was spooled)
            return [held[i] for i in indices]
        return list(spool.read(offsets[indices]))

    sorted_keys = key_array[order]
    same = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
    for position in same:  # equal keys: the same id twice (a 64-bit collision of different ids is checked)
        first, second = sorted(int(i) for i in order[position:position + 2])
        a, b = fetch([first, second])
        if a.id == b.id:
            raise DataError(f"duplicate example id {b.id!r}", path=source_file, where=b.metadata.get("line"))
    n_test = _split_size(test, total, "test", config_path)
    n_validation = _split_size(validation, total, "validation", config_path)
    if n_test < 1:
        raise ConfigError(f"the test split would be empty ({total} examples)", path=config_path,
                          where="[split] test")
    if n_test + n_validation >= total:
        raise ConfigError(
            f"test ({_described(test, n_test)}) + validation ({_described(validation, n_validation)}) leave no "
            f"training examples out of {total}",
            path=config_path, where="[split]")
    test_order = order[:n_test]
    return Splits(
        test=(SpooledExamples(spool, offsets[test_order]) if spool is not None and offsets is not None
              else tuple(fetch(test_order))),
        validation=tuple(fetch(order[n_test:n_test + n_validation])),
        train=tuple(fetch(order[n_test + n_validation:])),
    )


def time_of(value: Any) -> float | datetime.datetime:
    """A window's time (its ``first``, ``origin`` or ``end``) as something that compares in time order.

    A number (a row position, a year, a decimal year) stays a number; a date is an ISO 8601 text (``1980-05-30``,
    ``1980-05-30T12:00:00``, with or without a UTC offset) or a ``date``/``datetime`` object, and becomes a
    naive datetime in UTC. Text in any other form is refused rather than compared as text.

    :raises ValueError: for a value that is neither.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time (an ISO date or a number)")
    if isinstance(value, int | float):
        if value != value:
            raise ValueError("NaN is not a time")
        return float(value)
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a time (an ISO date such as 1980-05-30, or a number)") from None
    else:
        raise ValueError(f"{value!r} is not a time (an ISO date or a number)")
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment


_SPAN = ("first", "origin", "end")


def _in_order(times: Sequence[float | datetime.datetime]) -> bool:
    """Whether ``times``, all numbers or all dates (as :func:`time_of` makes them), never go back."""
    dates = [t for t in times if isinstance(t, datetime.datetime)]
    numbers = [t for t in times if not isinstance(t, datetime.datetime)]
    return all(a <= b for a, b in itertools.pairwise(dates)) and all(a <= b for a, b in itertools.pairwise(numbers))


def split_chronologically(examples: Iterable[Example], *, test: float | int, validation: float | int,
                          config_path: str = "<experiment>", source: str | None = None) -> Splits:
    """Split time-series windows so that every test window lies after every validation and training window,
    and every validation window after every training window.

    Each example's metadata give its time span: ``first`` (its first shown observation), ``origin`` (its
    last shown one) and ``end`` (the observation its answer is). Times are compared as times (see
    :func:`time_of`: ISO dates or numbers such as positions, never other text); several series share one
    time axis. The test split is the ``test`` windows with the latest origins; a window is kept for
    validation or training only if its answer comes before the first observation any later split shows, so
    overlapping windows cannot leak test data into shots or training. The windows dropped for that are
    counted in :attr:`Splits.dropped`. The order is checked on the result before it is returned. Every
    example of the result has ``train_end`` in its metadata: the ``end`` of the latest training window (what
    the MASE's in-sample scale is computed up to).

    :raises DataError: for an empty dataset, duplicate ids, examples without a time span, a time that is
        not an ISO date or a number, a span out of order, or numbers and dates mixed.
    """
    source_file = source or config_path
    items = list(examples)
    for example in items:
        check_example_length(example, source_file)
    if not items:
        raise DataError("the dataset has no examples", path=source_file)
    times: dict[str, tuple[Any, Any, Any]] = {}
    kinds: set[type] = set()
    for example in items:
        if not all(key in example.metadata for key in _SPAN):
            raise DataError(f"example {example.id!r} has no time span (first, origin, end): a chronological split "
                            "needs time-series windows, e.g. from the timeseries loader", path=source_file,
                            where=example.metadata.get("line"))
        if example.id in times:
            raise DataError(f"duplicate example id {example.id!r}", path=source_file)
        span = []
        for key in _SPAN:
            try:
                span.append(time_of(example.metadata[key]))
            except ValueError as error:
                raise DataError(f"example {example.id!r}: {key}: {error}", path=source_file,
                                where=example.metadata.get("line")) from None
        kinds.update(type(t) for t in span)
        if len(kinds) > 1:
            raise DataError(f"example {example.id!r}: its times {', '.join(repr(example.metadata[k]) for k in _SPAN)} "
                            "mix numbers and dates with the other examples'", path=source_file)
        if not _in_order(span):
            raise DataError(f"example {example.id!r}: its time span is out of order (first "
                            f"{example.metadata['first']!r}, origin {example.metadata['origin']!r}, end "
                            f"{example.metadata['end']!r})", path=source_file, where=example.metadata.get("line"))
        times[example.id] = (span[0], span[1], span[2])
    items.sort(key=lambda e: (times[e.id][1], e.id))
    total = len(items)
    n_test = _split_size(test, total, "test", config_path)
    n_validation = _split_size(validation, total, "validation", config_path)
    if n_test < 1:
        raise ConfigError(f"the test split would be empty ({total} windows)", path=config_path, where="[split] test")
    test_part = items[total - n_test:]
    earlier = _before(items[:total - n_test], test_part, times)
    validation_part = earlier[len(earlier) - n_validation:] if n_validation else []
    train_part = _before(earlier[:len(earlier) - len(validation_part)], validation_part, times) \
        if validation_part else earlier
    if not train_part:
        raise ConfigError(f"test ({_described(test, n_test)}) + validation ({_described(validation, n_validation)}) "
                          f"leave no training windows out of {total} once windows overlapping a later split are "
                          "dropped", path=config_path, where="[split]")
    for before, after, names in ((train_part, test_part, "training and test"),
                                 (validation_part, test_part, "validation and test"),
                                 (train_part, validation_part, "training and validation")):
        _check_order(before, after, times, names, source_file)
    last = max(train_part, key=lambda e: times[e.id][2]).metadata["end"]

    def stamped(part: Sequence[Example]) -> tuple[Example, ...]:
        return tuple(Example(id=e.id, input=e.input, expected=e.expected, metadata={**e.metadata, "train_end": last})
                     for e in part)

    return Splits(train=stamped(train_part), validation=stamped(validation_part), test=stamped(test_part),
                  method="chronological", dropped=total - len(test_part) - len(validation_part) - len(train_part))


def _before(candidates: Sequence[Example], later: Sequence[Example],
            times: dict[str, tuple[Any, Any, Any]]) -> list[Example]:
    """The candidates whose answer comes before the first observation any of ``later`` shows."""
    if not later:
        return list(candidates)
    boundary = min(times[e.id][0] for e in later)
    return [e for e in candidates if times[e.id][2] < boundary]


def _check_order(earlier: Sequence[Example], later: Sequence[Example], times: dict[str, tuple[Any, Any, Any]],
                 names: str, source_file: str) -> None:
    """Refuse a split in which a window of ``later`` shows an observation at or before the answer of one of
    ``earlier`` (what the run log claims never happens)."""
    if not earlier or not later:
        return
    latest = max(earlier, key=lambda e: times[e.id][2])
    earliest = min(later, key=lambda e: times[e.id][0])
    if not times[latest.id][2] < times[earliest.id][0]:
        raise DataError(f"the chronological split is out of time order: {names} windows overlap ({latest.id!r} "
                        f"answers at {latest.metadata['end']!r}, {earliest.id!r} shows {earliest.metadata['first']!r})",
                        path=source_file)
