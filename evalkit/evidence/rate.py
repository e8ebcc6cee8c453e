"""Programme rating: an intervention's EIF level from all its studies, with the reasons.

EIF rates programmes, not studies. Each study is assessed on its own
(:mod:`evalkit.evidence.assess`); the level is then read off the studies:

- ``4``: at least ``level4_min_studies`` studies of Level-3 quality with a positive child
  outcome, one of them at ``level4_follow_up_months`` or longer;
- ``3``: at least one such study;
- ``2``: at least one study with a significant improvement in a child outcome that passes the
  Level-2 checks (a causal claim is not needed);
- ``NL2``: none of these;
- ``+``: only when enabled in the rules (EIF's criteria for it are not published);
- NE flag: a study of Level-3 quality found no improvement in a child outcome (or, by the
  toolkit default, harm). Shown beside the level, never instead of it.

The explanation is a short chain: the level and the study it rests on, why not the next level,
the NE flag and harm, the studies that could not be rated, and the rules behind it all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from evalkit.evidence.assess import CHECK_LABELS, StudyAssessment, StudyContext, assess_study, context_from_plan
from evalkit.evidence.rules import Rules, load_rules

LEVELS = ("NL2", "2", "2+", "3", "3+", "4", "4+")
NOT_APPLICABLE = "not applicable"  # a place-based strategy: EIF levels rate programmes
LEVEL_RULES = {
    "NL2": ("level_scale", "child_outcome_required"),
    "2": ("level_scale", "child_outcome_required", "level2_preliminary", "level2_must_pass"),
    "3": ("level_scale", "child_outcome_required", "level3_rigorous", "level3_must_pass",
          "level3_must_not_fail", "causal_designs"),
    "4": ("level_scale", "child_outcome_required", "level3_rigorous", "level4_min_studies",
          "level4_follow_up_months", "level3_must_pass", "level3_must_not_fail", "causal_designs"),
}


def level_rank(level: str) -> int:
    """The level's place on the EIF scale; -1 for 'not applicable' (below every level, for sorting)."""
    return -1 if level == NOT_APPLICABLE else LEVELS.index(level)


def level_words(level: str, self_assessment: str) -> str:
    """The level as published: a self-assessment, never presented as EIF's own rating."""
    if level == NOT_APPLICABLE:
        return "Not applicable: a place-based strategy, not a programme (EIF levels rate programmes)"
    return f"Self-assessed {level if level == 'NL2' else 'Level ' + level} ({self_assessment})"


EFFECT_ORDER = {"harmful": 0, "null": 1, "none": 2, "unknown": 3, "positive": 4}
SUPPORT_ORDER = {"NL2": 0, "2": 1, "3": 2}


@dataclass(frozen=True)
class Study:
    """One study (sample): the analysis it is judged on and its re-analyses (sensitivity analyses)."""

    main: StudyAssessment
    sensitivity: tuple[StudyAssessment, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"main": self.main.evaluation, "supports": self.main.supports,
                "sensitivity": [{"evaluation": s.evaluation, "supports": s.supports, "effect": s.effect}
                                for s in self.sensitivity]}


