"""Evidence ratings: each rule boundary of the EIF levels, on small hand-made portfolios of studies."""

from __future__ import annotations

import pytest
from test_evidence_helpers import CLEAN_BALANCE, estimate, external_section, study

from evalkit.errors import EvalkitError
from evalkit.evidence.assess import assess_study
from evalkit.evidence.rate import rate_results
from evalkit.evidence.rules import load_rules

RULES = load_rules()


def rate(*pairs, rules=RULES):
    ratings = rate_results([p[0] for p in pairs], {p[1].evaluation: p[1] for p in pairs},
                           interventions={"prog": "A programme"}, rules=rules)
    assert len(ratings) == 1
    return ratings[0]


def text(rating) -> str:
    return "\n".join(rating.explanation)


def clean_matched(name, *, follow_up=6, p=0.001, good=True, n=200, independent=True, **kw):
    tp = ("baseline", f"follow_up_{follow_up}m")
    return study(name, "matched_comparison", follow_up=follow_up, p=p, good=good, n=n, timepoints=tp,
                 independent=independent, **kw)


# ---------------------------------------------------------------------------- the Done-when boundaries


def test_no_studies_is_nl2():
    r = rate_results([], interventions={"prog": "A programme"}, rules=RULES)[0]
    assert (r.level, r.not_effective, r.harm) == ("NL2", False, False)
    assert "no rated study of A programme" in text(r)


def test_one_significant_pre_post_study_is_level_2():
    r = rate(study("pp"))
    assert r.level == "2" and not r.not_effective
    assert r.resting_on == ("pp",)
    assert "Level 2 rests on pp (pre/post, SMS 1)" in text(r)
    assert "Not Level 3: no rated study has a comparison group" in text(r)


def test_pre_post_without_significant_change_is_nl2():
    r = rate(study("pp", p=0.2))
    assert r.level == "NL2"
    assert "Not Level 2: pp: significant improvement in a child outcome failed" in text(r)


def test_too_few_participants_is_nl2_and_boundary_at_min_n():
    assert RULES.value("min_n_per_arm") == 30
    r = rate(study("pp", n=29))
    assert r.level == "NL2"
    assert "too few participants: 29 analysed (fewer than 30" in text(r)
    assert rate(study("pp", n=30)).level == "2"
    # per arm in a comparison: 29 treated is too few however many comparisons there are
    r = rate(clean_matched("m", n_treated=29, n_comparison=400))
    assert r.level == "NL2"
    assert "fewer than 30 in treated" in text(r)


def test_matched_study_failing_baseline_equivalence_is_level_2():
    balance = {"rows": [{"term": "age", "smd_after": 0.31, "adjusted": True},
                        {"term": "attend_pre", "smd_after": 0.02, "adjusted": False}]}
    r = rate(clean_matched("m", sections={"balance": balance}))
    assert r.level == "2"
    assert "Not Level 3: m: baseline equivalence failed" in text(r)
    assert "over 0.25: age 0.31" in text(r)


@pytest.mark.parametrize(("smd", "adjusted", "status"), [
    (0.05, False, "passed"),   # at the no-adjustment bound
    (0.06, False, "failed"),   # needs adjustment, has none
    (0.06, True, "passed"),
    (0.25, True, "passed"),    # at the adjusted bound
    (0.251, True, "failed"),
])
def test_baseline_equivalence_wwc_bands(smd, adjusted, status):
    balance = {"rows": [{"term": "age", "smd_after": -smd, "adjusted": adjusted}]}
    result, ctx = clean_matched("m", sections={"balance": balance})
    assert assess_study(result, ctx, RULES).check("baseline_equivalence").status == status


def test_clean_matched_study_is_level_3():
    r = rate(clean_matched("m"))
    assert r.level == "3" and not r.not_effective
    assert "Level 3 rests on m (matched comparison, SMS 3), of Level-3 quality" in text(r)
    assert "Not Level 4: needs at least 2 separate studies (samples)" in text(r)
    assert r.level_words.startswith("Self-assessed Level 3") and "not an EIF rating" in r.level_words
    a = r.studies[0]
    assert a.supports == "3" and a.rigorous
    assert a.check("baseline_equivalence").status == "passed"


