"""The seeded, disjoint split."""

from __future__ import annotations

import pytest

from ftplug.dataset import Example, content_id, split_dataset
from ftplug.errors import ConfigError, DataError


def _examples(n: int) -> list[Example]:
    return [Example(id=f"e{i}", input=f"text {i}", expected=str(i % 3)) for i in range(n)]


def test_split_is_disjoint_complete_and_sized() -> None:
    splits = split_dataset(_examples(100), seed=1, test=0.2, validation=10)
    ids = [{e.id for e in part} for part in (splits.train, splits.validation, splits.test)]
    assert (len(ids[0]), len(ids[1]), len(ids[2])) == (70, 10, 20)
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert ids[0] | ids[1] | ids[2] == {f"e{i}" for i in range(100)}


def test_split_depends_on_seed_not_on_file_order() -> None:
    examples = _examples(50)
    a = split_dataset(examples, seed=3, test=10, validation=5)
    b = split_dataset(list(reversed(examples)), seed=3, test=10, validation=5)
    c = split_dataset(examples, seed=4, test=10, validation=5)
    assert [e.id for e in a.test] == [e.id for e in b.test]
    assert {e.id for e in a.test} != {e.id for e in c.test}


def test_adding_examples_does_not_move_test_examples_into_training() -> None:
    small = split_dataset(_examples(50), seed=3, test=0.2, validation=0)
    large = split_dataset(_examples(60), seed=3, test=0.2, validation=0)
    assert not {e.id for e in small.test} & {e.id for e in large.train if e.id in {x.id for x in _examples(50)}} - {
        e.id for e in small.train}


def test_split_refuses_sizes_that_leave_nothing_to_train_on() -> None:
    with pytest.raises(ConfigError, match="leave no training examples"):
        split_dataset(_examples(10), seed=0, test=5, validation=5)
    with pytest.raises(ConfigError, match="test split would be empty"):
        split_dataset(_examples(3), seed=0, test=0.1, validation=0)


def test_a_float_size_is_a_fraction_and_an_integer_a_count() -> None:
    assert len(split_dataset(_examples(10), seed=0, test=1, validation=0).test) == 1
    assert len(split_dataset(_examples(10), seed=0, test=0.5, validation=0).test) == 5
    with pytest.raises(ConfigError, match=r"test \(1\.0 of the dataset = 10\) .* leave no training examples"):
        split_dataset(_examples(10), seed=0, test=1.0, validation=0)
    with pytest.raises(ConfigError, match="write the integer 3"):
        split_dataset(_examples(10), seed=0, test=3.0, validation=0)


def test_duplicate_ids_are_refused_with_the_line() -> None:
    examples = [Example("a", "x", "1", {"line": 2}), Example("b", "z", "1", {"line": 3}),
                Example("a", "y", "2", {"line": 5})]
    with pytest.raises(DataError) as raised:
        split_dataset(examples, seed=0, test=1, validation=0, source="data.csv")
    assert str(raised.value) == "data.csv:5: duplicate example id 'a'"
    with pytest.raises(DataError, match=r"data\.csv: the dataset has no examples"):
        split_dataset([], seed=0, test=1, validation=0, source="data.csv")


def test_a_large_dataset_is_spooled_to_disk_and_split_exactly_as_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from ftplug import dataset
    from ftplug.dataset.spool import SpooledExamples

    examples = [Example(f"e{i}", f"text {i}", str(i % 3), {"line": i + 1}) for i in range(3000)]
    in_memory = split_dataset(examples, seed=4, test=0.3, validation=100)
    monkeypatch.setattr(dataset, "SPOOL_ABOVE", 500)
    spooled = split_dataset(iter(examples), seed=4, test=0.3, validation=100)
    assert isinstance(spooled.test, SpooledExamples) and isinstance(in_memory.test, tuple)
    assert list(spooled.test) == list(in_memory.test) and len(spooled.test) == 900
    assert spooled.train == in_memory.train and spooled.validation == in_memory.validation
    assert spooled.test[7] == in_memory.test[7] and list(spooled.test[10:20]) == list(in_memory.test[10:20])
    assert [e.metadata for e in spooled.test[:3]] == [e.metadata for e in in_memory.test[:3]]
    duplicated = [*examples, Example("e7", "again", "1", {"line": 3001})]
    with pytest.raises(DataError, match=r"f\.csv:3001: duplicate example id 'e7'"):
        split_dataset(duplicated, seed=4, test=0.3, validation=100, source="f.csv")


def test_content_id_is_stable_and_distinguishes_content() -> None:
    assert content_id("a", "b") == content_id("a", "b")
    assert content_id("a", "b") != content_id("a", "c")
