"""The shape of the analysis the report is rendered from (:func:`ftplug.report.analysis.analyse`): what the
text, HTML, CSV and JSON renderings read, and the JSON report's schema.

Typed dicts rather than classes, because the analysis *is* the JSON document (``ftplug report --format
json``): each key here is a key of that document. (No postponed annotations here: ``NotRequired`` must be
seen at run time for the required keys to be known.)
"""

from typing import Any, NotRequired, TypedDict


class Interval(TypedDict):
    """A point estimate with its 95% interval and the method that gave it; ``n``: the examples it is over."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    method: str


class Estimate(Interval):
    """A run's metric (or mean cost or latency) with its interval: how many examples had no score
    (``missing``) or a scorer error, how the metric aggregates, and — for a 0/1 higher-is-better scorer —
    its value with every unscored example counted as wrong (``with_failures``)."""

    missing: int
    errors: int
    aggregate: str
    higher_is_better: bool
    with_failures: NotRequired[Interval]


class PairedTest(TypedDict):
    """One paired comparison of two variants on one scorer: the difference ``variant − reference`` with its
    interval and the p of the test the interval inverts (``p_floor``: no resample was as extreme, p is below
    1/B)."""

    difference: float
    low: float | None
    high: float | None
    p_value: float
    p_floor: bool
    n: int
    clusters: int | None
    method: str
    se: float | None
    significant_unadjusted: bool
    significant: bool


class CorrectedTest(PairedTest):
    """A paired test within its scorer's ``family`` of comparisons: p after Holm's correction, significance
    after it, and the smallest difference the test could have detected."""

    p_adjusted: float
    family: int
    detectable: float | None


class Comparison(CorrectedTest):
    """A paired test, naming what it compares."""

    variant: str
    reference: str
    scorer: str


class Load(TypedDict):
    """The requests a variant had in flight: median and most, and the limit it ran under."""

    median: float | None
    max: int | None
    limit: int | None


class VariantResult(TypedDict):
    """One variant's line of the report (the latest run of it)."""

    variant: str
    model: str
    trainer: str
    status: str
    simulated: bool
    source: str  # simulated, local or live
    predictions: int
    errors: int
    metrics: dict[str, Estimate]
    confusion: dict[str, Any]
    cost_per_1k_usd: dict[str, float | None]
    cost_per_prediction: float | None
    latency_ms: dict[str, float | int | None]
    server_latency_ms: dict[str, float | int | None]
    in_flight: Load
    mean_prompt_tokens: float | None
    mean_completion_tokens: float | None
    training: dict[str, Any] | None
    shots: float | None
    baseline: str | None
    train_rows: int | None
    price_per_hour: float | None


class Scenario(TypedDict):
    """Break-even under one price scenario."""

    scenario: str
    predictions: int | None


class BreakEven(TypedDict):
    """After how many predictions a fine-tuned variant's training has paid for itself against a prompted
    one, and whether either is significantly worse than the best on the primary metric."""

    fine_tuned: str
    prompted: str
    training_cost_usd: float
    fine_tuned_per_prediction: float
    prompted_per_prediction: float
    predictions: int | None
    scenarios: list[Scenario]
    primary: str
    fine_tuned_metric: float | None
    prompted_metric: float | None
    fine_tuned_worse_than_best: bool
    prompted_worse_than_best: bool


class Clusters(TypedDict):
    """How the test examples were clustered for the paired tests."""

    key: str
    count: int
    examples: int


class Verdict(TypedDict):
    """The verdict: the best and cheapest variants it names, its lines and its caveats."""

    best: str | None
    cheapest: str | None
    lines: list[str]
    caveats: list[str]


class Analysis(TypedDict):
    """Everything the report shows for the latest run of each variant of one experiment. An experiment with
    no runs has only ``experiment`` and an empty ``variants``."""

    experiment: str | None
    variants: list[VariantResult]
    simulated: NotRequired[bool]
    primary: NotRequired[str | None]
    reference: NotRequired[str]
    volume: NotRequired[int]
    resamples: NotRequired[int]
    scorers: NotRequired[dict[str, dict[str, Any]]]
    ranking: NotRequired[list[str]]
    tied: NotRequired[list[str]]
    comparisons: NotRequired[list[Comparison]]
    head_to_head: NotRequired[Comparison | None]
    against_best: NotRequired[list[Comparison]]
    worse_than_best: NotRequired[list[str]]
    family: NotRequired[int]
    test_sets: NotRequired[Any]
    clusters: NotRequired[Clusters | None]
    break_even: NotRequired[list[BreakEven]]
    baseline_margins: NotRequired[dict[str, Any] | None]
    loss_curves: NotRequired[dict[str, list[dict[str, Any]]]]
    sampling_spread: NotRequired[dict[str, Any] | None]
    draw_spread: NotRequired[list[dict[str, Any]]]
    verdict: NotRequired[Verdict]