def test_two_clean_studies_with_a_12_month_follow_up_are_level_4():
    r = rate(clean_matched("m1", follow_up=12), clean_matched("m2", follow_up=6))
    assert r.level == "4"
    assert set(r.resting_on) == {"m1", "m2"}
    assert "No '+': EIF's criteria for '+' are not published" in text(r)


def test_two_clean_studies_without_a_12_month_follow_up_are_level_3():
    r = rate(clean_matched("m1", follow_up=11), clean_matched("m2", follow_up=6))
    assert r.level == "3"
    assert "one of them showing the improvement 12 months or longer after the programme ended" in text(r)


def test_clean_null_study_sets_ne():
    r = rate(clean_matched("m", p=0.4))
    assert r.level == "NL2" and r.not_effective and not r.harm
    assert "NE: m (matched comparison, SMS 3) is of Level-3 quality and found no significant improvement" in text(r)


def test_null_pre_post_study_does_not_set_ne():
    r = rate(study("pp", p=0.4))
    assert not r.not_effective


def test_conflicting_studies_show_level_and_ne():
    r = rate(clean_matched("m", follow_up=12), study("trial", "rct", p=0.6, follow_up=12))
    assert r.level == "3" and r.not_effective
    assert "Conflicting evidence: Level 3 and NE both hold" in text(r)


def test_harmful_effect_is_reported_as_harm_and_sets_ne():
    r = rate(clean_matched("m", good=False))
    assert r.harm and r.not_effective and r.level == "NL2"
    assert "HARM: m found a significant harmful effect" in text(r)
    # in a preliminary study harm is still reported, but NE needs a Level-3-quality study
    r = rate(study("pp", good=False))
    assert r.harm and not r.not_effective
    assert "HARM: pp found a significant change in the harmful direction (pre/post: not a causal estimate)" in text(r)


def test_non_child_outcome_does_not_count():
    r = rate(study("pp", estimates=[estimate("adult_offending")]))
    assert r.level == "NL2"
    assert "no child outcome among the results: adult_offending (not a child outcome: no EIF outcome category" in text(r)


def test_any_child_outcome_or_primary_only():
    both = [estimate("suspended", p=0.5, primary=True), estimate("wellbeing", p=0.01, primary=False)]
    assert rate(study("pp", estimates=both)).level == "2"
    rules = load_rules()
    primary_only = type(rules)(rules.version, rules.path, {**rules.rules, "positive_on": rules.rules[
        "positive_on"].__class__(**{**rules.rules["positive_on"].__dict__, "value": "primary"})})
    assert rate(study("pp", estimates=both), rules=primary_only).level == "NL2"


def test_holm_p_is_used_where_reported():
    r = rate(study("pp", p=0.01, p_holm=0.08))
    assert r.level == "NL2"
    assert "Holm p = 0.080" in text(r)


def test_significance_from_the_ci_when_no_p_value():
    assert rate(study("pp", p=None, ci=(0.1, 0.5))).level == "2"
    assert rate(study("pp", p=None, ci=(-0.1, 0.5))).level == "NL2"
    # ratio estimands test against 1
    ratio = estimate(p=None, ci=(0.6, 0.9), est=0.75, estimand="rate_ratio", units="ratio")
    assert rate(study("pp", estimates=[ratio])).level == "2"


def test_every_rating_says_which_kind_of_rule_it_rests_on():
    r = rate(clean_matched("m"))
    assert "level3_rigorous" in r.rests_on["EIF"]
    assert "min_n_per_arm" in r.rests_on["toolkit_default"]
    assert r.basis == "EIF rules and toolkit defaults"
    assert text(r).splitlines()[-1].startswith("Rests on EIF rules and toolkit defaults: EIF: ")
    d = r.to_dict()
    assert {"intervention", "level", "not_effective", "checks", "explanation"} <= set(d)
    assert d["checks"]["m"][0]["status"] in ("passed", "failed", "unknown", "not_applicable")


# ---------------------------------------------------------------------------- study checks


