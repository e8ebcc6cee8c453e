"""Study assessment: a design class, a Maryland SMS level and quality checks for one study.

Every check is computed from the study's :class:`~evalkit.results.ResultSet` (estimates, flow,
sections) and what its plan and logic model say (evaluator, follow-up, indicators), never typed
in by hand. Each check is ``passed``, ``failed``, ``unknown`` (the results or the record are
silent) or ``not_applicable`` (e.g. baseline equivalence for a study without a comparison
group), with the evidence in words and the rules it used. A section a design did not write is
"unknown", never an error: designs are added over time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from evalkit.evidence.errors import EvidenceError
from evalkit.evidence.rules import Rules, load_rules
from evalkit.result_sections import ABSENT, PerIndicator, SectionRecord
from evalkit.spec.designs import REGISTRY, EvidenceFacts, resolve
from evalkit.verdict import EVIDENCE_WORDS, SignificanceRule, judge

PASSED, FAILED, UNKNOWN, NA = "passed", "failed", "unknown", "not_applicable"
# design -> (design class, words)
DESIGNS = {d.value: (e.evidence_class, e.words) for d, e in REGISTRY.items()}  # the design registry's
COMPARATIVE = tuple(d.value for d, e in REGISTRY.items() if e.comparative)
# design -> how the rating treats it where it is not the default (each entry's EvidenceFacts)
FACTS = {d.value: e.evidence for d, e in REGISTRY.items()}


def _facts(context) -> EvidenceFacts:
    return FACTS.get(context.design) or EvidenceFacts()
# the one estimate per indicator a study is judged on (not event-time cells, not slopes)
HEADLINE_ESTIMANDS = ("reported", "att", "ate", "did_att", "itt", "risk_ratio", "mean_change", "change_in_proportion",
                      "rate_ratio", "level_change")
P_KINDS = {"p-value": "p", "Holm p-value": "Holm p", "confidence interval": "CI", "none": "p"}
CHECK_LABELS = {
    "causal_design": "causal design",
    "sample_size": "sample size per arm",
    "attrition": "attrition (WWC boundary)",
    "baseline_equivalence": "baseline equivalence",
    "parallel_trends": "parallel pre-trends",
    "validated_measures": "valid outcome measure",
    "intention_to_treat": "intention-to-treat",
    "robustness": "robustness checks",
    "child_outcome_effect": "significant improvement in a child outcome",
    "follow_up": "follow-up after the programme ended",
    "independent_evaluator": "independent evaluator",
}
FOLLOW_UP_RE = re.compile(r"^follow_up_(\d+)m$")


@dataclass(frozen=True)
class IndicatorFacts:
    """What the logic model says about one indicator, as the assessment needs it."""

    id: str
    label: str = ""
    child_outcome: bool | None = None
    source: str | None = None
    instrument: str | None = None
    validated: bool | None = None
    node_kind: str | None = None  # activity | output | outcome | impact
    eif_outcome: str | None = None  # the EIF child-outcome category, if any

    def role(self) -> str:
        """Why this indicator does or does not carry a level, in words."""
        if self.child_outcome:
            return f"child outcome ({(self.eif_outcome or '').replace('_', ' ')})"
        if self.node_kind in ("activity", "output"):
            return f"not a child outcome: measures an {self.node_kind}"
        if self.child_outcome is False:
            return "not a child outcome: no EIF outcome category (an attitude or intermediate measure)"
        return "child outcome not known"


@dataclass(frozen=True)
class StudyContext:
    """What a study's plan says that its results do not. Fields left None are 'unknown'."""

    evaluation: str
    intervention: str
    design: str
    title: str = ""
    stage: str | None = None
    evaluator: str | None = None
    independent: bool | None = None
    follow_up_months: int | None = None
    primary_outcome: str | None = None
    indicators: Mapping[str, IndicatorFacts] = field(default_factory=dict)
    external: bool = False
    study: str | None = None  # declared study (sample) id
    study_role: str = "main"  # main | sensitivity
    follow_up_from: str = "start"  # start | programme_end
    duration_months: float | None = None  # the intervention's length (logic model)
    record_status: str | None = None  # external records: reported | unverified | illustrative
    citation: str | None = None  # external records: the study's citation


