"""The report section of the comparison-area design (results section ``comparison_areas``).

For each outcome and age group: the treated area against its synthetic control, the gap with its
permutation band, the placebo spaghetti with the treated area highlighted, the donor weights,
the placebo-in-time check, the events prevented (with interval and rates per 100,000, per
1,000,000 for homicides) and the area difference-in-differences beside it; then a plain statement
of what a place-based estimate can and cannot say.

Disclosure: every monthly observed count of the treated area is a cell of the publication's
ledger, tied to the post-period total it sums to; an observed rate, a gap and its band reveal
that month's count and are withheld with it; events prevented (expected minus observed) reveal
the observed total and are withheld with it. The synthetic control's path is a weighted average
of many areas (a model's value, like an ITS counterfactual). No donor's own rate or synthetic path
is published, so its placebo gap does not give its counts away.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from evalkit.publish.document import Bullets, Col, Para
from evalkit.publish.values import Derived, Fixed, Phrase, phrase
from evalkit.report import wording as w
from evalkit.result_sections import given

CAN_SAY = (
    "how the area's rates moved against what a weighted set of comparable areas implies, month by month;",
    "how unusual that gap is among areas that had no strategy (the placebo p-value is the treated area's rank "
    "among them);",
    "how many events the gap amounts to, with an interval from the same placebos.",
)
CANNOT_SAY = (
    "which intervention caused the gap: the strategy's effect is the sum of everything that changed in the area at "
    "the same time (other programmes, policing, recording practice);",
    "anything about a programme's effect on the people it served: this is evidence about the strategy in one place, "
    "not an EIF programme rating;",
    "whether a shock hit only this area (a new hospital, a change of recording system, a boundary change), or whether "
    "violence moved into neighbouring comparison areas (which makes the effect look larger);",
    "much when the fit before the start is poor, or when the p-value's floor, 1/(J+1), is above the level needed;",
    "more than the placebos allow: with 39 donors a 95% interval rests on the most extreme placebo on each side.",
)


def _f(digits: int = 2):
    return lambda v: w.fmt(v, digits)


def _pct(v) -> str:
    return w.pct(v)


def _rate_words(per: int) -> str:
    return "per 1,000,000 residents" if per == 1_000_000 else f"per {per:,} residents"


class _Spec:
    def __init__(self, kind: str, **kw):
        self.kind, self.kw = kind, kw

    def plotly(self, sink):
        from evalkit.plots import place
        from evalkit.publish.markup import plot_meta

        k = self.kw
        y = html.escape(k["y_title"], quote=False)
        if self.kind == "treated":
            return place.plotly_treated_synthetic(k["months"], [v.plot() for v in k["observed"]], k["synthetic"],
                                                  k["start"], k["area"], y, observed_meta=plot_meta(k["observed"], sink))
        if self.kind == "gap":
            return place.plotly_gap(k["months"], [v.plot() for v in k["gap"]], [v.plot() for v in k["low"]],
                                    [v.plot() for v in k["high"]], k["start"], y, k["level"],
                                    gap_meta=plot_meta(k["gap"], sink), band_meta=plot_meta(k["low"], sink))
        return place.plotly_placebos(k["months"], k["placebos"], [v.plot() for v in k["gap"]], k["start"], k["area"],
                                     y, treated_meta=plot_meta(k["gap"], sink))

    def matplotlib(self):
        from evalkit.plots import place

        k = self.kw
        if self.kind == "treated":
            return place.mpl_treated_synthetic(k["months"], [v.plot() for v in k["observed"]], k["synthetic"],
                                               k["start"], k["area"], k["y_title"])
        if self.kind == "gap":
            return place.mpl_gap(k["months"], [v.plot() for v in k["gap"]], [v.plot() for v in k["low"]],
                                 [v.plot() for v in k["high"]], k["start"], k["y_title"], k["level"])
        return place.mpl_placebos(k["months"], k["placebos"], [v.plot() for v in k["gap"]], k["start"], k["area"],
                                  k["y_title"])


class _Withheld:
    """A count as a statistic's group: "small" when it is withheld for any reason (a statistic computed
    from it, such as the events prevented, would give it back)."""

    def __init__(self, count, pinned: bool = False):
        self.count, self.cell, self.pinned = count, count.cell, pinned

    @property
    def small(self) -> bool:
        # before the ledger is solved (while the page is built) only the threshold and the plain arithmetic
        # of the months are known; a statistic asks again when it is rendered, after the solve
        if self.count.small or self.pinned:
            return True
        return self.cell.status is not None and self.count.hidden


def _section(R):
    """The typed comparison_areas record (evalkit.result_sections.ComparisonAreasSection), None without one."""
    value = (R.sections or {}).get("comparison_areas")
    return R.section("comparison_areas") if isinstance(value, Mapping) else None


def declare(rep, estimate_counts) -> None:
    """Every count of the section, declared before the summary and results table are written: each month's
    observed count, tied to the post-period total it sums to; the estimates that reveal a total (events
    prevented, rate gap: expected minus observed) are withheld with it wherever they are shown."""
    estimate_counts(rep)  # the estimates' own n first (it runs once per report)
    sec = _section(rep.R)
    cells = {}
    if sec is None:
        rep.place_cells = cells
        return
    for key, entry in (sec.measures or {}).items():
        sc = entry.get("synthetic_control") if isinstance(entry, Mapping) else None
        if not isinstance(sc, Mapping):
            continue
        months = [r for r in sc.get("months") or [] if isinstance(r, Mapping)]
        counts = [rep.count(int(r["observed_events"]), "detail", f"{key} {r['month']} observed") for r in months]
        total = rep.count(int(round(float(sc.get("events_observed") or 0))), "headline",
                          f"{key} observed after the start")
        post = [c for c, r in zip(counts, months) if r.get("period") == "post"]
        rep.page.ledger.sum(total, post)
        pinned = _total_gives_away_months(total, post, rep.page.ledger.policy)
        cells[key] = (counts, total)
        subgroup = "all" if entry.get("age_group") == "all ages" else entry.get("age_group")
        for i, e in enumerate(rep.R.estimates):
            if e.indicator == entry.get("indicator") and e.subgroup == subgroup and \
                    e.estimand in ("events_prevented", "rate_gap"):
                rep.estimate_n[(i, "observed")] = _Withheld(total, pinned)
    rep.place_cells = cells


def _total_gives_away_months(total, months, policy) -> bool:
    """Would the post-period total, with the months' shown counts, pin a withheld month to one value?

    Each small month (1 to threshold - 1) is withheld; the total minus the shown months is their sum S
    over n months, so each lies in [max(1, S - (n-1)(k-1)), min(k-1, S - (n-1))]. When that range holds
    one whole number the total must be withheld (the page's audit does so), and so must every estimate
    that gives the total back; this is known before the page is built, so the summary can say so."""
    small = [c.cell.value for c in months if policy.small(c.cell.value)]
    if not small:
        return False
    n, S = len(small), sum(small)
    k1 = max(small)
    while policy.small(k1 + 1):  # the largest value the policy withholds (threshold - 1)
        k1 += 1
    low, high = max(1, S - (n - 1) * k1), min(k1, S - (n - 1))
    return high - low < 1


def comparison_areas(rep, label) -> None:
    """The section's body (``label(C, indicator)`` names an outcome in the report's words)."""
    from evalkit.publish.values import Rate

    sec = _section(rep.R)
    if sec is None:
        return
    page = rep.page
    area, start = str(sec.treated_area), str(sec.start)
    J = int(given(sec, "n_donors") or 0)
    method = "augmented (ridge bias-corrected) synthetic control" if given(sec, "method") == "augmented" else \
        "synthetic control (Abadie, Diamond & Hainmueller 2010)"
    page.add(Para(phrase(
        f"{area} is compared with a {method}: a weighted average of {{J}} comparison areas that had no Violence "
        f"Reduction Unit, with weights chosen so that it tracks {area}'s monthly rate over the {{pre}} months before "
        f"the strategy began in {start}. After the start, the gap between {area} and its synthetic control is the "
        "estimated effect. Each comparison area in turn is treated as if it had the strategy (placebo in space): the "
        "p-value is the rank of the treated area's post/pre fit ratio among all of them, exactly, and the intervals "
        "come from the same placebos.", J=Fixed(J), pre=Fixed(given(sec, "pre_months")))))
    measures = {k: e for k, e in (sec.measures or {}).items() if isinstance(e, Mapping)}
    # in the plan's order (the estimates'), all ages before under-25s; results.json sorts the keys
    order = list(dict.fromkeys((e.indicator, e.subgroup) for e in rep.R.estimates))
    rank = {k: order.index((e.get("indicator"), "all" if e.get("age_group") == "all ages" else e.get("age_group")))
            if (e.get("indicator"), "all" if e.get("age_group") == "all ages" else e.get("age_group")) in order
            else len(order) for k, e in measures.items()}
    for key in sorted(measures, key=lambda k: (rank[k], k)):
        _measure(rep, label, sec, key, measures[key], Rate)
    page.heading("What a place-based estimate can and cannot say", 4, anchor="sec-place-can-cannot")
    page.add(Para(Phrase("It can say:")))
    page.add(Bullets([Phrase(x) for x in CAN_SAY]))
    page.add(Para(Phrase("It cannot say:")))
    page.add(Bullets([Phrase(x) for x in CANNOT_SAY]))
    page.add(Para(Phrase("These results are evidence about the strategy as a whole, in one place. They do not give, "
                         "and do not count towards, an EIF programme rating."), "note"))


def _measure(rep, label, sec, key, entry, Rate) -> None:
    page = rep.page
    area, start = str(sec.treated_area), str(sec.start)
    sc = entry.get("synthetic_control") or {}
    per = int(entry.get("rate_per") or 100_000)
    under_25 = entry.get("age_group") == "under 25"
    who = " aged under 25" if under_25 else ""
    rate_title = f"rate {_rate_words(per)}{who} a month"
    page.heading(label(rep.C, entry.get("indicator")) + (" (under 25)" if under_25 else ""), 4)
    months = [r for r in sc.get("months") or [] if isinstance(r, Mapping)]
    names = [str(r["month"]) for r in months]
    counts, total = rep.place_cells[key]  # declared before the summary (see declare)
    observed = [Rate(c, float(r["observed_rate"])) for c, r in zip(counts, months)]
    gap = [Derived(float(r["gap"]), [o]) for r, o in zip(months, observed)]
    low = [Derived(float(r["gap_low"]), [o]) for r, o in zip(months, observed)]
    high = [Derived(float(r["gap_high"]), [o]) for r, o in zip(months, observed)]
    level = float((sc.get("events_prevented_interval") or {}).get("level") or 0)
    level_words = _pct(level)
    f2 = _f(2)
    # fit and test
    page.add(Para(phrase(
        "Fit before the start (root mean squared prediction error): {pre} " + _rate_words(per) + who + " a month. "
        "After the start the prediction error is {ratio} times that. Ranked on this ratio among itself and the "
        "comparison areas (1: the most extreme), " + area + " is at rank {rank}: the exact placebo p-value is "
        "{p}, the rank divided by the number of areas (the smallest possible here is {floor}).",
        pre=Fixed(sc.get("pre_rmspe"), f2), ratio=Fixed(sc.get("rmspe_ratio"), f2), rank=Fixed(sc.get("rank")),
        p=Fixed(sc.get("p_value"), w.fmt_p), floor=Fixed(sc.get("p_value_floor"), w.fmt_p))))
    # events prevented
    iv = sc.get("events_prevented_interval") or {}
    pp = sc.get("prevented_per_population") or {}
    prevented = Derived(sc.get("events_prevented"), [total], _f(1))
    page.add(Para(phrase(
        "From " + start + " to " + str(given(sec, "last_month")) + ": {observed} events were recorded in " + area + who
        + ", against {expected} expected from the synthetic control. Events prevented (expected minus recorded; "
        "negative means more events than expected): {prevented} ({level} interval {lo} to {hi}), or {rate} "
        + _rate_words(per) + who + " over the period (interval {rlo} to {rhi}).",
        observed=total, expected=Derived(sc.get("events_counterfactual"), [total], _f(1)), prevented=prevented,
        level=Fixed(level_words), lo=Derived(iv.get("low"), [total], _f(1)), hi=Derived(iv.get("high"), [total], _f(1)),
        rate=Derived(pp.get("value"), [total], f2), rlo=Derived(pp.get("low"), [total], f2),
        rhi=Derived(pp.get("high"), [total], f2))))
    page.figure(_Spec("treated", months=names, observed=observed, synthetic=[r["synthetic_rate"] for r in months],
                      start=start, area=area, y_title=rate_title),
                caption=f"{area}{who} and its synthetic control, {rate_title}")
    page.figure(_Spec("gap", months=names, gap=gap, low=low, high=high, start=start, y_title=f"gap, {rate_title}",
                      level=level_words),
                caption=f"Gap ({area} minus synthetic), with the {level_words} permutation band")
    k = page.ledger.policy.threshold
    page.add(Para(phrase("Months with 1 to {k1} events in " + area + who + ", or that would let one be worked out, "
                         "are not drawn, nor is their gap (disclosure control).", k1=Fixed(k - 1)), "note"))
    placebos = sc.get("placebo_gaps") or {}
    # ADH (2010) leave out placebos fitted much worse than the treated area before the start: their gaps say
    # nothing about how unusual a well-fitted gap is
    cut = 5 * float(sc.get("pre_rmspe") or 0) ** 2
    fits = {p["area"]: float(p["pre_rmspe"]) ** 2 for p in sc.get("placebos") or [] if isinstance(p, Mapping)}
    shown = {a: g for a, g in sorted(placebos.items()) if fits.get(a, 0.0) <= cut}
    page.figure(_Spec("placebo", months=names, placebos=shown, gap=gap, start=start, area=area,
                      y_title=f"gap, {rate_title}"),
                caption=f"Placebo gaps of the comparison areas (grey) and {area}'s gap (blue)")
    page.add(Para(phrase(
        "The placebo plot leaves out comparison areas whose own synthetic control fits more than five times worse "
        "(in mean squared error) than " + area + "'s before the start, as Abadie, Diamond & Hainmueller (2010) do "
        "(left out here: {left}); the p-value counts every area.", left=Fixed(len(placebos) - len(shown))), "note"))
    # donor weights
    weights = [x for x in sc.get("weights") or [] if isinstance(x, Mapping) and float(x.get("weight") or 0) >= 0.001]
    rows = [[Col(str(x["area"]), "area"), Col(Fixed(float(x["weight"]), _f(3)), "weight", True)] for x in weights]
    if rows:
        page.table(["comparison area", "weight"], rows, table_id=f"ek-donor-weights-{key}")
        page.add(Para(phrase("Weights are non-negative and sum to 1; the other {rest} comparison areas have weight "
                             "below 0.001.", rest=Fixed(len(sc.get("weights") or []) - len(rows))), "note")
                 if given(sec, "method") != "augmented" else
                 Para(Phrase("Augmented weights sum to 1 and may be negative (the ridge correction extrapolates); "
                             "weights of size below 0.001 are not listed."), "note"))
    # placebo in time
    pit = sc.get("placebo_in_time") or {}
    if pit.get("fake_start"):
        page.add(Para(phrase(
            "Placebo in time: with the start moved {k} months earlier (to " + str(pit["fake_start"]) + ") and only the "
            "months before the real start used, the mean gap in the fake post-period is {g} against a fit of {r} before "
            "it; a gap of the size found after the real start would be evidence against the design.",
            k=Fixed(pit.get("months_earlier")), g=Fixed(pit.get("mean_gap"), f2), r=Fixed(pit.get("pre_rmspe"), f2))))
    # the area DiD beside it
    did = entry.get("area_did")
    if isinstance(did, Mapping):
        pi = did.get("permutation_interval") or {}
        wb = did.get("wild_bootstrap") or {}
        ei = did.get("events_prevented_interval") or {}
        page.add(Para(phrase(
            "Comparison-area difference-in-differences (area and month fixed effects, on rates): {est} "
            + _rate_words(per) + who + " a month ({level} permutation interval over the comparison areas {lo} to {hi}, "
            "p = {p}), or {ev} events prevented (interval {elo} to {ehi}). With one treated area the cluster-robust "
            "p-value ({p1}) and the wild cluster bootstrap p-value ({pb}) are unreliable (MacKinnon & Webb 2017): "
            "read the permutation.",
            est=Fixed(did.get("estimate"), f2), level=Fixed(_pct(pi.get("level"))), lo=Fixed(pi.get("low"), f2),
            hi=Fixed(pi.get("high"), f2), p=Fixed(did.get("permutation_p_value"), w.fmt_p),
            ev=Fixed(did.get("events_prevented"), _f(1)), elo=Fixed(ei.get("low"), _f(1)),
            ehi=Fixed(ei.get("high"), _f(1)), p1=Fixed(did.get("cr1_p_value"), w.fmt_p),
            pb=Fixed(wb.get("p_value"), w.fmt_p))))
