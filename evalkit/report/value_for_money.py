"""The "Value for money" section of an evaluation report, and the cost rating beside the evidence level.

It shows :func:`evalkit.vfm.assess.assess`'s records (put in the report's context as
``C["value_for_money"]`` by :mod:`evalkit.report.write`); nothing here computes a figure. The
numbers of participants are cells of the publication's ledger (each period's, and all periods' as
their sum; completers as a part of starters), and every amount per participant is a
:class:`~evalkit.publish.values.Derived` of the count it divides by, so a small count hidden in
the table cannot be worked out from the cost per participant beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evalkit.publish.document import Bullets, Callout, Col, Para
from evalkit.publish.values import Count, Derived, Fixed, Phrase, Rate, Value

ANCHOR = "sec-value-for-money"
METHOD_DOC = "docs/value-for-money.md"


def _money(x) -> str:
    if x is None:
        return "-"
    return f"-£{-x:,.0f}" if x < 0 else f"£{x:,.0f}"


def _ratio(x) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _n(x) -> str:
    return "-" if x is None else f"{x:,.1f}"


def _esc(text: str) -> str:
    return str(text).replace("{", "{{").replace("}", "}}")


def _para(page, template: str, style: str = "", **values: Value) -> None:
    page.add(Para(Phrase(template, values), style))


def _text(page, text: str, style: str = "") -> None:
    _para(page, _esc(text), style)


def _interval(lo, hi, fmt) -> str:
    return "-" if lo is None or hi is None else f"{fmt(lo)} to {fmt(hi)}"


def assessment_of(C: Mapping):
    return C.get("value_for_money")


def has_section(C: Mapping) -> bool:
    return assessment_of(C) is not None


def _key(intervention: str, period: str, what: str) -> tuple:
    return ("vfm", intervention, period, what)


def _per(value, count):
    """A cost per participant: the full cost (printed to the pound) divided by it gives the count back
    exactly, so under the rounding policy the count is known exactly to the audit (a Rate of it), and
    a small count linked to it (those who did not complete) is protected; hidden with the count."""
    if isinstance(count, Count):
        return Rate(count, value, _money)
    return Derived(value, [count], _money)


def participant_cells(page, summary, role_all: str = "headline"):
    """(started, completed) Count cells per period and for all periods ("all"), one set per
    intervention in the whole publication (its reports and the portfolio show the same cells), with
    completers + those who did not complete = starters and the periods' sum = all periods."""
    ledger = page.ledger
    iv = summary.intervention
    fresh = ledger.get(_key(iv, "all", "started")) is None
    cells = {}
    for row in (*summary.periods, summary.overall):
        last = row.period == "all"
        kw = dict(role=role_all if last else "normal")

        def cell(value, what):
            return None if value is None else page.count(value, label=f"{iv}: cost period {row.period} {what}",
                                                          key=_key(iv, row.period, what), **kw)

        started, completed = cell(row.started, "started"), cell(row.completed, "completed")
        if fresh and started is not None and completed is not None:
            # those who did not complete are a count too: a hidden completer count cannot be worked out
            rest = page.count(row.started - row.completed, role="detail", key=_key(iv, row.period, "rest"),
                              label=f"{iv}: cost period {row.period} not completed")
            ledger.sum(started, [completed, rest])
        cells[row.period] = (started, completed)
    if fresh and len(summary.periods) > 1:
        for k in (0, 1):
            total = cells["all"][k]
            parts = [cells[p.period][k] for p in summary.periods]
            if total is not None and all(parts):
                ledger.sum(total, parts)
    return cells


def disagreements(page, a, cells) -> None:
    """Each period whose declared participants differ from those counted in the plan's data or the store:
    said, with both figures (the declared one a count of the publication too), never settled silently."""
    for x in a.participant_checks:
        counted = (cells.get(x.period) or (None, None))[0 if x.which == "started" else 1]
        declared = page.count(x.declared, role="normal", key=_key(a.intervention, x.period, f"declared {x.which}"),
                              label=f"{a.intervention}: cost period {x.period} {x.which} as declared")
        page.add(Callout("warning", "Participants: the declared and counted figures disagree", [Para(Phrase(
            _esc(f"Cost period {x.period}: ") + "{declared}" + _esc(f" {x.which} as declared in the logic model's "
                                                                    "costs, ") + "{counted}"
            + _esc(f" counted from {x.counted_from}. The count is used for every figure below; check which is right "
                   "(a plan's data may hold only part of a period's participants, or the records may be out of "
                   "date)."), {"declared": declared, "counted": counted}))]))