def context_from_plan(evaluation) -> StudyContext:
    """The context of a resolved :class:`~evalkit.spec.model.Evaluation`."""
    indicators = {}
    for ind in evaluation.intervention.indicators.values():
        inst = ind.instrument
        indicators[ind.id] = IndicatorFacts(
            id=ind.id, label=ind.label, child_outcome=ind.child_outcome, source=ind.source.value,
            instrument=inst.name if inst else None, validated=inst.validated if inst else None,
            node_kind=ind.measures.kind, eif_outcome=ind.eif_outcome.value if ind.eif_outcome else None)
    ext = evaluation.external
    return StudyContext(
        evaluation=evaluation.id, intervention=evaluation.intervention.id, design=evaluation.design.value,
        title=evaluation.title, stage=evaluation.stage.value, evaluator=evaluation.evaluator.name,
        independent=evaluation.evaluator.independent, follow_up_months=evaluation.follow_up_months,
        primary_outcome=evaluation.primary_outcome.id, indicators=indicators,
        external=evaluation.is_external, study=evaluation.study, study_role=evaluation.study_role.value,
        follow_up_from=evaluation.follow_up_from.value, duration_months=evaluation.intervention.duration_months,
        record_status=ext.status.value if ext is not None else None,
        citation=ext.citation if ext is not None else None)


def context_from_results(result) -> StudyContext:
    """A context from the results alone (the manifest's options); evaluator and indicators unknown."""
    options = dict(getattr(result.manifest, "options", {}) or {})
    ext = _section(result, "external")
    return StudyContext(
        evaluation=result.evaluation, intervention=result.intervention, design=result.design, title=result.title,
        stage=options.get("stage"), follow_up_months=options.get("follow_up_months"),
        primary_outcome=options.get("primary_outcome"), external=ext is not None,
        study=options.get("study"), study_role=options.get("study_role") or "main",
        follow_up_from=options.get("follow_up_from") or "start",
        record_status=_get(ext, "status", default="reported") if ext is not None else None,
        citation=_get(ext, "citation") if ext is not None else None)


@dataclass(frozen=True)
class Check:
    id: str
    label: str
    status: str  # passed | failed | unknown | not_applicable
    evidence: str
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutcomeVerdict:
    """One headline estimate judged: positive, null, harmful or unknown."""

    indicator: str
    label: str
    child_outcome: bool | None
    primary: bool
    verdict: str
    estimate: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_kind: str  # "p", "Holm p", "CI"
    n: int
    units: str
    estimand: str
    follow_up_months: int | None
    effect_size: Mapping[str, Any] | None
    ci_level: float = 0.95
    months_after_end: float | None = None  # the follow-up counted from the end of the intervention
    role: str = ""  # child outcome, or why not (output, attitude...)

    def words(self) -> str:
        level = f"{self.ci_level * 100:g}%"
        ci = f", {level} CI {_num(self.ci_low)} to {_num(self.ci_high)}" if self.ci_low is not None else ""
        p = f", {self.p_kind} {_p(self.p_value)}" if self.p_value is not None else ""
        return f"{self.indicator} {_num(self.estimate)} {self.units}{ci}{p}".replace("  ", " ")


@dataclass(frozen=True)
class StudyAssessment:
    evaluation: str
    intervention: str
    title: str
    design: str
    design_class: str
    design_words: str
    sms: int | None  # None: no SMS level (a feasibility study)
    sms_rule: str
    stage: str | None
    external: bool
    evaluator: str | None
    independent: bool | None
    checks: tuple[Check, ...]
    effect: str  # positive | null | harmful | unknown | none (no child outcome)
    outcomes: tuple[OutcomeVerdict, ...]
    effect_outcome: OutcomeVerdict | None  # the one the verdict rests on
    follow_up_months: int | None
    participants: int | None  # treated (or the one group) analysed
    rigorous: bool  # of Level-3 quality, whatever the effect
    supports: str  # "3", "2" or "NL2": the level this study alone supports
    blocking: Mapping[str, tuple[str, ...]]  # level -> checks that stop this study supporting it
    feasibility: Mapping[str, Any] | None = None  # a feasibility study's verdict on moving on
    months_after_end: float | None = None  # follow-up of the effect the verdict rests on, after the programme
    study_keys: tuple[str, ...] = ()  # what identifies its sample: declared study, data hash, units, citation
    study_role: str = "main"
    record_status: str | None = None  # external: reported | unverified | illustrative
    counted: bool = True  # False: an unverified or illustrative record, never in a published level

    def check(self, check_id: str) -> Check:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    @property
    def harm(self) -> tuple[OutcomeVerdict, ...]:
        return tuple(o for o in self.outcomes if o.verdict == "harmful" and o.child_outcome)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["blocking"] = {k: list(v) for k, v in self.blocking.items()}
        out["checks"] = [asdict(c) for c in self.checks]
        return out


def _check(cid: str, status: str, evidence: str, rules: tuple[str, ...]) -> Check:
    """A check under its one label (:data:`CHECK_LABELS`)."""
    return Check(cid, CHECK_LABELS[cid], status, evidence, rules)


def _num(x) -> str:
    if x is None:
        return "?"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _p(p) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _get(mapping, *keys, default=None):
    """The first of ``keys`` a section (a typed record or a JSON object) holds, else ``default``."""
    if isinstance(mapping, SectionRecord):
        for key in keys:
            value = getattr(mapping, key)  # a field the record does not declare fails here, in a test
            if value is not ABSENT:
                return value
        return default
    for key in keys:
        if isinstance(mapping, Mapping) and key in mapping:
            return mapping[key]
    return default


