"""The few-shot builder: packing to the budget, selection, reductions, templates, the too-long error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftplug.catalogue.tokens import count_message_tokens
from ftplug.dataset import Example
from ftplug.errors import ConfigError
from ftplug.plugins.few_shot.builder import FewShotBuilder, PromptTooLong
from ftplug.plugins.few_shot.reduction import apply_reduction, parse_reduction
from ftplug.plugins.few_shot.selection import balanced_order, make_selector

MODEL = "gpt-4o-mini"


def _pool(sizes: list[int]) -> list[Example]:
    return [Example(f"p{i}", " ".join(f"w{i}x{j}" for j in range(size)), f"label{i % 3}")
            for i, size in enumerate(sizes)]


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=40),
       window=st.integers(min_value=150, max_value=3000), shots=st.one_of(st.just("max"), st.integers(0, 40)),
       select=st.sampled_from(["first", "random", "balanced", "similar", "diverse"]),
       query_size=st.integers(min_value=0, max_value=60))
def test_packing_never_exceeds_the_budget(sizes: list[int], window: int, shots: int | str, select: str,
                                          query_size: int) -> None:
    pool = _pool(sizes)
    builder = FewShotBuilder(shots=shots if shots == "max" else min(int(shots), len(pool)), system="Label it.",
                             select=select, reserve_output=50, safety_margin=10, context_window=window)
    builder.prepare(pool, MODEL, seed=1)
    query = Example("q", " ".join(f"w3x{j}" for j in range(query_size)), "label0")
    try:
        messages = builder.build(query)
    except PromptTooLong:
        assert count_message_tokens([{"role": "system", "content": "Label it."},
                                     {"role": "user", "content": query.input}], MODEL) > window - 60
        return
    tokens = count_message_tokens(messages, MODEL)
    assert tokens <= window - 60
    packed = (len(messages) - 2) // 2
    assert packed <= (len(pool) if shots == "max" else int(shots))
    report = builder.report()
    if report["prompts_not_counted"]:  # zero-shot and surely fitting: bounded by its bytes, not counted
        assert shots == 0 and tokens <= report["prompt_bytes_max"] <= window - 60
        return
    assert tokens == report["prompt_tokens_max"]  # the builder's own count is the API's count
    assert report["tokens_left_min"] == window - 60 - tokens


def test_max_fills_the_window_and_reports_it() -> None:
    pool = _pool([30] * 200)
    builder = FewShotBuilder(shots="max", select="first", context_window=2000, reserve_output=100,
                             safety_margin=0)
    builder.prepare(pool, MODEL, seed=0)
    messages = builder.build(Example("q", "w1x1 w1x2", "label1"))
    report = builder.report()
    shot_cost = builder.costs[0]
    assert report["packed_max"] == (len(messages) - 1) // 2
    assert 0 <= report["tokens_left_min"] < shot_cost  # no further shot would have fitted
    assert report["offered"] == 200 and report["budget"] == 1900 and report["context_window"] == 2000
    assert report["largest_example"]["tokens"] == max(builder.costs)


def test_the_catalogue_window_is_used_gpt_4s_8192() -> None:
    builder = FewShotBuilder(shots="max", select="first")
    builder.prepare(_pool([5] * 3), "gpt-4", seed=0)
    assert (builder.window, builder.budget) == (8192, 8192 - 256 - 32)


def test_a_query_that_cannot_fit_names_the_example_and_its_tokens() -> None:
    builder = FewShotBuilder(shots=3, context_window=300, reserve_output=100, safety_margin=0)
    builder.prepare(_pool([5] * 5), MODEL, seed=0)
    long_query = Example("too-long-17", "word " * 400, "x")
    with pytest.raises(PromptTooLong) as raised:
        builder.build(long_query)
    needed = count_message_tokens([{"role": "user", "content": long_query.input}], MODEL)
    assert f"example 'too-long-17' needs {needed} prompt tokens with no shots, over the budget of 200" \
        in str(raised.value)


def test_similar_picks_the_obviously_nearest_examples() -> None:
    pool = [Example("law1", "the court heard the appeal of the judge", "law"),
            Example("food1", "bake bread with flour and butter", "food"),
            Example("sci1", "electrons orbit the nucleus of an atom", "science"),
            Example("law2", "a judge in court dismissed the appeal", "law"),
            Example("food2", "fresh bread and butter for breakfast", "food")]
    builder = FewShotBuilder(shots=2, select="similar")
    builder.prepare(pool, MODEL, seed=0)
    messages = builder.build(Example("q", "the appeal court judge ruled", "law"))
    assert [m["content"] for m in messages if m["role"] == "assistant"] == ["law", "law"]
    messages = builder.build(Example("q2", "butter on bread", "food"))
    assert [m["content"] for m in messages if m["role"] == "assistant"] == ["food", "food"]


def test_diverse_avoids_near_duplicates() -> None:
    pool = [Example("a", "appeal court judge ruling", "law"), Example("b", "appeal court judge ruling", "law"),
            Example("c", "appeal court judge verdict", "law2"), Example("d", "bread", "food")]
    query = "appeal court judge ruling"
    assert list(make_selector("similar", pool, seed=0).order(query))[:3] == [0, 1, 2]
    assert list(make_selector("diverse", pool, seed=0).order(query))[:3] == [0, 2, 1]  # the near-copy moves back


def test_balanced_interleaves_labels_and_random_is_seeded() -> None:
    pool = [Example(str(i), str(i), "a" if i < 6 else "b") for i in range(8)]
    labels = [pool[i].expected for i in balanced_order(pool, seed=3)]
    assert labels[:4] in (["a", "b", "a", "b"], ["b", "a", "b", "a"])
    first = list(make_selector("random", pool, seed=3).order(""))
    assert first == list(make_selector("random", pool, seed=3).order("")) != list(make_selector("random", pool, 4)
                                                                                  .order(""))


def test_templates_and_format_placeholders() -> None:
    builder = FewShotBuilder(shots=1, select="first", system="You are a mathematician. {format}",
                             template="Series: {input}\nAnswer:", format="Reply up or down.")
    builder.prepare([Example("s", "1 2 3", "up")], MODEL, seed=0)
    messages = builder.build(Example("q", "3 2 1", "down"))
    assert messages == [{"role": "system", "content": "You are a mathematician. Reply up or down."},
                        {"role": "user", "content": "Series: 1 2 3\nAnswer:"}, {"role": "assistant", "content": "up"},
                        {"role": "user", "content": "Series: 3 2 1\nAnswer:"}]
    with pytest.raises(ConfigError, match=r"unknown placeholder \{inpt\}"):
        FewShotBuilder(template="{input} {inpt}")


SERIES = "\n".join(f"2024-01-{day:02d},{1.5 + day / 7:.5f}" for day in range(1, 29))


@pytest.mark.parametrize(("spec", "expected_first", "rows"), [
    ("last:5", "2024-01-24,4.92857", 5),
    ("every:7", "2024-01-07,2.50000", 4),
    ("round:2", "2024-01-01,1.64", 28),
    ("aggregate:7", "2024-01-07,2.07143", 4),
    ("last:14,round:1", "2024-01-15,3.6", 14),
])
def test_reductions_are_deterministic(spec: str, expected_first: str, rows: int) -> None:
    steps = parse_reduction(spec)
    reduced = apply_reduction(SERIES, steps)
    assert reduced == apply_reduction(SERIES, steps)
    assert reduced.splitlines()[0] == expected_first and len(reduced.splitlines()) == rows
    assert reduced.splitlines()[-1].startswith("2024-01-28")  # the most recent row is always kept


def test_round_handles_round_numbers_in_the_date_too() -> None:
    assert apply_reduction("3.14159, 2.71828", parse_reduction("round:1")) == "3.1, 2.7"
    assert apply_reduction("1 2 3 4 5 6", parse_reduction("every:2")) == "2 4 6"


def test_truncate_keeps_the_last_tokens_and_bad_specs_are_refused() -> None:
    builder = FewShotBuilder(reduce="truncate:5")
    builder.prepare([], MODEL, seed=0)
    messages = builder.build(Example("q", "one two three four five six seven eight nine ten", "x"))
    assert messages[-1]["content"] == " six seven eight nine ten"
    for spec in ("last", "first:3", "every:0"):
        with pytest.raises(ConfigError):
            parse_reduction(spec)


def _greedy_reference(builder: FewShotBuilder, query: Example, used: int) -> list[int]:
    """The packing rule written the slow, obvious way: offer in order, take whatever still fits."""
    chosen = []
    for index in builder.selector.order(query.input_text):
        if builder.pool[index].id != query.id and used + builder.costs[index] <= builder.budget:
            chosen.append(int(index))
            used += builder.costs[index]
            if len(chosen) == builder.limit:
                break
    return chosen


@pytest.mark.parametrize("select", ["first", "random", "balanced", "similar", "diverse"])
@pytest.mark.parametrize("seed", [0, 1])
def test_vectorised_packing_takes_exactly_what_the_greedy_rule_takes(select: str, seed: int) -> None:
    import random

    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(300)]
    # 900 examples: larger than the ranking's lazily sorted head, so later chunks are exercised too
    pool = [Example(f"p{i}", " ".join(rng.choices(vocabulary, k=rng.choice([1, 2, 3, 8, 40, 200]))), f"l{i % 4}")
            for i in range(900)]
    builder = FewShotBuilder(shots=rng.choice(["max", 50, 400]), select=select, context_window=6000)
    builder.prepare(pool, MODEL, seed=seed)
    queries = [pool[5], *(Example(f"q{n}", " ".join(rng.choices(vocabulary, k=12)), "l0") for n in range(6))]
    built = builder.build_many(queries)
    for query, messages in zip(queries, built, strict=True):
        base = count_message_tokens([messages[-1]], MODEL)  # the query turn plus priming, no system message
        expected = _greedy_reference(builder, query, base)
        shots = [m["content"] for m in messages[:-1] if m["role"] == "user"]
        assert shots == [pool[i].input for i in expected]
        assert messages == builder.build(query)  # one at a time or in a batch: the same prompt


@settings(max_examples=200, deadline=None)
@given(scores=st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 7.25]), min_size=1, max_size=60),
       head=st.integers(min_value=1, max_value=70))
def test_lazy_ranking_equals_the_full_stable_sort(scores: list[float], head: int) -> None:
    import numpy as np

    from ftplug.plugins.few_shot.bm25 import BM25

    index = BM25(["x"] * len(scores))
    array = np.array(scores)
    assert np.concatenate(list(index.rank_lazily(array, head=head))).tolist() == index.rank(array).tolist()


def test_zero_shot_prompts_that_surely_fit_are_not_tokenised_and_long_ones_are() -> None:
    from ftplug.plugins.few_shot.builder import _token_bound

    builder = FewShotBuilder(shots=0, system="Label it.", reserve_output=50, safety_margin=10, context_window=200)
    builder.prepare(_pool([5] * 4), MODEL, seed=1)
    short = Example("s", "Eine kurze Frage: ist das wahr? ✓", "label0")
    assert builder.build(short) == [{"role": "system", "content": "Label it."},
                                    {"role": "user", "content": short.input}]
    assert builder._counter is None  # no encoding loaded
    report = builder.report()
    assert report["prompts_not_counted"] == 1 and report["prompt_bytes_max"] == _token_bound(builder.build(short))
    assert "fits without counting" in builder.describe()
    # a prompt whose bytes could exceed the budget is counted exactly: it may still fit ...
    repeated = Example("r", "aaaa " * 60, "label0")  # 300 bytes, far fewer tokens
    assert _token_bound([{"role": "user", "content": repeated.input}]) > builder.budget
    builder.build(repeated)
    assert builder._counter is not None and builder.report()["prompt_tokens_max"] <= builder.budget
    # ... or be refused with the exact count
    with pytest.raises(PromptTooLong, match="needs"):
        builder.build(Example("l", " ".join(f"w{j}" for j in range(200)), "label0"))


@settings(max_examples=80, deadline=None)
@given(text=st.text(min_size=0, max_size=300))
def test_the_byte_bound_is_never_below_the_exact_count(text: str) -> None:
    from ftplug.plugins.few_shot.builder import _token_bound

    messages = [{"role": "system", "content": "Label it."}, {"role": "user", "content": text, "name": "ann"}]
    assert _token_bound(messages) >= count_message_tokens(messages, MODEL)
