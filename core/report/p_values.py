"""How a comparison's p-values read in the report."""

from __future__ import annotations

from typing import Any


def p_number(c: dict[str, Any]) -> str:
    """The raw p-value: ``0.012``, or ``< 0.0005`` when no resample was as extreme (p below 1/B)."""
    if c.get("p_floor"):
        return f"< {c['p_value']:.2g}"
    return f"{c['p_value']:.3g}"


def p_adjusted_number(c: dict[str, Any]) -> str:
    """Holm's adjusted p-value (``-`` when the comparison had no family), with ``<`` when the raw one was a floor."""
    if c.get("p_adjusted") is None:
        return "-"
    return f"{'< ' if c.get('p_floor') and c['p_adjusted'] < 1 else ''}{c['p_adjusted']:.3g}"


def p_text(c: dict[str, Any]) -> str:
    """``p = 0.012`` or ``p < 0.0005 (1/B)``, with Holm's adjusted value when the report made several."""
    raw = f"p < {c['p_value']:.2g} (1/B: no resample as extreme)" if c.get("p_floor") else f"p = {c['p_value']:.3g}"
    family = c.get("family") or 1
    if family > 1 and c.get("p_adjusted") is not None:
        return f"{raw}; Holm-adjusted {p_adjusted_number(c)} over {family} comparisons"
    return raw