def _section(result, key: str):
    """Section ``key`` of the results as its typed record (evalkit.result_sections), None if not written."""
    data = result.sections.get(key) if isinstance(result.sections, Mapping) else None
    return result.section(key) if isinstance(data, Mapping) else data


def _months_from_timepoints(timepoints: Iterable[str]) -> int | None:
    months = [int(m.group(1)) for t in timepoints if (m := FOLLOW_UP_RE.match(str(t)))]
    return max(months) if months else None


def _check_follow_up_value(evaluation: str, where: str, months) -> None:
    if months is None:
        return
    if isinstance(months, bool) or not isinstance(months, (int, float)) or months < 0:
        raise EvidenceError(f"{evaluation}: {where} is {months!r}; expected a follow-up of 0 or more months")


def validate_study(result, context: StudyContext) -> None:
    """Raise :class:`EvidenceError` for a study that cannot be rated as recorded."""
    design = context.design or result.design
    if design not in DESIGNS:
        raise EvidenceError(f"{context.evaluation}: design {design!r} cannot be rated; expected one of "
                            f"{', '.join(repr(d) for d in DESIGNS)}")
    _check_follow_up_value(context.evaluation, "follow_up_months", context.follow_up_months)
    ext = _section(result, "external")
    if ext is not None:
        _check_follow_up_value(context.evaluation, "external.follow_up_months", _get(ext, "follow_up_months"))
        reported = _get(ext, "results", default=None) or []
        if not reported:
            raise EvidenceError(f"{context.evaluation}: the external study reports no results; expected at "
                                "least one result with its indicator and estimate (external.results)")
        for i, res in enumerate(reported):
            name = _get(res, "indicator", default=f"result {i + 1}")
            if _get(res, "estimate") is None:
                raise EvidenceError(f"{context.evaluation}: external.results[{i}] ({name}) has no estimate; "
                                    "expected the reported effect (estimate, with ci or p_value)")
            _check_follow_up_value(context.evaluation, f"external.results[{i}].follow_up_months",
                                   _get(res, "follow_up_months"))
        if not result.estimates:
            raise EvidenceError(f"{context.evaluation}: the external study's results hold no estimates; "
                                "run it again with `evalkit run`")


# ---------------------------------------------------------------------------- outcomes


def _headline(result) -> list:
    seen, out = set(), []
    for e in result.estimates:
        if e.subgroup != "all" or e.estimand not in HEADLINE_ESTIMANDS or e.indicator in seen:
            continue
        seen.add(e.indicator)
        out.append(e)
    return out


def significance_rule(rules: Rules) -> SignificanceRule:
    """The rules file's significance threshold, as :func:`evalkit.verdict.judge` applies it."""
    return SignificanceRule(alpha=rules.value("significance_alpha"), holm=bool(rules.value("holm_adjusted_p")),
                            source=f"evidence rules ({rules.path}, version {rules.version})")


def months_after_end(months, context: StudyContext, rules: Rules) -> float | None:
    """A follow-up as months after the intervention ended (None when its length is not known)."""
    if months is None:
        return None
    if rules.value("follow_up_counts_from") == "start" or context.follow_up_from == "programme_end":
        return float(months)
    if context.duration_months is None:
        return None
    return float(months) - float(context.duration_months)


def _judge(e, facts: IndicatorFacts | None, primary: str | None, follow_up: int | None, rules: Rules,
           evaluation: str, context: StudyContext | None = None) -> OutcomeVerdict:
    j = judge(e, significance_rule(rules))
    verdict = EVIDENCE_WORDS[j.outcome]
    p, kind = j.p_value, P_KINDS[j.basis]
    months = _months_from_timepoints(e.timepoints)
    _check_follow_up_value(evaluation, f"estimate timepoints of {e.indicator}", months)
    es = asdict(e.effect_size) if e.effect_size is not None else None
    recorded = months if months is not None else follow_up
    return OutcomeVerdict(
        indicator=e.indicator, label=facts.label if facts else e.indicator,
        child_outcome=facts.child_outcome if facts else None, primary=e.primary or e.indicator == primary,
        verdict=verdict, estimate=e.estimate, ci_low=e.ci_low, ci_high=e.ci_high, p_value=p, p_kind=kind,
        n=e.n, units=e.units, estimand=e.estimand, follow_up_months=recorded,
        effect_size=es, ci_level=e.ci_level,
        months_after_end=months_after_end(recorded, context, rules) if context is not None else None,
        role=facts.role() if facts else "child outcome not known")


def _why_unknown(o: OutcomeVerdict) -> str:
    if o.child_outcome is None:
        return o.role or "child outcome not known"
    if o.p_value is None and o.ci_low is None:
        return "no p-value or CI"
    return "significant, but which direction is good is not known"