def _preamble(page, a, what: str, tail: str) -> None:
    """The illustrative-costs warning (when the costs are made up) and the prices sentence, which the
    programme's and the strategy's sections share; ``tail`` ends the sentence's paragraph."""
    s = a.summary
    if a.illustrative:
        page.add(Callout("warning", "Illustrative costs", [Para(Phrase(_esc(
            "The costs in this section are made up to show how evalkit reports value for money. They are not the "
            f"costs of any real {what} and must not be quoted.")))]))
    up = "; ".join(f"{u.from_year} to {u.to_year} x {u.factor:.4f}" for u in s.uplifts if u.from_year != u.to_year)
    _text(page, f"All amounts are in {s.analysis_year} prices (GDP deflator: {s.deflator}"
                + (f"; {up}" if up else "") + f"). Source of the costs: {s.source or 'not stated'}. {tail}")


def value_for_money(rep) -> None:
    """The section: costs, cost per participant, cost per outcome, crime costs avoided, sensitivity."""
    a = assessment_of(rep.C)
    page = rep.page
    page.heading("Value for money", anchor=ANCHOR)
    s = a.summary
    o = s.overall
    if o.started is None and (a.area_events or not a.outcomes):
        _area_value_for_money(rep, a)
        return
    _preamble(page, a, "programme", f"Participants: {a.participants_from}.")
    cells = participant_cells(page, s)
    disagreements(page, a, cells)
    rows = []
    for row in (*s.periods, s.overall) if len(s.periods) > 1 else s.periods:
        started, completed = cells[row.period]
        rows.append([
            Col("all periods" if row.period == "all" else row.period, "period"),
            Col(f"{row.start} to {row.end}", "dates"),
            Col(row.price_year, "price_year"),
            Col(Fixed(row.cash, _money), "cash", True), Col(Fixed(row.in_kind, _money), "in_kind", True),
            Col(Fixed(row.total, _money), "total", True),
            Col(started if started is not None else "-", "started", True),
            Col(completed if completed is not None else "-", "completed", True),
            Col(_per(row.per_started, started), "per_started", True),
            Col(_per(row.per_completed, completed), "per_completed", True),
        ])
    page.table(["period", "dates", "price year", "cash", "in kind", "full cost", "started", "completed",
                "cost per participant started", "cost per participant completed"], rows,
               table_id="ek-vfm-costs", secondary=(1, 2), print_columns=(0, 3, 4, 5, 6, 7, 8, 9))
    started, completed = cells["all"]
    # amounts come after their nouns: "£2,542 per participant" would read as a count of people
    _para(page, "The full cost (cash and in kind, set-up and running) is {total}. Cost per participant who started: "
                "{per_started}; per participant who completed: {per_completed}. Cash cost per participant who "
                "started: {cash_per}; running cost alone (without set-up): {running_per}.",
          total=Fixed(o.total, _money), per_started=_per(o.per_started, started),
          per_completed=_per(o.per_completed, completed), cash_per=_per(o.per_started_cash, started),
          running_per=_per(o.per_started_running, started))
    lines = [ln for ln in s.lines if ln.funding == "in_kind"]
    if lines:
        page.add(Bullets([Phrase(_esc(f"In kind, {ln.period}: {ln.category} from {ln.provided_by or 'a partner'}, "
                                      f"valued at {_money(ln.amount)}")) for ln in lines]))
    cost_rating(rep)

    if a.outcomes:
        page.heading("Cost per outcome", level=3)
        rows = []
        for c in a.outcomes:
            k = c.cost_per_outcome
            per = (Derived(k.cost_per_outcome, [started], _money) if k.cost_per_outcome is not None
                   else Fixed("no figure" if k.at_least is None else f"at least {_money(k.at_least)}"))
            rows.append([Col(k.outcome, "outcome"), Col(c.label, "indicator"),
                         Col(_esc_words(c.estimand), "effect used"),
                         # outcomes and the intervals are the starters times an effect: with the effect
                         # shown they give the starters away, so they are withheld with them
                         Col(Derived(k.outcomes.central, [started], _n), "outcomes", True),
                         Col(Derived(_interval(k.outcomes.low, k.outcomes.high, _n), [started]), "outcomes_interval",
                             True),
                         Col(per, "cost_per_outcome", True),
                         Col(Derived(_interval(k.ci_low, k.ci_high, _money), [started]), "interval", True),
                         Col("yes" if c.comparison_group else "no (descriptive)", "comparison_group")])
        page.table(["outcome", "indicator", "effect used", "outcomes", "95% interval", "cost per outcome",
                    "95% interval", "comparison group"], rows, table_id="ek-vfm-per-outcome", secondary=(1, 2))
        items = []
        for c in a.outcomes:
            k = c.cost_per_outcome
            per = k.outcomes.central / started.value if started is not None and started.value else None
            words = (f"{_esc(k.outcome)}: outcomes = {_esc(c.per_participant)} ({_esc(f'{per:.4g}' if per else '-')}) "
                     "x the participants who started ({started}); interval by " + _esc(k.method_text) + ".")
            if k.note:
                words += " " + _esc(k.note)
            if not c.comparison_group:
                words += (" With no comparison group this is descriptive: it is not the cost of an outcome the "
                          "programme caused.")
            items.append(Phrase(words, {"started": started}))
        page.add(Bullets(items))

    money = [c for c in a.outcomes if c.monetised is not None]
    if money:
        page.heading("Costs of crime avoided", level=3)
        rows = []
        for c in money:
            m = c.monetised
            rows.append([Col(m.outcome, "outcome"), Col(m.offence_label, "valued as"),
                         Col(Fixed(m.unit_cost, _money), "unit_cost", True),
                         # benefits are the starters times the effect times the unit cost: withheld with them
                         Col(Derived(m.benefit, [started], _money), "benefit", True),
                         Col(Derived(_interval(m.benefit_low, m.benefit_high, _money), [started]), "benefit_interval",
                             True),
                         Col(Derived(m.net_benefit, [started], _money), "net_benefit", True),
                         Col(Derived(_interval(m.net_benefit_low, m.net_benefit_high, _money), [started]),
                             "net_interval", True),
                         Col(Derived(m.bcr, [started], _ratio), "bcr", True),
                         Col(Derived(_interval(m.bcr_low, m.bcr_high, _ratio), [started]), "bcr_interval", True)])
        page.table(["outcome", "valued as", f"unit cost ({a.analysis_year})", "benefit", "95% interval",
                    "net benefit", "95% interval", "benefit-cost ratio", "95% interval"], rows,
                   table_id="ek-vfm-benefit", secondary=(1,), print_columns=(0, 2, 3, 5, 7, 8))
        for c in money:
            m = c.monetised
            # the ratio is the starters times the effect times the unit cost over the cost: withheld with them
            _para(page, _esc(f"{m.outcome}: ") + "{bcr} pounds of crime avoided for every pound spent (95% interval "
                        "{bcr_ci}). " + _esc(f"{_valuation(c)}; unit cost {_money(m.unit_cost_price_year)} in "
                                             f"{m.table_price_year} prices, x {m.uplift_factor:.4f} to "
                                             f"{a.analysis_year}. Intervals: {m.method_text}."
                                             + (f" Note: {m.note.rstrip('.')}." if m.note else "")),
                  bcr=Derived(m.bcr, [started], _ratio),
                  bcr_ci=Derived(_interval(m.bcr_low, m.bcr_high, _ratio), [started]))
        first = money[0].monetised
        page.add(Bullets([Phrase(_esc("Counted: " + "; ".join(first.counted) + ".")),
                          Phrase(_esc("Not counted: " + "; ".join(first.not_counted) + "."))]))
        _text(page, "A benefit-cost ratio from the unit costs of crime is a social value, not a cash saving: it "
                    "includes the harm to victims and their lost output, which no public budget pays, and police "
                    "or NHS budgets do not shrink by the unit cost when one offence is avoided.", style="note")

    for c in a.outcomes:
        _sensitivity(page, c.sensitivity, c.indicator, [started])

    if a.not_costed:
        page.add(Bullets([Phrase(_esc(f"Not costed: {n.label} ({n.reason}).")) for n in a.not_costed]))
    _text(page, "What these figures cannot tell you: they are only as causal as the evaluation (attribution: a "
                "before-and-after study cannot separate the programme from everything else that changed, and where "
                "several programmes work in one area a fall cannot be credited to each in full); violence prevented "
                "here may move elsewhere (displacement), and nothing displaced is subtracted; costs estimated before "
                "delivery tend to be too low and benefits too high (optimism bias; no adjustment is applied, so read "
                "the high-cost row); benefits beyond the follow-up are not counted and nothing is discounted. "
                f"The method and its limits: {METHOD_DOC}.", style="note")