def test_pre_post_checks():
    result, ctx = study("pp", sections={"attrition": {"overall": 0.2}})
    a = assess_study(result, ctx, RULES)
    status = {c.id: c.status for c in a.checks}
    assert status == {"causal_design": "failed", "sample_size": "passed", "attrition": "not_applicable",
                      "baseline_equivalence": "not_applicable",
                      "parallel_trends": "not_applicable", "validated_measures": "passed",
                      "intention_to_treat": "not_applicable", "robustness": "not_applicable",
                      "child_outcome_effect": "passed", "follow_up": "failed", "independent_evaluator": "passed"}
    assert "20% lost; one group: the WWC boundary is for two-group designs" in a.check("attrition").evidence
    assert a.sms == 1 and a.design_class == "pre_post"


def test_missing_sections_are_unknown():
    result, ctx = study("m", "matched_comparison", sections={})
    a = assess_study(result, ctx, RULES)
    assert a.check("baseline_equivalence").status == "unknown"
    assert a.check("robustness").status == "unknown"
    assert a.supports == "2"  # a matched study must show baseline equivalence


def test_wwc_attrition_boundary_is_the_handbook_table():
    # WWC Standards Handbook v4.1, Table II.1: spot values (percent overall -> points differential)
    rows = {r["overall"]: (r["cautious"], r["optimistic"]) for r in RULES.value("wwc_attrition_boundary")}
    assert sorted(rows) == list(range(0, 66))
    assert rows[0] == (5.7, 10.0) and rows[10] == (6.3, 10.9) and rows[13] == (6.1, 10.8)
    assert rows[30] == (4.1, 8.2) and rows[50] == (1.0, 3.7) and rows[57] == (0.0, 2.1)
    assert rows[58] == (None, 1.9) and rows[65] == (None, 0.3)
    assert RULES.value("attrition_boundary_kind") == "cautious"


@pytest.mark.parametrize(("overall", "differential", "status"), [
    (0.20, 0.054, "passed"),   # cautious boundary at 20% is 5.4 points
    (0.20, -0.054, "passed"),  # differential is judged in absolute value
    (0.20, 0.055, "failed"),
    (0.105, 0.0625, "failed"),  # between rows the stricter neighbour applies (6.2 at 11%, not 6.3 at 10%)
    (0.105, 0.062, "passed"),
    (0.57, 0.0, "passed"),
    (0.58, 0.0, "failed"),     # no differential keeps 58% overall low under the cautious boundary
    (0.65, 0.30, "failed"),
])
def test_attrition_against_the_cautious_wwc_boundary(overall, differential, status):
    # an external trial that does not report the analysed sample's equivalence: high attrition fails
    a = assess_study(*_trial(overall=overall, differential=differential), RULES)
    assert a.check("attrition").status == status, a.check("attrition").evidence
    assert a.supports == ("3" if status == "passed" else "2")


def test_optimistic_boundary_when_chosen():
    rules = load_rules()
    rule = rules.rules["attrition_boundary_kind"]
    rules = type(rules)(rules.version, rules.path, {**rules.rules, "attrition_boundary_kind": type(rule)(
        **{**rule.__dict__, "value": "optimistic"})})
    result, ctx = _trial(overall=0.30, differential=0.06)
    assert assess_study(result, ctx, RULES).check("attrition").status == "failed"   # cautious: 4.1
    assert assess_study(result, ctx, rules).check("attrition").status == "passed"   # optimistic: 8.2
    assert "the optimistic WWC boundary allows 8.2 points at 30%" in assess_study(result, ctx, rules).check(
        "attrition").evidence


def _trial(name="trial", *, overall=0.65, differential=0.30, follow_up=12, **ext):
    section = external_section(attrition={"overall": overall, "differential": differential},
                               follow_up_months=follow_up, **ext)
    return study(name, "rct", estimates=[estimate(design="rct", estimand="reported", units="as reported",
                                                  n_treated=300, n_comparison=290,
                                                  timepoints=("baseline", f"follow_up_{follow_up}m"))],
                 sections={"external": section}, follow_up=follow_up)