def _effect(outcomes: list[OutcomeVerdict], rules: Rules) -> tuple[str, OutcomeVerdict | None, Check]:
    rids = ("child_outcome_required", "significance_alpha", "holm_adjusted_p", "positive_on")
    considered = [o for o in outcomes if o.child_outcome is not False]
    if rules.value("positive_on") == "primary":
        considered = [o for o in considered if o.primary]
    primary = next((o for o in outcomes if o.primary), outcomes[0] if outcomes else None)
    if not outcomes:
        return "unknown", None, _check("child_outcome_effect", UNKNOWN,
                                       "the results hold no estimate of an effect on an outcome", rids)
    if not considered:
        return "none", primary, _check("child_outcome_effect", FAILED,
                                       "no child outcome among the results: "
                                       + "; ".join(f"{o.indicator} ({o.role})" for o in outcomes), rids)
    positive = [o for o in considered if o.verdict == "positive" and o.child_outcome]
    harmful = [o for o in considered if o.verdict == "harmful" and o.child_outcome]
    unknown = [o for o in considered if o.verdict == "unknown" or o.child_outcome is None]
    if positive:
        best = sorted(positive, key=lambda o: (not o.primary, -(o.follow_up_months or 0)))[0]
        extra = f"; harmful: {', '.join(o.words() for o in harmful)}" if harmful else ""
        return "positive", best, _check("child_outcome_effect", PASSED,
                                        f"improved: {best.words()}{extra}", rids)
    if harmful:
        return "harmful", harmful[0], _check("child_outcome_effect", FAILED,
                                             f"significant HARM: {', '.join(o.words() for o in harmful)}", rids)
    if unknown:
        why = ", ".join(f"{o.indicator} ({_why_unknown(o)})" for o in unknown)
        return "unknown", primary, _check("child_outcome_effect", UNKNOWN,
                                          f"cannot judge: {why}", rids)
    chosen = next((o for o in considered if o.primary), considered[0])
    return "null", chosen, _check("child_outcome_effect", FAILED,
                                  "no significant improvement: " + "; ".join(o.words() for o in considered), rids)


# ---------------------------------------------------------------------------- checks


def _arms(result, context: StudyContext, primary_estimate) -> dict[str, int | None]:
    design = context.design
    ext = _section(result, "external")
    if ext is not None:
        sample = _get(ext, "sample", default={}) or {}
        if design in COMPARATIVE:
            return {"treated": _get(sample, "treated"), "comparison": _get(sample, "comparison")}
        return {"treated": _get(sample, "treated")}
    e = primary_estimate
    if not _facts(context).counts_participants:
        # a population series, delivery records, or areas against areas: no analysed participants
        return {"treated": None}
    if design in COMPARATIVE:
        treated = e.n_treated if e is not None else None
        comparison = e.n_comparison if e is not None else None
        flows = {}
        for stage in ("matched", "analysed"):
            for s in result.flow:
                if s.stage == stage and s.indicator in (None, context.primary_outcome) and s.group in ("treated", "comparison"):
                    flows.setdefault(s.group, s.n)
        treated = treated if treated is not None else flows.get("treated")
        comparison = comparison if comparison is not None else flows.get("comparison")
        return {"treated": treated, "comparison": comparison}
    n = e.n if e is not None else None
    if n is None:
        n = next((s.n for s in result.flow if s.stage == "analysed" and s.group == "all"), None)
    return {"treated": n}


def _sample_check(arms, context, rules) -> Check:
    rid = ("min_n_per_arm",)
    minimum = rules.value("min_n_per_arm")
    if _facts(context).sample_size_not_applicable:
        return _check("sample_size", NA, _facts(context).sample_size_not_applicable, rid)
    if any(v is None for v in arms.values()):
        known = ", ".join(f"{k} {v}" for k, v in arms.items() if v is not None) or "none reported"
        return _check("sample_size", UNKNOWN, f"participants per arm not all known ({known})", rid)
    words = ", ".join(f"{k} {v}" for k, v in arms.items()) if len(arms) > 1 else f"{arms['treated']} analysed"
    small = [k for k, v in arms.items() if v < minimum]
    if small:
        return _check("sample_size", FAILED, f"too few participants: {words} (fewer than {minimum} "
                      f"in {', '.join(small)})", rid)
    return _check("sample_size", PASSED, f"{words} (at least {minimum} per arm)", rid)


def _attrition_values(result, context) -> tuple[Any, Any]:
    ext = _section(result, "external")
    section = _get(ext, "attrition") if ext is not None else _section(result, "attrition")
    if not isinstance(section, (Mapping, SectionRecord)):
        return None, None
    overall, differential = _get(section, "overall"), _get(section, "differential")
    # a design may report attrition per indicator: use the primary outcome's
    if isinstance(overall, Mapping):
        overall = _get(overall, context.primary_outcome or "", default=None)
    if isinstance(differential, Mapping):
        differential = _get(differential, context.primary_outcome or "", default=None)
    overall = overall if isinstance(overall, (int, float)) and not isinstance(overall, bool) else None
    differential = differential if isinstance(differential, (int, float)) and not isinstance(differential, bool) else None
    return overall, differential


