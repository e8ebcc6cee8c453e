"""Whether a success measure's fitted trend (ITS) may be published beside its months.

Its own module so that the page builder (:mod:`evalkit.monitor.charts`) and the model and export
(:mod:`evalkit.monitor.dashboard`) ask the same question without importing each other.
"""

from __future__ import annotations


def its_published(item: dict, success: dict) -> dict | None:
    """A success measure's fitted trend as published, or None when it would give a hidden month away.

    The fit's fitted values tell a reader ``X'y`` (see :func:`evalkit.publish.audit.fixed_by_moments`):
    with the months shown and the year-ending totals shown, a few hidden months can then be worked
    out exactly. Decided after disclosure control (it reads the values' status), like the XmR chart."""
    from evalkit.publish.audit import fixed_by_moments

    its = (success or {}).get("its")
    if not its:
        return None
    shown = {k: v for k, v in its.items() if not k.startswith("_")}
    design = its.get("_design")
    if design is None:
        return shown
    periods = list(its["period"])
    at = {p: i for i, p in enumerate(periods)}
    counts = dict(zip(item["series"]["period"], item["series"]["count"]))
    known = [counts.get(p) is not None and not counts[p].hidden and counts[p].shown_value is not None for p in periods]
    sums = []
    roll = (success or {}).get("rolling") or {}
    for t, r in enumerate(roll.get("count") or []):
        if r is None or r.hidden or r.shown_value is None or t < 11:
            continue
        row = [0.0] * len(periods)
        for p in roll["period"][t - 11:t + 1]:
            if p in at:
                row[at[p]] = 1.0
        sums.append(row)
    if fixed_by_moments(design, known, sums):
        return None
    return shown