def test_high_attrition_trial_does_not_reach_level_3():
    # 65% lost, 30 points between arms: level 3 before the boundary was filled in; now level 2
    r = rate(_trial())
    assert r.level == "2"
    a = r.studies[0]
    assert a.check("attrition").status == "failed"
    assert "high attrition: 65% overall, 30 points differential" in a.check("attrition").evidence
    assert "Not Level 3: trial: attrition (WWC boundary) failed" in text(r)
    # baseline equivalence reported without saying it is of the analysed sample does not rescue it
    assert rate(_trial(baseline_equivalence=True)).level == "2"
    # two such trials are never Level 4 either
    assert rate(_trial("t1"), _trial("t2", citation="Another trial")).level == "2"


def test_high_attrition_with_an_equivalent_analysed_sample_meets_standards_with_reservations():
    r = rate(_trial(overall=0.40, differential=0.08, baseline_equivalence=True, baseline_equivalence_sample="analysed"))
    assert r.level == "3"
    assert "meets the WWC standard with reservations" in r.studies[0].check("attrition").evidence
    r = rate(_trial(overall=0.40, differential=0.08, baseline_equivalence=False, baseline_equivalence_sample="analysed"))
    assert r.level == "2"
    # an evalkit-run trial: the balance of the analysed sample is in the results
    def local(analysed_smd):
        balance = {"rows": [{"covariate": "age", "smd": 0.01, "adjusted": True}], "sample": "randomised",
                   "analysed": {"rows": [{"covariate": "age", "smd": analysed_smd, "adjusted": False}],
                                "sample": "analysed"}}
        return study("rct", "rct", sections={"balance": balance, "rct": {"intention_to_treat": True},
                                             "attrition": {"overall": 0.45, "differential": 0.05}},
                     n_treated=150, n_comparison=150)
    assert rate(local(0.03)).level == "3"
    assert rate(local(0.40)).level == "2"


def test_validated_measures():
    ind = {"wellbeing": "passed", "suspended": "passed"}  # a validated instrument; an education record
    for indicator, status in ind.items():
        result, ctx = study("pp", estimates=[estimate(indicator)])
        assert assess_study(result, ctx, RULES).check("validated_measures").status == status
    from dataclasses import replace
    result, ctx = clean_matched("m")
    ctx = replace(ctx, indicators={"wellbeing": replace(ctx.indicators["wellbeing"], validated=False)})
    a = assess_study(result, ctx, RULES)
    assert a.check("validated_measures").status == "failed"
    assert a.supports == "2" and "valid outcome measure failed" in text(rate((result, ctx)))


def test_robustness_and_parallel_trends():
    refutations = {"refutations": [{"name": "placebo_treatment", "passed": True},
                                   {"name": "data_subset", "passed": False}]}
    result, ctx = clean_matched("m", sections={"balance": CLEAN_BALANCE, "robustness": refutations})
    a = assess_study(result, ctx, RULES)
    assert a.check("robustness").status == "failed" and a.supports == "2"
    event = {"wellbeing": {"pre_trend_test": {"p_value": 0.2}}}
    result, ctx = study("did", "difference_in_differences", sections={"event_study": event})
    a = assess_study(result, ctx, RULES)
    assert a.check("parallel_trends").status == "passed" and a.supports == "3" and a.sms == 3
    event = {"wellbeing": {"pre_trend_test": {"p_value": 0.01}}}
    result, ctx = study("did", "difference_in_differences", sections={"event_study": event})
    assert assess_study(result, ctx, RULES).check("parallel_trends").status == "failed"


def test_maryland_sms_per_design():
    def sms(design, **kw):
        result, ctx = study("s", design, **kw)
        return assess_study(result, ctx, RULES).sms
    assert sms("pre_post") == 1
    assert sms("matched_comparison", timepoints=("follow_up_12m",)) == 2
    assert sms("matched_comparison", timepoints=("baseline", "follow_up_12m")) == 3
    assert sms("difference_in_differences") == 3
    assert sms("interrupted_time_series") == 2
    assert sms("rct") == 5