def wwc_boundary(overall_pct: float, rules: Rules) -> float | None:
    """The largest differential attrition (points) still low at ``overall_pct``; None: high at any differential.

    Between whole percents the stricter of the two neighbouring rows applies.
    """
    import math

    kind = rules.value("attrition_boundary_kind")
    kind = "optimistic" if kind == "liberal" else kind
    rows = {r["overall"]: r[kind] for r in rules.value("wwc_attrition_boundary")}
    top = max(rows)
    if overall_pct > top:
        return None
    lo, hi = math.floor(overall_pct), math.ceil(overall_pct)
    values = [rows.get(lo), rows.get(hi)]
    if any(v is None for v in values):
        return None
    return float(min(values))


def _analysed_equivalence(result, context, rules) -> tuple[bool | None, str]:
    """Whether the analysed sample (after attrition) is shown equivalent at baseline, and how we know."""
    ext = _section(result, "external")
    if ext is not None:
        shown, sample = _get(ext, "baseline_equivalence"), _get(ext, "baseline_equivalence_sample")
        if shown is True and sample == "analysed":
            return True, "the study reports the analysed sample equivalent at baseline"
        if shown is False and sample == "analysed":
            return False, "the study reports the analysed sample differed at baseline"
        if shown is True:
            return None, ("the study reports baseline equivalence, but not of the analysed sample "
                          "(external.baseline_equivalence_sample: analysed says so)")
        return None, "the study record does not show the analysed sample's baseline equivalence"
    balance = _section(result, "balance")
    if isinstance(balance, SectionRecord):
        # a trial's balance table describes the randomised sample unless it says otherwise; a matched
        # design's describes the matched (analysed) sample
        sample = _get(balance, "sample")
        if sample == "analysed" or (_facts(context).balance_describes == "analysed" and sample is None):
            analysed = balance
        else:
            analysed = _get(balance, "analysed")  # the analysed sample's table, a JSON object
        if isinstance(analysed, (Mapping, SectionRecord)) and _get(analysed, "rows"):
            check = _baseline_check(result, context, rules, balance=analysed)
            if check.status == PASSED:
                return True, f"analysed sample: {check.evidence}"
            if check.status == FAILED:
                return False, f"analysed sample: {check.evidence}"
    return None, "no baseline balance of the analysed sample in the results"


def _attrition_checks(result, context, rules) -> list[Check]:
    """One check: low or high attrition against the WWC boundary; high passes only with equivalence."""
    rids = ("wwc_attrition_boundary", "attrition_boundary_kind", "high_attrition_needs_equivalence")
    overall, differential = _attrition_values(result, context)
    kind = rules.value("attrition_boundary_kind")
    if overall is None:
        return [_check("attrition", UNKNOWN, "overall attrition not reported in the results", rids)]
    if context.design not in COMPARATIVE:
        return [_check("attrition", NA, f"{overall:.0%} lost; one group: the WWC boundary is for two-group "
                       "designs", rids)]
    if differential is None:
        return [_check("attrition", UNKNOWN, f"{overall:.0%} lost overall; differential attrition not reported, "
                       "so low or high attrition cannot be judged", rids)]
    o_pct, d_pts = round(100 * overall, 6), round(100 * abs(differential), 6)
    limit = wwc_boundary(o_pct, rules)
    shown = f"{o_pct:.0f}" if o_pct == round(o_pct) else f"{o_pct:.1f}"
    words = f"{shown}% overall, {d_pts:.3g} points differential"
    if limit is not None and d_pts <= limit:
        return [_check("attrition", PASSED, f"low attrition: {words} (the {kind} WWC boundary allows "
                       f"{limit:.1f} points at {shown}%)", rids)]
    beyond = (f"the {kind} WWC boundary allows {limit:.1f} points at {shown}%" if limit is not None
              else f"beyond the {kind} WWC boundary at any differential")
    if not rules.value("high_attrition_needs_equivalence"):
        return [_check("attrition", FAILED, f"high attrition: {words} ({beyond})", rids)]
    equivalent, how = _analysed_equivalence(result, context, rules)
    if equivalent:
        return [_check("attrition", PASSED, f"high attrition: {words} ({beyond}); {how}, so it meets the WWC "
                       "standard with reservations", rids)]
    return [_check("attrition", FAILED, f"high attrition: {words} ({beyond}); {how}", rids)]


