"""Value for money of one evaluation: its intervention's declared costs against the effects it found.

:func:`assess` is the one place that decides which effects are costed and how; the report's
"Value for money" section, the portfolio page, ``evalkit compare`` and the dashboard read its
records. The rule, the same for every design:

    outcomes = effect per participant x the participants the costs paid for (those who started)

so the cost per outcome is the cost per participant divided by the effect per participant, and
does not depend on how many people the study happened to analyse. Which effect per participant:

- a binary indicator (suspended, re-attended A&E): the main difference in proportions the design
  estimates (matched ATT, DiD ATT, a trial's ITT; for a pre/post study the change in the
  proportion, which has no comparison group and is marked descriptive);
- a count per person and period in a difference-in-differences design (offences per person-month):
  the DiD ATT x the mean number of post-treatment periods per treated unit (from the group-time
  section), i.e. the events avoided per treated person over the study's follow-up;
- reliable change in a score (pre/post): the share who improved reliably (Wilson interval);
  descriptive, as the study has no comparison group;
- anything else (a mean change in a score, a time series' level change, a feasibility rate) is
  listed as not costed, with the reason.

An effect on offences, admissions or homicides is also valued with the unit costs of crime when the
logic model's ``costs.outcomes`` names an offence (``valued_as``), or when the indicator is one of
the success measures with a default valuation (knife_admissions, knife_sv, homicides).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from evalkit.result_sections import given, section_record
from evalkit.vfm import results as res
from evalkit.vfm.effects import Effect, EffectScale, GoodWhen, effect_from_reliable_change
from evalkit.vfm.errors import VfmError

# estimands that are a difference per participant, best first (the design's headline estimand)
DIFFERENCES = ("att", "itt", "ate", "did_att", "change_in_proportion")
CAUSAL = {"att": True, "itt": True, "ate": True, "did_att": True, "change_in_proportion": False}
METHOD = "fieller"


@dataclass(frozen=True)
class CostedOutcome:
    indicator: str
    label: str
    estimand: str
    comparison_group: bool  # False: a before-and-after count, descriptive only
    per_participant: str  # how the effect per participant was read, in words
    cost_per_outcome: res.CostPerOutcome
    sensitivity: res.SensitivityTable
    monetised: res.Monetised | None
    valuation_note: str = ""


@dataclass(frozen=True)
class NotCosted:
    indicator: str
    label: str
    reason: str


@dataclass(frozen=True)
class Assessment:
    intervention: str
    evaluation: str | None
    analysis_year: str
    summary: res.CostSummary
    rating: res.CostRating
    outcomes: tuple[CostedOutcome, ...]
    not_costed: tuple[NotCosted, ...]
    participants_from: str  # where the participant counts come from, in words
    illustrative: bool
    # a whole-area strategy's evaluation (comparison areas, a time series): each outcome's events spared in
    # the area against the strategy's cost over the same months (evalkit.vfm.area)
    area_events: tuple = ()
    # participant counts declared and counted from the plan's data or the store that disagree
    participant_checks: tuple = ()  # of evalkit.vfm.participants.Disagreement


def participants_words(costs, counted=None) -> str:
    declared = ("participants as declared for each cost period in the logic model's costs block (those who started, "
                "and of them those who completed)")
    if counted is None:
        return declared
    return "counted, " + "; ".join(counted.words) + (
        "; the other counts as declared in the logic model's costs block"
        if any(getattr(p, w) is not None and getattr(p, f"{w}_from") is None
               for p in costs.periods for w in ("started", "completed")) else "")


def cost_summary(costs, intervention: str, counted=None):
    from evalkit.vfm.costs import summarise_costs

    return summarise_costs(costs, intervention=intervention, analysis_year=costs.report_year,
                           counted=counted.by_period if counted is not None else None)


def counted_for(project, logic_model):
    """The participants the costs say to count (from the plan's data or the store), or None."""
    from evalkit.vfm.participants import count_participants

    return count_participants(project, logic_model) if project is not None else None


def assess_costs(logic_model, project=None) -> Assessment | None:
    """Costs, cost per participant and cost rating of an intervention, without an evaluation (with
    ``project``, participants the costs say to count are counted from the plan's data or the store)."""
    from evalkit.vfm.cost_rating import rate_cost

    costs = logic_model.costs
    if costs is None:
        return None
    counted = counted_for(project, logic_model)
    summary = cost_summary(costs, logic_model.id, counted)
    return Assessment(logic_model.id, None, summary.analysis_year, summary, rate_cost(summary), (), (),
                      participants_words(costs, counted), costs.illustrative,
                      participant_checks=counted.disagreements if counted else ())


def _entry(result, key: str, indicator: str):
    """The typed entry of ``indicator`` in the per-indicator section ``key`` (evalkit.result_sections),
    None where the results hold none."""
    data = (result.sections or {}).get(key)
    if not isinstance(data, Mapping) or not isinstance(data.get(indicator), Mapping):
        return None
    return section_record(key, data).entry(indicator)


def _mean_post_periods(section) -> float | None:
    """Mean post-treatment periods per treated unit, from an indicator's group-time entry (cohort sizes x
    cells; evalkit.result_sections.GroupTimeEntry, None without one)."""
    if section is None:
        return None
    sizes = given(section, "cohorts") or {}
    rows = given(section, "by_cohort") or []
    total_units = total_cells = 0.0
    for row in rows:
        n = sizes.get(str(row.get("cohort_label"))) if isinstance(sizes, Mapping) else None
        cells = row.get("cells")
        if not isinstance(n, (int, float)) or not isinstance(cells, (int, float)):
            return None
        total_units += n
        total_cells += n * cells
    return total_cells / total_units if total_units else None


def _effect_for(result, indicator, started: int, outcome: str) -> tuple[Effect, str, str] | str:
    """(effect, estimand, how it was read), or the reason the indicator is not costed."""
    kind = indicator.type.value
    good = GoodWhen.increase if indicator.good_when_higher else GoodWhen.decrease
    rows = {e.estimand: e for e in result.estimates if e.indicator == indicator.id and e.subgroup == "all"}
    if kind == "binary":
        for estimand in DIFFERENCES:
            e = rows.get(estimand)
            if e is not None and e.ci_low is not None and e.ci_high is not None:
                effect = Effect(outcome, e.estimate, e.ci_low, e.ci_high, EffectScale.difference, good, n=started,
                                ci_level=e.ci_level or 0.95, source=f"{result.evaluation}: {indicator.id} {estimand}")
                how = ("the change in the proportion from before to after, per participant"
                       if estimand == "change_in_proportion" else
                       "the difference in the proportion from the comparison group, per participant")
                return effect, estimand, how
        return "no difference in proportions with a confidence interval in the results"
    if kind in ("count", "rate") and "did_att" in rows and result.design == "difference_in_differences":
        e = rows["did_att"]
        per_unit = _mean_post_periods(_entry(result, "group_time", indicator.id))
        if per_unit is None or e.ci_low is None:
            return "the results do not say how many periods each treated unit was followed after it started"
        effect = Effect(outcome, e.estimate * per_unit, e.ci_low * per_unit, e.ci_high * per_unit,
                        EffectScale.difference, good, n=started, ci_level=e.ci_level or 0.95,
                        source=f"{result.evaluation}: {indicator.id} did_att x {per_unit:g} periods")
        return effect, "did_att", (f"the DiD effect per person and period x {per_unit:g} periods of follow-up per "
                                   f"treated person (mean over cohorts)")
    if kind == "score":
        rc = _entry(result, "reliable_change", indicator.id)
        if rc is not None and given(rc, "n"):
            share = effect_from_reliable_change(rc, outcome=outcome, level=0.95, source=result.evaluation)
            effect = Effect(outcome, share.estimate, share.ci_low, share.ci_high, EffectScale.difference,
                            GoodWhen.increase, n=started, ci_level=share.ci_level, source=share.source)
            return effect, "reliable_change", "the share who improved reliably (Wilson interval), per participant"
        return "a change in a score is not a count of outcomes; a cost per reliable improvement needs reliable change"
    if result.design == "interrupted_time_series":
        return "a time series' change in level or slope is not yet turned into events avoided with an interval"
    return f"a {kind} indicator with no difference per participant to cost"


def assess(logic_model, result, project=None) -> Assessment | None:
    """The value for money of one evaluation (``result``: its :class:`~evalkit.results.ResultSet`); with
    ``project``, participants the costs say to count are counted from the plan's data or the store."""
    from evalkit.vfm.cost_rating import rate_cost
    from evalkit.vfm.crime_costs import default_valuation, monetise
    from evalkit.vfm.ratio import cost_per_outcome
    from evalkit.vfm.sensitivity import sensitivity_table

    costs = logic_model.costs
    if costs is None:
        return None
    counted = counted_for(project, logic_model)
    summary = cost_summary(costs, logic_model.id, counted)
    checks = counted.disagreements if counted else ()
    year = summary.analysis_year
    from evalkit.vfm import area

    if area.covers(result):
        events, skipped_area = area.area_events(logic_model, result, analysis_year=year)
        return Assessment(logic_model.id, result.evaluation, year, summary, rate_cost(summary), (),
                          tuple(NotCosted(i, i, why) for i, why in skipped_area), participants_words(costs),
                          costs.illustrative, area_events=events, participant_checks=checks)
    total = summary.overall.total
    started = summary.overall.started
    costed: list[CostedOutcome] = []
    skipped: list[NotCosted] = []
    indicators = [i for i in logic_model.indicators.values()
                  if any(e.indicator == i.id for e in result.estimates)]
    for ind in indicators:
        chosen = costs.outcomes.get(ind.id)
        offence, valuation = (chosen.valued_as if chosen else None), ""
        if offence is None:
            try:
                default = default_valuation(ind.id)
                offence, valuation = default.offence, f"{default.valuation} (toolkit default)"
            except VfmError:
                pass
        outcome = chosen.outcome if chosen else (
            "reliable improvement" if ind.type.value == "score" else
            f"{'one more' if ind.good_when_higher else 'one fewer'}: {ind.label[:1].lower()}{ind.label[1:]}")
        if not started or total <= 0:
            skipped.append(NotCosted(ind.id, ind.label, "no participants or no costs declared"))
            continue
        got = _effect_for(result, ind, started, outcome)
        if isinstance(got, str):
            skipped.append(NotCosted(ind.id, ind.label, got))
            continue
        effect, estimand, how = got
        cpo = cost_per_outcome(total, effect, method=METHOD, analysis_year=year)
        money = None
        unit = None
        if offence is not None and ind.type.value != "score":
            money = monetise(effect, offence=offence, total_cost=total, analysis_year=year, method=METHOD,
                             valuation=valuation or None)
            unit = money.unit_cost
        elif offence is not None:
            valuation = ""
        table = sensitivity_table(total, effect, unit_value=unit, analysis_year=year)
        costed.append(CostedOutcome(ind.id, ind.label, estimand, CAUSAL.get(estimand, False), how, cpo, table, money,
                                    valuation))
    return Assessment(logic_model.id, result.evaluation, year, summary, rate_cost(summary), tuple(costed),
                      tuple(skipped), participants_words(costs, counted), costs.illustrative,
                      participant_checks=checks)


def as_plain(assessment: Assessment) -> dict:
    return res.as_plain(assessment)


def costs_problems(doc, logic_model) -> list:
    """What the spec layer cannot check in a logic model's costs (it reads nothing of evalkit.vfm): each
    ``valued_as`` must be an offence the unit-cost table prices. One problem per offence, with its line."""
    from evalkit.errors import Problem
    from evalkit.spec.yamlio import format_path
    from evalkit.vfm.crime_costs import load_crime_costs

    costs = logic_model.costs
    if costs is None or not any(c.valued_as for c in costs.outcomes.values()):
        return []
    table = load_crime_costs()
    priced = [k for k, o in table.offences.items() if o.unit_cost is not None]
    out = []
    for ind, costing in costs.outcomes.items():
        offence = costing.valued_as
        if offence is None or offence in priced:
            continue
        path = ("costs", "outcomes", ind, "valued_as")
        known = table.offences.get(offence)
        why = ("the unit-cost table has no confirmed figure for this offence" if known is not None else
               "the unit-cost table has no such offence")
        out.append(Problem(doc.file, doc.line_of(path), format_path(path), why,
                           found=f"'{offence}' ({table.label})", expected="one of " + ", ".join(priced)))
    return out