def test_external_study_checks_come_from_what_it_reports():
    ext = external_section(baseline_equivalence=None, intention_to_treat=None)
    result, ctx = study("ext", "rct", estimates=[estimate(design="rct", estimand="reported", units="as reported",
                                                          n_treated=300, n_comparison=290,
                                                          timepoints=("baseline", "follow_up_12m"))],
                        sections={"external": ext}, follow_up=12)
    a = assess_study(result, ctx, RULES)
    assert a.external and a.sms == 5
    assert a.check("sample_size").evidence.startswith("treated 300, comparison 290")
    assert a.check("baseline_equivalence").status == "unknown"
    assert a.check("intention_to_treat").status == "unknown"
    assert a.check("attrition").evidence.startswith("low attrition: 10% overall, 2 points differential")
    assert a.supports == "3"  # an RCT may leave baseline equivalence and ITT unknown, not failed
    ext = external_section(intention_to_treat=False)
    result2 = type(result)(**{**result.__dict__, "sections": {"external": ext}})
    assert assess_study(result2, ctx, RULES).check("intention_to_treat").status == "failed"
    assert assess_study(result2, ctx, RULES).supports == "2"


def test_plus_only_when_enabled():
    rules = load_rules()
    rule = rules.rules["plus"]
    on = type(rules)(rules.version, rules.path, {**rules.rules, "plus": type(rule)(
        **{**rule.__dict__, "value": {"enabled": True, "extra_studies": 1, "independent_evaluator": True}})})
    pairs = (clean_matched("m1", independent=False), clean_matched("m2", independent=True))
    assert rate(*pairs).level == "3"
    r = rate(*pairs, rules=on)
    assert r.level == "3+" and "m2 by an independent evaluator" in text(r)
    r = rate(clean_matched("m1", independent=False), clean_matched("m2", independent=False), rules=on)
    assert r.level == "3" and "none by an independent evaluator" in text(r)


# ---------------------------------------------------------------------------- bad input


def test_unknown_design_is_a_clear_error():
    result, ctx = study("odd", "pre_post")
    ctx = type(ctx)(**{**ctx.__dict__, "design": "cohort_study"})
    with pytest.raises(EvalkitError, match=r"odd: design 'cohort_study' cannot be rated; expected one of "
                                           r"'pre_post', 'matched_comparison'"):
        assess_study(result, ctx, RULES)


def test_negative_follow_up_is_a_clear_error():
    result, ctx = study("pp", follow_up=-3)
    with pytest.raises(EvalkitError, match=r"pp: follow_up_months is -3; expected a follow-up of 0 or more months"):
        assess_study(result, ctx, RULES)
    result, ctx = study("ext", "rct", sections={"external": external_section(follow_up_months=-6)})
    with pytest.raises(EvalkitError, match=r"ext: external.follow_up_months is -6"):
        assess_study(result, ctx, RULES)


def test_external_study_missing_its_effect_is_a_clear_error():
    res = external_section()["results"][0]
    ext = external_section(results=[{**res, "estimate": None}])
    result, ctx = study("ext", "rct", sections={"external": ext})
    with pytest.raises(EvalkitError, match=r"ext: external.results\[0\] \(wellbeing\) has no estimate; "
                                           r"expected the reported effect"):
        assess_study(result, ctx, RULES)
    result, ctx = study("ext", "rct", sections={"external": external_section(results=[])})
    with pytest.raises(EvalkitError, match=r"ext: the external study reports no results"):
        assess_study(result, ctx, RULES)


def test_feasibility_study_supports_no_level_and_its_verdict_reaches_the_pathway():
    from evalkit.evidence.pathway import pathway_position

    verdict = {"stage": "test_feasibility", "next_stage": "pilot_for_outcomes", "ready": False,
               "verdict": "not ready for a pilot of outcomes", "overall": "red"}
    result, ctx = study("feas", "feasibility", estimates=[estimate(design="pre_post", estimand="consent_rate")],
                        sections={"feasibility": {"pathway": verdict}})
    a = assess_study(result, ctx, RULES)
    assert a.sms is None and a.supports == "NL2" and a.effect == "none"
    assert a.check("child_outcome_effect").status == "not_applicable"
    assert a.check("sample_size").status == "not_applicable"
    r = rate((result, ctx))
    assert r.level == "NL2" and not r.not_effective
    pos = pathway_position([("feas", "test_feasibility", "feasibility")], r, RULES)
    assert pos["current"]["label"] == "4. Test feasibility (name not found; placeholder)"
    assert pos["needs"][0] == "feasibility (feas): not ready for a pilot of outcomes"