def _baseline_check(result, context, rules, balance: Mapping | None = None) -> Check:
    rids = ("baseline_equivalence_bands", "baseline_equivalence_required")
    if _facts(context).baseline_not_applicable:  # e.g. a synthetic control, fitted to the pre-period itself
        return _check("baseline_equivalence", NA, _facts(context).baseline_not_applicable, rids)
    if context.design not in COMPARATIVE:
        return _check("baseline_equivalence", NA, "no comparison group", rids)
    balance = _section(result, "balance") if balance is None else balance
    rows = _get(balance, "rows") if isinstance(balance, (Mapping, SectionRecord)) else None
    # an "adjusted" flag for the whole table: only in a JSON object (the analysed sample's table); the
    # typed record holds none, so each row says whether the analysis adjusted for its covariate
    table_adjusted = _get(balance, "adjusted", default=False) if isinstance(balance, Mapping) else False
    if rows:
        bands = rules.value("baseline_equivalence_bands")
        lo, hi = bands["no_adjustment_max"], bands["with_adjustment_max"]
        within, adjusted_ok, unadjusted, over, unknown = [], [], [], [], []
        for row in rows:
            name = str(_get(row, "term", "covariate", "name", default="?"))
            smd = _get(row, "smd_after", "smd")
            if smd is None or isinstance(smd, bool):
                unknown.append(name)
                continue
            g = abs(float(smd))
            adjusted = bool(_get(row, "adjusted", default=table_adjusted))
            if g <= lo:
                within.append(name)
            elif g <= hi and adjusted:
                adjusted_ok.append(name)
            elif g <= hi:
                unadjusted.append(f"{name} {g:.2f}")
            else:
                over.append(f"{name} {g:.2f}")
        words = (f"{len(rows)} covariates: {len(within)} with |SMD| <= {lo}, {len(adjusted_ok)} <= {hi} and "
                 "adjusted for")
        if over:
            return _check("baseline_equivalence", FAILED, f"{words}; over {hi}: {', '.join(over)}", rids)
        if unadjusted:
            return _check("baseline_equivalence", FAILED, f"{words}; between {lo} and {hi} without "
                          f"adjustment: {', '.join(unadjusted)} (adjusting for them in the outcome model, e.g. "
                          "matching.adjust, would meet the WWC band)", rids)
        if unknown:
            return _check("baseline_equivalence", UNKNOWN, f"{words}; no SMD for {', '.join(unknown)}", rids)
        return _check("baseline_equivalence", PASSED, f"{words} (WWC bands)", rids)
    ext = _section(result, "external")
    if ext is not None:
        reported = _get(ext, "baseline_equivalence")
        if reported is True:
            return _check("baseline_equivalence", PASSED, "reported by the study", rids)
        if reported is False:
            return _check("baseline_equivalence", FAILED, "the study reports the groups differed at baseline", rids)
        return _check("baseline_equivalence", UNKNOWN, "the study record does not say", rids)
    return _check("baseline_equivalence", UNKNOWN, "no balance table in the results", rids)


def _parallel_trends_check(result, context, rules) -> Check:
    rids = ("parallel_trends_alpha",)
    if not _facts(context).pre_trend_check:
        return _check("parallel_trends", NA, "not a difference-in-differences study", rids)
    study = _section(result, "event_study")
    # one event study per indicator (evalkit.result_sections.EventStudyEntry): the primary outcome's
    entry = study.entry(context.primary_outcome) if isinstance(study, PerIndicator) and isinstance(
        study.entries.get(context.primary_outcome), Mapping) else None
    test = _get(entry, "pre_trend_test") if entry is not None else None
    p = _get(test, "p_value", "p") if isinstance(test, Mapping) else None
    if not isinstance(p, (int, float)) or isinstance(p, bool):
        return _check("parallel_trends", UNKNOWN, "no pre-trend test in the results", rids)
    alpha = rules.value("parallel_trends_alpha")
    if p < alpha:
        return _check("parallel_trends", FAILED, f"pre-trend test p {_p(p)} (< {alpha})", rids)
    return _check("parallel_trends", PASSED, f"pre-trend test p {_p(p)} (>= {alpha})", rids)


def _measure_check(outcome: OutcomeVerdict | None, context, rules) -> Check:
    rids = ("administrative_records_valid",)
    if outcome is None:
        return _check("validated_measures", UNKNOWN, "no outcome to judge", rids)
    facts = context.indicators.get(outcome.indicator)
    if facts is None:
        return _check("validated_measures", UNKNOWN, f"{outcome.indicator}: not in the logic model given", rids)
    if facts.instrument is not None:
        if facts.validated:
            return _check("validated_measures", PASSED, f"{outcome.indicator}: {facts.instrument} (validated)", rids)
        return _check("validated_measures", FAILED,
                      f"{outcome.indicator}: {facts.instrument} is not marked validated in the logic model", rids)
    if facts.source in rules.value("administrative_records_valid"):
        return _check("validated_measures", PASSED, f"{outcome.indicator}: administrative record ({facts.source})", rids)
    return _check("validated_measures", UNKNOWN,
                  f"{outcome.indicator}: {facts.source or 'unknown'} measure with no instrument recorded in the logic model",
                  rids)


