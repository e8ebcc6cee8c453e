"""Feasibility study with progression criteria (evalkit.estimate.feasibility), options in ``feasibility``."""

from __future__ import annotations

from evalkit.spec import raw as r
from evalkit.spec.designs import DesignEntry, EvidenceFacts, PlanCheck, ReportFacts, ReportSection
from evalkit.spec.raw import Design, Feasibility

# metrics that are shares (thresholds between 0 and 1), and those where lower is better
FEASIBILITY_SHARES = frozenset(r.FeasibilityMetric) - {
    r.FeasibilityMetric.referrals_vs_target, r.FeasibilityMetric.starts_vs_target,
    r.FeasibilityMetric.dose_hours, r.FeasibilityMetric.median_days_to_first_contact}
FEASIBILITY_LOWER_IS_BETTER = frozenset({r.FeasibilityMetric.median_days_to_first_contact})


def feasibility_better(criterion: r.ProgressionCriterion) -> r.Better:
    """Which way is better for a criterion: as written, else the metric's own direction."""
    if criterion.better is not None:
        return criterion.better
    return r.Better.lower if criterion.metric in FEASIBILITY_LOWER_IS_BETTER else r.Better.higher


def _feasibility_needs(fz: r.Feasibility, metric: r.FeasibilityMetric) -> list[tuple[bool, str]]:
    """(present?, what the plan must name) for each input a metric is computed from."""
    M, cases, tg, ses = r.FeasibilityMetric, fz.cases, fz.targets, fz.sessions
    contact = (cases.first_contact is not None or ses is not None,
               "feasibility.cases.first_contact or feasibility.sessions")
    return {
        M.referrals_vs_target: [(tg.referrals is not None, "feasibility.targets.referrals")],
        M.eligibility_rate: [(cases.eligible is not None, "feasibility.cases.eligible")],
        M.consent_rate: [(cases.consented is not None, "feasibility.cases.consented")],
        M.start_rate: [(cases.started is not None, "feasibility.cases.started")],
        M.starts_vs_target: [(cases.started is not None, "feasibility.cases.started"),
                             (tg.starts is not None, "feasibility.targets.starts")],
        M.retention_rate: [],
        M.completion_rate: [(cases.completed is not None, "feasibility.cases.completed")],
        M.dose_sessions: [(ses is not None, "feasibility.sessions"),
                          (tg.sessions is not None or cases.sessions_planned is not None,
                           "feasibility.targets.sessions or feasibility.cases.sessions_planned")],
        M.dose_hours: [(ses is not None and ses.hours is not None, "feasibility.sessions.hours"),
                       (tg.contact_hours is not None, "feasibility.targets.contact_hours")],
        M.fidelity: [(ses is not None and ses.fidelity is not None, "feasibility.sessions.fidelity")],
        M.median_days_to_first_contact: [contact],
        M.contact_within_target: [contact, (tg.days_to_first_contact is not None,
                                            "feasibility.targets.days_to_first_contact")],
        M.baseline_completeness: [],
        M.follow_up_completeness: [],
        M.acceptability: [(cases.acceptability is not None, "feasibility.cases.acceptability")],
    }[metric]