def _sensitivity(page, t, table_key: str, depends) -> None:
    """The nine-cell table of one costed outcome, each cell withheld with ``depends``."""
    page.heading(f"Sensitivity: {t.outcome}", level=3)
    by = {(x.cost_case, x.effect_case): x for x in t.cells}
    rows = []
    for cost_case in ("low", "central", "high"):
        row = [Col(f"costs {cost_case} ({_money(by[(cost_case, 'central')].cost)})", "costs")]
        for effect_case in ("low", "central", "high"):
            x = by[(cost_case, effect_case)]
            text = _money(x.cost_per_outcome) if x.cost_per_outcome is not None else "no figure"
            if x.bcr is not None:
                text += f" (ratio {_ratio(x.bcr)})"
            row.append(Col(Derived(text, depends), f"effect_{effect_case}", True))
        rows.append(row)
    # (the outcomes behind each column are the starters times an effect, or give an area's recorded total
    # back: not printed in the headers, which cannot be withheld with them)
    page.table(["", "effect low", "effect central", "effect high"], rows, table_id=f"ek-vfm-sensitivity-{table_key}")
    _text(page, f"Cost per outcome{' (and benefit-cost ratio)' if t.unit_value is not None else ''} for "
                f"costs {t.cost_low_factor:.0%} and {t.cost_high_factor:.0%} of those declared "
                f"({t.cost_factors_source}) against the effect: {t.effect_cases}.",
          style="note")