def _itt_check(result, context, rules) -> Check:
    rids = ("intention_to_treat_rct",)
    if not _facts(context).intention_to_treat_check:
        return _check("intention_to_treat", NA, "not a randomised trial", rids)
    ext = _section(result, "external")
    value = _get(ext, "intention_to_treat") if ext is not None else None
    if value is None and isinstance(_section(result, "rct"), SectionRecord):
        value = _section(result, "rct").intention_to_treat
    if value is True:
        return _check("intention_to_treat", PASSED, "analysed as randomised" + (" (as reported)" if ext else ""), rids)
    if value is False:
        return _check("intention_to_treat", FAILED, "not analysed as randomised", rids)
    return _check("intention_to_treat", UNKNOWN, "the results do not say", rids)


def _robustness_check(result, context, rules) -> Check:
    rids = ("robustness_must_not_fail",)
    if _facts(context).robustness_not_applicable:  # e.g. placebos in space and time, in the results
        return _check("robustness", NA, _facts(context).robustness_not_applicable, rids)
    if context.design not in COMPARATIVE:
        return _check("robustness", NA, "not a causal design", rids)
    section = _section(result, "robustness")
    items = _get(section, "refutations", "rows") if isinstance(section, SectionRecord) else section
    if not isinstance(items, (list, tuple)) or not items:
        return _check("robustness", UNKNOWN, "no refutation tests in the results", rids)
    passed, failed, unknown = [], [], []
    for item in items:
        name = str(_get(item, "name", "refuter", default="?"))
        ok = _get(item, "passed", "pass", "ok")
        if ok is None:
            word = str(_get(item, "result", "status", default="")).lower()
            ok = True if word in ("pass", "passed") else False if word in ("fail", "failed") else None
        (passed if ok is True else failed if ok is False else unknown).append(name)
    if failed:
        return _check("robustness", FAILED, f"failed: {', '.join(failed)}; passed: {', '.join(passed) or 'none'}", rids)
    if unknown:
        return _check("robustness", UNKNOWN, f"no verdict for {', '.join(unknown)}", rids)
    return _check("robustness", PASSED, f"all passed: {', '.join(passed)}", rids)


def _sms(result, context, rules) -> tuple[int | None, str]:
    table = rules.value("maryland_sms")
    design = context.design
    facts = _facts(context)
    key = resolve(facts.sms_variant)(result) or design if facts.sms_variant else design
    level = table.get(key, table.get(design, facts.sms))
    return (int(level) if level is not None else None), key


def sms_with_control(result) -> str | None:
    """An interrupted time series with a control series (the plan's time_series.control) is SMS 3."""
    control = _get(getattr(result.manifest, "options", {}) or {}, "time_series", default={}) or {}
    return f"{result.design}_with_control" if _get(control, "control") else None


def sms_with_baseline(result) -> str | None:
    """A matched comparison with a baseline outcome (a before/after comparison with a comparison group) is SMS 3."""
    if any("baseline" in e.timepoints for e in result.estimates) or _get(_section(result, "external") or {},
                                                                        "baseline_equivalence") is not None:
        return f"{result.design}_with_baseline"
    return None


# ---------------------------------------------------------------------------- the assessment


