"""Honest EIF ratings (issue 14): one sample is one study, attrition is judged, only child
outcomes carry a level, lasting effects count from the programme's end, unverified records are
never counted, a place-based strategy is not applicable, and every level says it is self-assessed.

Small hand-made portfolios (no data): the rules must hold for any portfolio, not the example's.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from test_evidence_helpers import CLEAN_BALANCE, estimate, external_section, study

from evalkit.evidence.assess import assess_study
from evalkit.evidence.portfolio import build_portfolio
from evalkit.evidence.rate import NOT_APPLICABLE, level_rank, rate_results
from evalkit.evidence.rules import load_rules
from evalkit.evidence.text import portfolio_table, rating_text

RULES = load_rules()


def rate(*pairs, place_based=False):
    @dataclass
    class Model:
        name: str = "A programme"
        place_based: bool = False

    ratings = rate_results([p[0] for p in pairs], {p[1].evaluation: p[1] for p in pairs},
                           interventions={"prog": Model(place_based=place_based)}, rules=RULES)
    assert len(ratings) == 1
    return ratings[0]


def text(rating) -> str:
    return "\n".join(rating.explanation)


def matched(name, *, follow_up=18, duration=6, p=0.001, **kw):
    """A clean matched comparison (Level-3 quality) with the outcome at ``follow_up`` months from the start."""
    return study(name, "matched_comparison", follow_up=follow_up, duration=duration, p=p, n=200,
                 timepoints=("baseline", f"follow_up_{follow_up}m"), sections={"balance": CLEAN_BALANCE}, **kw)


# ---------------------------------------------------------------------------- one sample, one study


def test_two_separate_samples_with_a_lasting_effect_are_level_4():
    r = rate(matched("m1", data_sha256="a"), matched("m2", data_sha256="b"))
    assert r.level == "4" and len(r.study_groups) == 2


@pytest.mark.parametrize("same", [
    {"data_sha256": "same-file"},                      # another matching specification on the same file
    {"units_sha256": "same-units"},                    # IPW instead of matching, on a copy of the data
    {"study_id": "cohort-2023"},                       # declared as the same study
])
def test_reanalyses_of_one_sample_never_reach_level_4(same):
    first = {"data_sha256": "f1", "units_sha256": "u1", **same}
    second = {"data_sha256": "f2", "units_sha256": "u2", **same}
    r = rate(matched("match-nn", **first), matched("match-ipw", **second))
    assert r.level == "3"
    assert len(r.study_groups) == 1 and len(r.studies) == 2
    assert "re-analyse the same sample and count as its sensitivity analyses, not as more studies" in text(r)
    assert "at least 2 separate studies (samples)" in text(r)
    # a third re-analysis changes nothing; a genuinely new sample does
    assert rate(matched("a", **first), matched("b", **second), matched("c", **first)).level == "3"
    assert rate(matched("a", **first), matched("b", **second), matched("new", data_sha256="x")).level == "4"


def test_a_study_is_judged_on_its_main_analysis_not_its_best_specification():
    # two specifications of one sample: one significant, one not. Undeclared, the least favourable rules
    r = rate(matched("spec-a", data_sha256="s"), matched("spec-b", data_sha256="s", p=0.3))
    assert r.study_groups[0].main.evaluation == "spec-b"
    assert r.level == "NL2" and r.not_effective
    # declaring which analysis is the main one (before seeing results, in the plan) is respected
    r = rate(matched("spec-a", data_sha256="s"), matched("spec-b", data_sha256="s", p=0.3, study_role="sensitivity"))
    assert r.study_groups[0].main.evaluation == "spec-a" and r.level == "3"
    assert "Sensitivity: spec-b support(s) a lower level than spec-a" in text(r)


def test_the_same_external_study_recorded_twice_is_one_study():
    def trial(name):
        ext = external_section(follow_up_months=18, citation="Smith et al. (2021) A trial.")
        return study(name, "rct", estimates=[estimate(design="rct", estimand="reported", units="as reported",
                                                      n_treated=300, n_comparison=290,
                                                      timepoints=("baseline", "follow_up_18m"))],
                     sections={"external": ext}, follow_up=18)
    r = rate(trial("t1"), trial("t2"))
    assert r.level == "3" and len(r.study_groups) == 1


# ---------------------------------------------------------------------------- child outcomes only


@pytest.mark.parametrize("indicator", ["referrals", "attitude"])
def test_a_non_outcome_indicator_carries_no_level(indicator):
    # an output (referrals) or an attitude without an EIF outcome category improves significantly
    r = rate(study("pp", estimates=[estimate(indicator)]))
    assert r.level == "NL2"
    why = "measures an output" if indicator == "referrals" else "no EIF outcome category"
    assert why in text(r)
    trial = study("m", "matched_comparison", estimates=[estimate(indicator, design="matched_comparison")],
                  sections={"balance": CLEAN_BALANCE})
    assert rate(trial).level == "NL2"
    # shown beside the outcomes, with what it is
    a = assess_study(*study("pp", estimates=[estimate(indicator), estimate("wellbeing", primary=False)]), RULES)
    roles = {o.indicator: o.role for o in a.outcomes}
    assert roles["wellbeing"] == "child outcome (mental health and wellbeing)"
    assert roles[indicator].startswith("not a child outcome")


# ---------------------------------------------------------------------------- lasting a year after the programme


def test_follow_up_counts_from_the_end_of_the_programme():
    # 12 months from the start of a 6-month programme is 6 months after it ended: not Level 4
    r = rate(matched("m1", follow_up=12, data_sha256="a"), matched("m2", follow_up=12, data_sha256="b"))
    assert r.level == "3"
    assert "12 months from the start, 6 after the 6-month programme ended" in r.studies[0].check("follow_up").evidence
    # 18 months from the start is 12 after the end
    assert rate(matched("m1", data_sha256="a"), matched("m2", follow_up=12, data_sha256="b")).level == "4"
    # a plan that counts its follow-up from the programme's end needs no arithmetic
    assert rate(matched("m1", follow_up=12, follow_up_from="programme_end", data_sha256="a"),
                matched("m2", follow_up=12, data_sha256="b")).level == "4"
    # without the programme's length the months after its end are unknown, so Level 4 cannot be shown
    r = rate(matched("m1", duration=None, data_sha256="a"), matched("m2", duration=None, data_sha256="b"))
    assert r.level == "3"
    assert "is not recorded (logic model duration_months)" in r.studies[0].check("follow_up").evidence


# ---------------------------------------------------------------------------- unverified records


@pytest.mark.parametrize("status", ["unverified", "illustrative"])
def test_unverified_records_carry_no_published_level(status):
    ext = external_section(follow_up_months=12, status=status)
    record = study("ext", "rct", estimates=[estimate(design="rct", estimand="reported", units="as reported",
                                                     n_treated=300, n_comparison=290,
                                                     timepoints=("baseline", "follow_up_12m"))],
                   sections={"external": ext}, follow_up=12)
    assert assess_study(*record, RULES).supports == "3"  # as recorded it would support Level 3...
    r = rate(record)
    assert r.level == "NL2" and r.unverified == ("ext",)   # ...but it is never counted
    assert f"Unverified: ext is a study record marked {status}" in text(r)
    assert "UNVERIFIED" in rating_text(r)
    # beside a real pre/post study the level is the pre/post's
    assert rate(record, study("pp")).level == "2"


# ---------------------------------------------------------------------------- place-based strategies


def test_a_place_based_strategy_is_not_applicable():
    its = study("its", "interrupted_time_series", estimates=[estimate("wellbeing", design="interrupted_time_series",
                                                                     est=0.8, units="rate ratio")])
    r = rate(its, place_based=True)
    assert r.level == NOT_APPLICABLE and not r.applicable
    assert r.level_words.startswith("Not applicable")
    assert "is a place-based strategy" in text(r) and "NL2" not in r.level_words
    assert r.rank == level_rank(NOT_APPLICABLE) < level_rank("NL2")
    portfolio = build_portfolio([r], RULES)
    row = portfolio["interventions"][0]
    assert row["level"] == NOT_APPLICABLE and row["applicable"] is False
    assert "n/a (place-based)" in portfolio_table({**portfolio, "interventions": [
        {**row, "pathway": None, "yef": []}]})


# ---------------------------------------------------------------------------- said plainly


def test_every_published_level_reads_as_a_self_assessment():
    r = rate(study("pp"))
    assert r.level_words == ("Self-assessed Level 2 (against the EIF evidence standards with evalkit; not an EIF rating)")
    assert rating_text(r).splitlines()[0].startswith("prog: A programme: Self-assessed Level 2")
    portfolio = build_portfolio([r], RULES)
    assert portfolio["interventions"][0]["level_words"] == r.level_words
    assert portfolio["interventions"][0]["self_assessed"] is True
    assert any("none is an EIF rating" in n for n in portfolio["notes"])


def test_a_trials_balance_table_is_not_taken_for_the_analysed_sample_unless_it_says_so():
    # high attrition (45%, 5 points) and a clean balance table that does not say which sample it describes
    balance = {"rows": [{"covariate": "age", "smd": 0.01, "adjusted": True}]}
    trial = study("rct", "rct", sections={"balance": balance, "rct": {"intention_to_treat": True},
                                          "attrition": {"overall": 0.45, "differential": 0.05}},
                  n_treated=150, n_comparison=150)
    r = rate(trial)
    assert r.level == "2"
    assert "no baseline balance of the analysed sample" in r.studies[0].check("attrition").evidence