AREA_LIMITS = (
    "What these figures cannot tell you: the events are those of the whole area, so they are the effect of "
    "everything that changed there at the same time, not of the strategy alone (attribution: other programmes, "
    "policing, recording practice); violence prevented here may have moved to neighbouring areas (displacement), "
    "and nothing displaced is subtracted (a comparison area that took it in makes the effect look larger); costs "
    "estimated before delivery tend to be too low and benefits too high (optimism bias; no adjustment is applied, "
    "so read the high-cost row); benefits beyond the evaluation's months are not counted and nothing is discounted. "
    f"The method and its limits: {METHOD_DOC}.")


def _area_key(x) -> str:
    return x.indicator + ("-u25" if x.age_group == "under 25" else "")


def _area_value_for_money(rep, a) -> None:
    """A whole-area strategy (no participants): its costs by period, then each outcome's events spared in
    the area against the cost over the same months, valued with the unit costs of crime.

    The comparison-area design's events prevented are expected minus recorded events: they give the
    recorded total back, so every figure made from them (the events, the cost per event, the benefit, the
    net benefit, the ratio and their intervals, the sensitivity cells) is withheld with that total's cell
    (:func:`evalkit.report.place.declare` puts it in the ledger). A time series' events avoided are the
    model's counterfactual minus its fitted events: no recorded count enters them."""
    page, s = rep.page, a.summary
    _preamble(page, a, "strategy", "A whole-area strategy has no participants, so there is no cost per participant "
              "and no cost rating: its costs are set against the events its evaluation counts in the whole area, "
              "over the same months.")
    rows = [[Col("all periods" if row.period == "all" else row.period, "period"),
             Col(f"{row.start} to {row.end}", "dates"), Col(row.price_year, "price_year"),
             Col(Fixed(row.cash, _money), "cash", True), Col(Fixed(row.in_kind, _money), "in_kind", True),
             Col(Fixed(row.total, _money), "total", True)]
            for row in ((*s.periods, s.overall) if len(s.periods) > 1 else s.periods)]
    page.table(["period", "dates", "price year", "cash", "in kind", "full cost"], rows, table_id="ek-vfm-costs",
               secondary=(1, 2))
    lines = [ln for ln in s.lines if ln.funding == "in_kind"]
    if lines:
        page.add(Bullets([Phrase(_esc(f"In kind, {ln.period}: {ln.category} from {ln.provided_by or 'a partner'}, "
                                      f"valued at {_money(ln.amount)}")) for ln in lines]))
    events = list(a.area_events)
    if not events:
        if a.not_costed:
            page.add(Bullets([Phrase(_esc(f"Not costed: {n.label} ({n.reason}).")) for n in a.not_costed]))
        return
    cells = getattr(rep, "place_cells", None) or {}

    def deps(x) -> list:
        if x.model_based:
            return []
        found = cells.get(x.measure_key)
        # no cell to tie them to: withhold them rather than show a figure that may give a count away
        return [found[1]] if found else [Derived(None, [])]

    def shown(value, x, fmt):
        return Fixed(value, fmt) if x.model_based else Derived(value, deps(x), fmt)

    page.heading("Costs of events prevented in the area", level=3)
    windows = list(dict.fromkeys((x.cost.first_month, x.cost.last_month) for x in events))
    for first, last in windows:
        wc = next(x.cost for x in events if (x.cost.first_month, x.cost.last_month) == (first, last))
        _text(page, f"Events counted from {first} to {last} ({wc.months} months) are set against what the strategy "
                    f"cost over those months: {_money(wc.total)} ({_money(wc.cash)} cash, {_money(wc.in_kind)} in "
                    f"kind; running costs spread evenly over each period's days, set-up costs in a period's first "
                    f"month)" + (f"; {_money(wc.left_out)} declared for other months is not counted" if wc.left_out
                                 else "") + "." + (f" Note: {wc.note}." if wc.note else ""))
    rows = []
    for x in events:
        k = x.cost_per_outcome
        per = (shown(k.cost_per_outcome, x, _money) if k.cost_per_outcome is not None else
               shown("no figure" if k.at_least is None else f"at least {_money(k.at_least)}", x, str))
        rows.append([Col(k.outcome, "outcome"), Col(x.age_group, "age group"),
                     Col(shown(k.outcomes.central, x, _n), "events", True),
                     Col(shown(_interval(k.outcomes.low, k.outcomes.high, _n), x, str), "events_interval", True),
                     Col(Fixed(k.total_cost, _money), "cost", True),
                     Col(per, "cost_per_event", True),
                     Col(shown(_interval(k.ci_low, k.ci_high, _money), x, str), "interval", True)])
    page.table(["outcome", "age group", "events prevented", "95% interval", "cost over the months",
                "cost per event prevented", "95% interval"], rows, table_id="ek-vfm-area-events", secondary=(1,))
    items = []
    for x in events:
        k = x.cost_per_outcome
        # the cost per outcome's note quotes the events' interval: withheld with them
        words = (_esc(f"{k.outcome}: events = {x.how}; interval: {x.interval_words}. Cost per event: {k.method_text}.")
                 + (" {note}" if k.note else "") + _esc(f" Caution: {x.note}." if x.note else ""))
        items.append(Phrase(words, {"note": shown(k.note, x, str)} if k.note else {}))
    page.add(Bullets(items))

    money = [x for x in events if x.monetised is not None]
    if money:
        page.heading("Costs of crime avoided", level=3)
        rows = []
        for x in money:
            m = x.monetised
            rows.append([Col(m.outcome, "outcome"), Col(m.offence_label, "valued as"),
                         Col(Fixed(m.unit_cost, _money), "unit_cost", True),
                         Col(shown(m.benefit, x, _money), "benefit", True),
                         Col(shown(_interval(m.benefit_low, m.benefit_high, _money), x, str), "benefit_interval", True),
                         Col(shown(m.net_benefit, x, _money), "net_benefit", True),
                         Col(shown(_interval(m.net_benefit_low, m.net_benefit_high, _money), x, str), "net_interval",
                             True),
                         Col(shown(m.bcr, x, _ratio), "bcr", True),
                         Col(shown(_interval(m.bcr_low, m.bcr_high, _ratio), x, str), "bcr_interval", True)])
        page.table(["outcome", "valued as", f"unit cost ({a.analysis_year})", "benefit", "95% interval",
                    "net benefit", "95% interval", "benefit-cost ratio", "95% interval"], rows,
                   table_id="ek-vfm-benefit", secondary=(1,), print_columns=(0, 2, 3, 5, 7, 8))
        for x in money:
            m = x.monetised
            valuation = (x.valuation_note[:1].upper() + x.valuation_note[1:]) if x.valuation_note else \
                f"Each {m.outcome.split(':')[0]} is valued as one {m.offence_label.lower()} offence ({m.table})"
            # whether the benefit's interval includes none says something of the withheld figures: withheld too
            note = m.note.replace("the programme may not", "the strategy may not").rstrip(".")
            _para(page, _esc(f"{m.outcome}: ") + "{bcr} pounds of crime avoided for every pound spent (95% interval "
                        "{bcr_ci}). " + _esc(f"{valuation}; unit cost {_money(m.unit_cost_price_year)} in "
                                             f"{m.table_price_year} prices, x {m.uplift_factor:.4f} to "
                                             f"{a.analysis_year}. Intervals: {m.method_text}.")
                  + (" Note: {note}." if note else ""),
                  bcr=shown(m.bcr, x, _ratio), bcr_ci=shown(_interval(m.bcr_low, m.bcr_high, _ratio), x, str),
                  **({"note": shown(note, x, str)} if note else {}))
        first = money[0].monetised
        page.add(Bullets([Phrase(_esc("Counted: " + "; ".join(first.counted) + ".")),
                          Phrase(_esc("Not counted: " + "; ".join(first.not_counted) + "."))]))
        _text(page, "The outcomes overlap (a hospital admission for a knife assault is usually also a recorded knife "
                    "offence, a homicide with a knife is one too, and under-25s are part of all ages), so their "
                    "benefits must not be added together: each ratio is the strategy's whole cost against one "
                    "outcome's events.", style="note")
        _text(page, "A benefit-cost ratio from the unit costs of crime is a social value, not a cash saving: it "
                    "includes the harm to victims and their lost output, which no public budget pays, and police "
                    "or NHS budgets do not shrink by the unit cost when one offence is avoided.", style="note")
    unvalued = [x for x in events if x.monetised is None]
    for x in events:
        _sensitivity(page, x.sensitivity, _area_key(x), deps(x))
    notes = [f"Not valued: {x.cost_per_outcome.outcome} ({x.not_valued})." for x in unvalued]
    notes += [f"Not costed: {n.label} ({n.reason})." for n in a.not_costed]
    if notes:
        page.add(Bullets([Phrase(_esc(t)) for t in notes]))
    _text(page, AREA_LIMITS, style="note")