def assess_study(result, context: StudyContext | None = None, rules: Rules | None = None) -> StudyAssessment:
    """Assess one study from its results and what its plan says."""
    rules = rules or load_rules()
    context = context or context_from_results(result)
    if not context.design:
        context = replace(context, design=result.design)
    validate_study(result, context)
    design = context.design
    ext = _section(result, "external")
    follow_up = context.follow_up_months
    if ext is not None and _get(ext, "follow_up_months") is not None:
        follow_up = _get(ext, "follow_up_months")

    facts = _facts(context)
    headline = _headline(result) if not facts.effects_not_applicable else []
    outcomes = [_judge(e, context.indicators.get(e.indicator), context.primary_outcome, follow_up, rules,
                       context.evaluation, context) for e in headline]
    effect, effect_outcome, effect_check = _effect(outcomes, rules)
    feasibility = None
    if facts.effects_not_applicable:
        effect_check = _check("child_outcome_effect", NA, facts.effects_not_applicable, effect_check.rules)
        effect = "none"
    if facts.pathway_section and isinstance(_section(result, facts.pathway_section), SectionRecord):
        feasibility = _section(result, facts.pathway_section).pathway  # ABSENT (not written) is not a verdict
    primary_estimate = next((e for e in headline if e.primary or e.indicator == context.primary_outcome),
                            headline[0] if headline else None)
    arms = _arms(result, context, primary_estimate)

    causal = design in rules.value("causal_designs")
    words = DESIGNS[design][1]
    checks = [
        _check("causal_design", PASSED if causal else FAILED,
               f"{words}: a comparison group allows a judgement about causality" if causal else
               f"{words}: no comparison group, so a causal claim cannot be made", ("causal_designs",)),
        _sample_check(arms, context, rules),
        *_attrition_checks(result, context, rules),
        _baseline_check(result, context, rules),
        _parallel_trends_check(result, context, rules),
        _measure_check(effect_outcome, context, rules),
        _itt_check(result, context, rules),
        _robustness_check(result, context, rules),
        effect_check,
    ]
    months = effect_outcome.follow_up_months if effect_outcome is not None else follow_up
    after = months_after_end(months, context, rules)
    target = rules.value("level4_follow_up_months")
    fu_rules = ("level4_follow_up_months", "follow_up_counts_from")
    if months is None:
        checks.append(_check("follow_up", UNKNOWN, "not recorded", fu_rules))
    elif after is None:
        checks.append(_check("follow_up", UNKNOWN, f"{months} months from the start; how long the intervention "
                             "lasts is not recorded (logic model duration_months), so the months after it ended are "
                             "not known", fu_rules))
    else:
        since = (f"{months} months from the start, {after:g} after the {context.duration_months:g}-month programme "
                 "ended" if context.follow_up_from != "programme_end" and rules.value("follow_up_counts_from")
                 == "programme_end" else f"{after:g} months after the programme ended")
        checks.append(_check("follow_up", PASSED if after >= target else FAILED,
                             f"{since} ({'at least' if after >= target else 'less than'} {target})", fu_rules))
    ind = context.independent
    checks.append(_check("independent_evaluator", UNKNOWN if ind is None else PASSED if ind else FAILED,
                         f"{context.evaluator or 'evaluator not named'}"
                         + ("" if ind is None else " (independent)" if ind else " (not independent)"), ("plus",)))
    by_id = {c.id: c for c in checks}

    def ok(cid, must_pass):
        status = by_id[cid].status
        return status in (PASSED, NA) if must_pass else status != FAILED

    required_be = design in rules.value("baseline_equivalence_required")
    l3_pass = [c for c in rules.value("level3_must_pass") if c in by_id
               and not (c == "baseline_equivalence" and not required_be)]
    l3_not_fail = [c for c in rules.value("level3_must_not_fail") if c in by_id]
    quality_blocking = tuple(dict.fromkeys(
        [c for c in l3_pass if c != "child_outcome_effect" and not ok(c, True)]
        + [c for c in l3_not_fail if not ok(c, False)]))
    rigorous = not quality_blocking
    l3_blocking = quality_blocking + (() if effect == "positive" else ("child_outcome_effect",))
    l2_blocking = tuple(c for c in rules.value("level2_must_pass") if c in by_id and not ok(c, True)
                        or (c == "child_outcome_effect" and effect != "positive"))
    supports = "3" if not l3_blocking else "2" if not l2_blocking else "NL2"
    sms, sms_key = _sms(result, context, rules)
    status = context.record_status or (_get(ext, "status", default="reported") if ext is not None else None)
    return StudyAssessment(
        evaluation=context.evaluation, intervention=context.intervention, title=context.title or result.title,
        design=design, design_class=DESIGNS[design][0], design_words=words, sms=sms, sms_rule=sms_key,
        stage=context.stage, external=ext is not None or context.external, evaluator=context.evaluator,
        independent=context.independent, checks=tuple(checks), effect=effect, outcomes=tuple(outcomes),
        effect_outcome=effect_outcome, follow_up_months=months, participants=arms.get("treated"),
        rigorous=rigorous, supports=supports, blocking={"3": l3_blocking, "2": l2_blocking},
        feasibility=dict(feasibility) if isinstance(feasibility, Mapping) else None,
        months_after_end=after, study_keys=study_keys(result, context), study_role=context.study_role,
        record_status=status, counted=status not in rules.value("unrated_record_status"))


def study_keys(result, context: StudyContext) -> tuple[str, ...]:
    """What identifies the sample a study analysed: any shared key means one study."""
    import re as _re

    keys = []
    if context.study:
        keys.append(f"{context.intervention}/study:{context.study}")
    for item in getattr(result.manifest, "inputs", ()) or ():
        if isinstance(item, Mapping) and item.get("role") == "data":
            # the data's order-free content hash (a file's bytes in older results)
            for field_name in ("content_sha256", "sha256"):
                if item.get(field_name):
                    keys.append(f"data:{item[field_name]}")
            if item.get("units_sha256"):
                keys.append(f"units:{item['units_sha256']}")
    if context.citation:
        keys.append("citation:" + _re.sub(r"[^a-z0-9]+", " ", context.citation.lower()).strip())
    return tuple(keys)
