"""Which variants the report compares, and what each comparison may claim.

One ranking on the primary metric (ties broken by name, so the order variants are listed in never matters)
decides the best and the runner-up; the pairs compared are every variant against the reference, the best
against the runner-up (the verdict's head-to-head), every variant against the best (who is "not
significantly worse", for the cheapest and break-even lines) and against the best naive baseline. Each
unordered pair is tested once. Holm's correction runs over all of a scorer's pairs, and every comparison
carries its adjusted p, its significance after correction and the smallest difference it could detect.
"""

from __future__ import annotations

from ftplug.report.model import CorrectedTest, PairedTest
from ftplug.report.multiplicity import detectable_difference, holm
from ftplug.report.statistics import ALPHA

TIE = 1e-12


def rank(values: dict[str, float | None], higher_is_better: bool) -> list[str]:
    """Variant names by their value, best first (ties by name), those without a value left out."""
    scored = [(value, name) for name, value in values.items() if value is not None]
    return [name for _, name in sorted(scored, key=lambda item: (-item[0] if higher_is_better else item[0],
                                                                 item[1]))]


def tied(values: dict[str, float | None], ranking: list[str]) -> list[str]:
    """The variants that share the best value (one name when there is no tie)."""
    if not ranking:
        return []
    best = values[ranking[0]]
    return [name for name in ranking if abs((values[name] or 0.0) - (best or 0.0)) <= TIE]


def pairs(names: list[str], reference: str, ranking: list[str], naive: str | None) -> list[tuple[str, str]]:
    """The ordered pairs (variant, other) the report shows, each unordered pair once in the first orientation
    asked for."""
    wanted = [(name, reference) for name in names if name != reference]
    if len(ranking) > 1:
        wanted.append((ranking[0], ranking[1]))
        wanted += [(name, ranking[0]) for name in ranking[1:]]
    if naive is not None:
        wanted += [(name, naive) for name in ranking if name != naive]
    seen: set[frozenset[str]] = set()
    chosen = []
    for a, b in wanted:
        if a != b and frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            chosen.append((a, b))
    return chosen


def flipped(result: CorrectedTest) -> CorrectedTest:
    """The same comparison seen from the other side: the difference and its interval negated."""
    def negate(x: float | None) -> float | None:
        return None if x is None else -x

    return {**result, "difference": -result["difference"], "low": negate(result["high"]),
            "high": negate(result["low"])}


class Results:
    """The tested pairs by scorer, corrected for multiplicity, looked up in either orientation."""

    def __init__(self, tested: list[tuple[str, str, str, PairedTest]]) -> None:
        self.by_pair: dict[tuple[str, str, str], CorrectedTest] = {}
        families: dict[str, list[tuple[str, str, PairedTest]]] = {}
        for a, b, scorer, result in tested:
            families.setdefault(scorer, []).append((a, b, result))
        for scorer, family in families.items():
            adjusted = holm([result["p_value"] for _, _, result in family])
            for (a, b, result), p in zip(family, adjusted, strict=True):
                self.by_pair[(a, b, scorer)] = {
                    **result, "p_adjusted": p, "family": len(family), "significant": p < ALPHA,
                    "detectable": detectable_difference(result["se"], len(family))}

    def get(self, a: str, b: str, scorer: str) -> CorrectedTest | None:
        """The comparison of ``a`` against ``b`` (difference a − b) on ``scorer``, if it was tested."""
        if (a, b, scorer) in self.by_pair:
            return self.by_pair[(a, b, scorer)]
        if (b, a, scorer) in self.by_pair:
            return flipped(self.by_pair[(b, a, scorer)])
        return None

    def family(self, scorer: str) -> int:
        """How many comparisons on ``scorer`` the correction ran over."""
        return sum(1 for (_, _, s) in self.by_pair if s == scorer)


def worse_than_best(results: Results, best: str, names: list[str], scorer: str, higher_is_better: bool) -> set[str]:
    """The variants significantly worse than ``best`` on ``scorer`` after Holm's correction."""
    worse = set()
    for name in names:
        c = results.get(name, best, scorer) if name != best else None
        if c and c["significant"] and (c["difference"] < 0) == higher_is_better:
            worse.add(name)
    return worse