def _valuation(c) -> str:
    m = c.monetised
    if c.valuation_note:
        return c.valuation_note[:1].upper() + c.valuation_note[1:]
    return f"Each {m.outcome} is valued as one {m.offence_label.lower()} offence ({m.table})"


def _esc_words(estimand: str) -> str:
    return {"att": "matched ATT (difference in proportions)", "did_att": "DiD ATT", "itt": "ITT",
            "ate": "ATE", "change_in_proportion": "change in proportion (pre/post)",
            "reliable_change": "reliable improvement (pre/post)"}.get(estimand, estimand.replace("_", " "))


def rating_words(rating) -> str:
    """The cost rating in words, with who published its bands."""
    if rating.rating is None:
        return f"Cost rating: not rated ({rating.note})."
    who = ("EIF's published bands" if rating.published_by == "EIF" else
           "a toolkit default (evalkit's own bands, not EIF's)")
    basis = "started" if rating.basis == "per_participant_started" else "completed"
    limit = f"up to {_money(rating.band_up_to)}" if rating.band_up_to is not None else "above the top limit"
    return (f"Cost rating: {rating.rating} ({rating.label}; the scale runs from 1, lowest cost, to 5, highest), read "
            f"from the full cost per participant who {basis}, in {rating.bands_price_year} prices: {_money(rating.value)}, "
            f"band {limit}. Bands: {who}, cost rules version {rating.rules_version}.")


def cost_rating(rep) -> None:
    """The cost rating line (shown in this section and beside the evidence level). The rating is read
    from the cost per participant, so it is hidden with the count of those who started."""
    a = assessment_of(rep.C)
    if a is None:
        return
    if a.summary.overall.started is None and a.area_events:
        _text(rep.page, "Cost rating: not rated (a whole-area strategy has no participants, so it has no cost per "
                        "participant to rate; its costs are set against the events prevented in the area, in the "
                        "Value for money section).")
        return
    started = rep.page.ledger.get(_key(a.intervention, "all", "started"))
    _para(rep.page, "{words}", words=Derived(rating_words(a.rating), [started]))