def group_studies(assessments: Sequence[StudyAssessment]) -> list[Study]:
    """Analyses of one sample (a shared declared study, data hash, unit digest or citation) as one study.

    The main analysis: one marked ``main`` (else any); of those the strongest design (SMS) and,
    of equally strong ones, the least favourable, so that trying specifications cannot lift a
    study; the rest are its sensitivity analyses.
    """
    parent = list(range(len(assessments)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, a in enumerate(assessments):
        for key in a.study_keys:
            if key in owner:
                parent[find(i)] = find(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[StudyAssessment]] = {}
    for i, a in enumerate(assessments):
        groups.setdefault(find(i), []).append(a)
    out = []
    for members in groups.values():
        candidates = [a for a in members if a.study_role == "main"] or members
        main = sorted(candidates, key=lambda a: (-(a.sms or 0), SUPPORT_ORDER.get(a.supports, 0),
                                                 EFFECT_ORDER.get(a.effect, 3), a.evaluation))[0]
        rest = tuple(sorted((a for a in members if a is not main), key=lambda a: a.evaluation))
        out.append(Study(main, rest))
    return sorted(out, key=lambda g: g.main.evaluation)


@dataclass(frozen=True)
class UnratedStudy:
    """A study of the intervention that could not be rated (not run, failed to run)."""

    evaluation: str
    reason: str


@dataclass(frozen=True)
class ProgrammeRating:
    intervention: str
    name: str
    level: str  # NL2, 2, 2+, 3, 3+, 4, 4+
    not_effective: bool
    harm: bool
    studies: tuple[StudyAssessment, ...]
    resting_on: tuple[str, ...]  # evaluation ids the level rests on
    explanation: tuple[str, ...]
    rests_on: Mapping[str, tuple[str, ...]]  # {"EIF": rule ids, "toolkit_default": rule ids}
    basis: str  # "EIF rules only" | "EIF rules and toolkit defaults" | ...
    rules_version: str
    unrated: tuple[UnratedStudy, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)  # pathway, YEF, ... (added by the portfolio)
    study_groups: tuple[Study, ...] = ()  # the studies counted (each sample once)
    unverified: tuple[str, ...] = ()  # external records shown but never counted
    applicable: bool = True  # False: a place-based strategy
    level_words: str = ""  # the level as published (a self-assessment)

    @property
    def rank(self) -> int:
        return level_rank(self.level)

    def checks(self) -> dict[str, list[dict[str, Any]]]:
        return {s.evaluation: [asdict(c) for c in s.checks] for s in self.studies}

    def to_dict(self) -> dict[str, Any]:
        return {
            "intervention": self.intervention, "name": self.name, "level": self.level, "level_rank": self.rank,
            "not_effective": self.not_effective, "harm": self.harm, "resting_on": list(self.resting_on),
            "explanation": list(self.explanation),
            "rests_on": {k: list(v) for k, v in self.rests_on.items()}, "basis": self.basis,
            "rules_version": self.rules_version, "applicable": self.applicable, "level_words": self.level_words,
            "self_assessed": True, "n_studies_counted": len(self.study_groups),
            "study_groups": [g.to_dict() for g in self.study_groups], "unverified": list(self.unverified),
            "checks": self.checks(),
            "studies": [s.to_dict() for s in self.studies],
            "unrated": [asdict(u) for u in self.unrated],
            **{k: v for k, v in self.extras.items()},
        }


def _study_words(s: StudyAssessment) -> str:
    ext = ", external" if s.external else ""
    return f"{s.evaluation} ({s.design_words}{ext}, SMS {s.sms if s.sms is not None else 'n/a'})"


def _not_level(studies: Sequence[StudyAssessment], level: str) -> tuple[list[str], list[str]]:
    """Why each study does not support ``level``, a line each, and the rules their blocking checks used."""
    lines, rids = [], []
    for s in studies:
        checks = [s.check(cid) for cid in s.blocking.get(level, ())]
        words = "; ".join(f"{CHECK_LABELS.get(c.id, c.id)} {c.status} ({c.evidence})" for c in checks)
        lines.append(f"Not Level {level}: {s.evaluation}: {words}.")
        rids += [rid for c in checks for rid in c.rules]
    return lines, rids


def _status(s: StudyAssessment, cid: str) -> str | None:
    try:
        return s.check(cid).status
    except KeyError:
        return None


def rate_programme(intervention: str, assessments: Sequence[StudyAssessment], rules: Rules, *,
                   name: str | None = None, unrated: Sequence[UnratedStudy] = (),
                   place_based: bool = False) -> ProgrammeRating:
    """The self-assessed EIF level of one intervention from the assessments of its studies.

    Each sample counts once (:func:`group_studies`); unverified or illustrative records are
    shown but not counted; a place-based strategy is not applicable.
    """
    name = name or intervention
    order = lambda s: ({"3": 0, "2": 1}.get(s.supports, 2), -(s.sms or 0), s.evaluation)  # noqa: E731
    counted = [a for a in assessments if a.counted]
    not_counted = tuple(sorted((a for a in assessments if not a.counted), key=order))
    groups = tuple(group_studies(counted))
    mains = tuple(sorted((g.main for g in groups), key=order))
    extra = tuple(sorted((a for g in groups for a in g.sensitivity), key=order))
    studies = mains + extra + not_counted
    if place_based and rules.value("place_based_not_applicable"):
        return _not_applicable(intervention, name, studies, groups, not_counted, rules, unrated)
    l3 = [s for s in mains if s.supports == "3"]
    l2 = [s for s in mains if s.supports in ("2", "3")]
    n4 = rules.value("level4_min_studies")
    months4 = rules.value("level4_follow_up_months")
    long_l3 = [s for s in l3 if s.months_after_end is not None and s.months_after_end >= months4]
    used: list[str] = ["self_assessment"]
    lines: list[str] = []

    if len(l3) >= n4 and long_l3:
        base, resting = "4", l3
    elif l3:
        base, resting = "3", l3
    elif l2:
        base, resting = "2", l2
    else:
        base, resting = "NL2", []
    used += LEVEL_RULES[base]

    # the level and what it rests on
    if base == "NL2":
        if not mains:
            lines.append(f"NL2: no rated study of {name}"
                         + (" (studies not rated are listed below)." if unrated else "; a Level-2 rating needs "
                            "at least one study showing a significant improvement in a child outcome."))
        else:
            lines.append("NL2: no study meets the Level-2 threshold (a significant improvement in a child "
                         "outcome with enough participants).")
    else:
        for s in resting:
            checks = ("causal_design", "sample_size", "baseline_equivalence", "validated_measures") \
                if s.supports == "3" else ("sample_size", "validated_measures")
            effect = s.effect_outcome.words() if s.effect_outcome else "?"
            passed = ", ".join(CHECK_LABELS[c] for c in checks if _status(s, c) == "passed")
            what = "of Level-3 quality" if s.supports == "3" else "preliminary evidence (no causal claim)"
            lines.append(f"Level {base} rests on {_study_words(s)}, {what}: passed {passed or 'no quality check'}; "
                         f"child outcome improved: {effect} at {_months_words(s)}.")
            for cid in (c for cs in ("level3_must_pass", "level2_must_pass") for c in rules.value(cs)):
                used += next((c.rules for c in s.checks if c.id == cid), ())

    # why not the next level up
    if base == "NL2":
        used += LEVEL_RULES["2"]
        why, rids = _not_level(mains, "2")
        lines += why
        used += rids
    elif base == "2":
        used += LEVEL_RULES["3"]
        causal = [s for s in mains if s.check("causal_design").status == "passed"]
        if not causal:
            waiting = f"; not yet rated: {', '.join(u.evaluation for u in unrated)}" if unrated else ""
            lines.append(f"Not Level 3: no rated study has a comparison group (needs one of: "
                         f"{', '.join(rules.value('causal_designs'))}) that can support a causal claim{waiting}.")
        why, rids = _not_level(causal, "3")
        lines += why
        used += rids
    elif base == "3":
        used += LEVEL_RULES["4"]
        used += ("one_sample_one_study", "follow_up_counts_from")
        have = ", ".join(f"{s.evaluation} at {_months_words(s)}" for s in l3)
        need = []
        if len(l3) < n4:
            need.append(f"at least {n4} separate studies (samples) of Level-3 quality with a positive child outcome "
                        f"(has {len(l3)}: {have})")
        if not long_l3:
            need.append(f"one of them showing the improvement {months4} months or longer after the programme "
                        f"ended (has {have})")
        lines.append("Not Level 4: needs " + "; and ".join(need) + ".")

    # the "+"
    level = base
    plus = rules.value("plus")
    if base != "NL2":
        if not plus["enabled"]:
            if base == "4" or len(resting) > 1:
                used.append("plus")
                lines.append(f"No '+': EIF's criteria for '+' are not published, so evalkit does not award it "
                             "(rules: plus.enabled is false).")
        else:
            used.append("plus")
            need = (n4 if base == "4" else 1) + plus["extra_studies"]
            independent = [s for s in resting if s.independent]
            if len(resting) >= need and (not plus["independent_evaluator"] or independent):
                level = base + "+"
                lines.append(f"'+': {len(resting)} qualifying studies (the level needs {need - plus['extra_studies']})"
                             + (f", {independent[0].evaluation} by an independent evaluator" if independent else "")
                             + " (toolkit rule: plus).")
            else:
                why = []
                if len(resting) < need:
                    why.append(f"{need} qualifying studies needed, has {len(resting)}")
                if plus["independent_evaluator"] and not independent:
                    why.append("none by an independent evaluator")
                lines.append(f"No '+': {'; '.join(why)} (toolkit rule: plus).")

    # NE and harm
    ne_studies = [s for s in mains if s.rigorous and (s.effect == "null"
                  or (s.effect == "harmful" and rules.value("harm_sets_not_effective")))]
    harmful = [s for s in mains if s.harm]
    if ne_studies:
        used += ("not_effective_flag",) + (("harm_sets_not_effective",) if any(s.effect == "harmful" for s in ne_studies) else ())
        for s in ne_studies:
            what = "found no significant improvement in any child outcome" if s.effect == "null" \
                else "found a harmful effect on a child outcome"
            lines.append(f"NE: {_study_words(s)} is of Level-3 quality and {what} ({s.check('child_outcome_effect').evidence}).")
        if base != "NL2":
            lines.append(f"Conflicting evidence: Level {base} and NE both hold; EIF has not published how it "
                         "resolves this, so both are shown.")
    for s in harmful:
        used += ("harm_sets_not_effective",)
        if s.check("causal_design").status == "passed":
            what = "a significant harmful effect"
        else:
            what = f"a significant change in the harmful direction ({s.design_words}: not a causal estimate)"
        lines.append(f"HARM: {s.evaluation} found {what}: " + "; ".join(o.words() for o in s.harm) + ".")
    lines += _groups_words(groups, used)
    lines += _unverified_words(not_counted, used)
    for u in unrated:
        lines.append(f"Not rated: {u.evaluation}: {u.reason}")

    rests_on = rules.cite(used)
    kinds = [k for k in ("EIF", "toolkit_default") if rests_on[k]]
    basis = {("EIF",): "EIF rules only", ("toolkit_default",): "toolkit defaults only"}.get(
        tuple(kinds), "EIF rules and toolkit defaults")
    lines.append(f"Rests on {basis}: EIF: {', '.join(rests_on['EIF']) or 'none'}; "
                 f"toolkit defaults: {', '.join(rests_on['toolkit_default']) or 'none'} (rules {rules.version}).")
    return ProgrammeRating(
        intervention=intervention, name=name, level=level, not_effective=bool(ne_studies), harm=bool(harmful),
        studies=studies, resting_on=tuple(s.evaluation for s in resting), explanation=tuple(lines),
        rests_on={k: tuple(v) for k, v in rests_on.items()}, basis=basis, rules_version=rules.version,
        unrated=tuple(unrated), study_groups=groups, unverified=tuple(a.evaluation for a in not_counted),
        level_words=level_words(level, rules.value("self_assessment")))


def _months_words(s: StudyAssessment) -> str:
    if s.months_after_end is not None:
        if s.months_after_end <= 0:
            return "the end of the programme"
        return f"{s.months_after_end:g} months after the programme ended"
    if s.follow_up_months is not None:
        return f"{s.follow_up_months} months (from the start; the programme's length is not recorded)"
    return "an unrecorded follow-up"


def _groups_words(groups: Sequence[Study], used: list[str]) -> list[str]:
    lines = []
    for g in groups:
        if not g.sensitivity:
            continue
        used.append("one_sample_one_study")
        others = ", ".join(f"{s.evaluation} (supports {'NL2' if s.supports == 'NL2' else 'Level ' + s.supports})"
                           for s in g.sensitivity)
        lines.append(f"One study, several analyses of the same sample: {g.main.evaluation} is the analysis it is "
                     f"judged on; {others} re-analyse the same sample and count as its sensitivity analyses, not as "
                     "more studies.")
        lower = [s.evaluation for s in g.sensitivity if SUPPORT_ORDER.get(s.supports, 0)
                 < SUPPORT_ORDER.get(g.main.supports, 0)]
        if lower:
            lines.append(f"Sensitivity: {', '.join(lower)} support(s) a lower level than {g.main.evaluation}: the "
                         "finding depends on the analysis chosen.")
    return lines


def _unverified_words(records: Sequence[StudyAssessment], used: list[str]) -> list[str]:
    lines = []
    for s in records:
        used.append("unrated_record_status")
        would = "NL2" if s.supports == "NL2" else f"Level {s.supports}"
        lines.append(f"Unverified: {s.evaluation} is a study record marked {s.record_status}; it is shown but never "
                     f"counts towards a published level (as recorded it would support {would}; check it against "
                     "the published study and set external.status: reported).")
    return lines


def _not_applicable(intervention, name, studies, groups, not_counted, rules, unrated) -> ProgrammeRating:
    used = ["place_based_not_applicable", "self_assessment"]
    lines = [f"Not applicable: {name} is a place-based strategy (logic model kind: place_based_strategy). EIF levels "
             "rate programmes; the strategy's population measures are monitored and evaluated (e.g. an interrupted "
             "time series) but not given a programme level."]
    lines += [f"Studied: {s.evaluation} ({s.design_words}): its checks are shown; it carries no level." for s in studies]
    for u in unrated:
        lines.append(f"Not rated: {u.evaluation}: {u.reason}")
    rests_on = rules.cite(used)
    lines.append(f"Rests on toolkit defaults only: {', '.join(rests_on['toolkit_default'])} (rules {rules.version}).")
    return ProgrammeRating(
        intervention=intervention, name=name, level=NOT_APPLICABLE, not_effective=False, harm=False, studies=studies,
        resting_on=(), explanation=tuple(lines), rests_on={k: tuple(v) for k, v in rests_on.items()},
        basis="toolkit defaults only", rules_version=rules.version, unrated=tuple(unrated), study_groups=tuple(groups),
        unverified=tuple(a.evaluation for a in not_counted), applicable=False,
        level_words=level_words(NOT_APPLICABLE, rules.value("self_assessment")))


def rate_results(results: Iterable, contexts: Mapping[str, Any] | None = None,
                 interventions: Mapping[str, Any] | None = None, rules: Rules | None = None,
                 unrated: Iterable[tuple[str, str, str]] = ()) -> list[ProgrammeRating]:
    """Rate interventions from ResultSets passed in (no data or project needed).

    ``contexts`` maps evaluation id to a :class:`~evalkit.evidence.assess.StudyContext` or a
    resolved Evaluation; a study without one is assessed from its results alone (evaluator and
    indicators then unknown). ``interventions`` maps id to a LogicModel or a name, so that an
    intervention with no studies is rated too (NL2). ``unrated`` holds (intervention,
    evaluation, reason) for studies that could not be run.
    """
    rules = rules or load_rules()
    contexts = contexts or {}
    interventions = interventions or {}
    by_intervention: dict[str, list[StudyAssessment]] = {}
    for result in results:
        ctx = contexts.get(result.evaluation)
        if ctx is not None and not isinstance(ctx, StudyContext):
            ctx = context_from_plan(ctx)
        a = assess_study(result, ctx, rules)
        by_intervention.setdefault(a.intervention, []).append(a)
    missing: dict[str, list[UnratedStudy]] = {}
    for intervention, evaluation, reason in unrated:
        missing.setdefault(intervention, []).append(UnratedStudy(evaluation, reason))
    ids = list(dict.fromkeys([*interventions, *by_intervention, *missing]))
    out = []
    for iid in ids:
        lm = interventions.get(iid)
        name = lm if isinstance(lm, str) else getattr(lm, "name", None) or iid
        out.append(rate_programme(iid, by_intervention.get(iid, []), rules, name=name,
                                  unrated=missing.get(iid, []), place_based=bool(getattr(lm, "place_based", False))))
    return out