def checks(plan: PlanCheck) -> None:
    """The feasibility block: its criteria's thresholds and directions, the data each metric needs, and
    the sample-size planning (a published feasibility study's block is checked too)."""
    raw, timepoints, err, warn = plan.plan, plan.timepoints, plan.err, plan.warn
    fz = raw.feasibility
    if fz is None and raw.external is None:
        err(("feasibility",), "required key is missing", "nothing",
            "feasibility: {cases: {referral_date: ...}, criteria: [...]}")
    if fz is None:
        return
    if fz.recruitment is not None and fz.recruitment.end < fz.recruitment.start:
        err(("feasibility", "recruitment"), "the recruitment window is reversed",
            f"start {fz.recruitment.start}, end {fz.recruitment.end}", "start on or before end")
    if fz.acceptable_from is not None and fz.cases.acceptability is None:
        warn(("feasibility", "acceptable_from"), "ignored: no acceptability column",
             "acceptable_from without feasibility.cases.acceptability", "the survey item's column")
    M = r.FeasibilityMetric
    completeness = (M.baseline_completeness, M.follow_up_completeness)
    seen: set[tuple[str, str | None]] = set()
    for i, c in enumerate(fz.criteria):
        base = ("feasibility", "criteria", i)
        name = c.metric.value
        key = (name, c.indicator if c.metric in completeness else None)
        if key in seen:
            err(base + ("metric",), "the same criterion is listed twice",
                f"'{name}'" + (f" for '{key[1]}'" if key[1] else ""), "each metric once (per indicator)")
        seen.add(key)
        better = feasibility_better(c)
        natural = r.Better.lower if c.metric in FEASIBILITY_LOWER_IS_BETTER else r.Better.higher
        if c.better is not None and c.better is not natural:
            warn(base + ("better",), f"unusual direction for '{name}'", f"better: {c.better.value}",
                 f"better: {natural.value} (or leave it out)")
        if better is r.Better.higher and c.amber > c.green:
            err(base + ("amber",), f"amber threshold is above green for '{name}', where higher is better",
                f"amber {c.amber:g} > green {c.green:g}", "amber at or below green (red is below amber)")
        elif better is r.Better.lower and c.amber < c.green:
            err(base + ("amber",), f"amber threshold is below green for '{name}', where lower is better",
                f"amber {c.amber:g} < green {c.green:g}", "amber at or above green (red is above amber)")
        elif c.amber == c.green:
            warn(base + ("amber",), f"no amber band for '{name}'", f"amber = green = {c.green:g}",
                 "amber a little worse than green, so 'progress with changes' can happen")
        for key_name in ("green", "amber"):
            value = getattr(c, key_name)
            if c.metric in FEASIBILITY_SHARES and not 0 <= value <= 1:
                err(base + (key_name,), f"'{name}' is a share, so its thresholds are shares",
                    f"{value:g}", "a value between 0 and 1 (e.g. 0.7 for 70%)")
            elif value < 0:
                err(base + (key_name,), f"a threshold for '{name}' cannot be negative", f"{value:g}", "0 or more")
        for present, needed in _feasibility_needs(fz, c.metric):
            if not present:
                err(base + ("metric",), f"metric '{name}' has no data to be computed from",
                    f"no {needed}", f"{needed} in the plan (or drop this criterion)")
        if c.metric in completeness:
            ind_id = c.indicator or raw.primary_outcome
            tp = timepoints.get(ind_id)
            if tp is None:
                err(base + ("indicator",), "completeness is measured for an indicator in timepoints",
                    f"'{ind_id}'", "one of " + (", ".join(timepoints) or "(no timepoints)"))
            elif c.metric is M.baseline_completeness and tp.baseline is None:
                err(base + ("indicator",), f"indicator '{ind_id}' has no baseline column",
                    ", ".join(tp.columns), "timepoints.<indicator>.baseline")
        elif c.indicator is not None:
            warn(base + ("indicator",), f"ignored: '{name}' is not measured per indicator",
                 f"indicator '{c.indicator}'", "indicator only with baseline/follow_up_completeness")
    from evalkit.spec.resolve import check_sheet  # resolve imports the registry, which is loading this module

    check_sheet(("feasibility", "sessions"), fz.sessions, warn)
    pl = fz.planning
    if pl is None and raw.cluster is not None and not plan.external:
        err(("cluster",), "not used without feasibility.planning (the cluster column gives the ICC of the "
            "efficacy study's sample size)", f"'{raw.cluster}'", "feasibility.planning, or no cluster")
    if pl is not None:
        if (pl.effect_size is None) == (pl.difference is None):
            err(("feasibility", "planning"), "planning needs the effect to detect, in one form",
                "both effect_size and difference" if pl.effect_size else "neither effect_size nor difference",
                "effect_size (standardised) or difference (in the outcome's units)")
        if pl.icc is not None and pl.cluster_size is None:
            err(("feasibility", "planning", "cluster_size"), "an ICC needs the cluster size it applies to",
                "no cluster_size", "recruits per school or area")
        if pl.cluster_size is not None and pl.icc is None and raw.cluster is None:
            err(("feasibility", "planning", "icc"), "no ICC to go with the cluster size", "no icc and no cluster column",
                "planning.icc, or the plan's cluster column to estimate it from")


DESIGN = DesignEntry(
    conventions={None: "wilson_score"},
    design=Design.feasibility, analysis="feasibility", options_section="feasibility", options_model=Feasibility,
    options_ignored="is not a feasibility study", options_external=True, checks=checks,
    # the cluster column gives the ICC of the sample-size planning
    options=frozenset({"cluster"}),
    sections=("feasibility", "delivery"),
    evidence_class="feasibility", words="feasibility study",
    report=ReportFacts(words="feasibility study", analysed_has_both_measures=True, outcome_flow_column=True,
                       criteria_not_tests=True),
    report_sections=(ReportSection("feasibility", "Feasibility criteria", "sec-feasibility",
                                   "evalkit.report.sections:feasibility", place="before_results"),),
    evidence=EvidenceFacts(
        counts_participants=False, sample_size_not_applicable="a feasibility study: sample size is planned, not tested",
        effects_not_applicable="a feasibility study measures delivery, not effects", pathway_section="feasibility"))
