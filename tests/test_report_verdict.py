"""The report's words and the evidence rating agree on every estimate: both ask
:func:`evalkit.verdict.judge`, under the evidence rules' significance threshold."""

from __future__ import annotations

from pathlib import Path

from dataclasses import replace

import pytest
from test_report_data import est, matched_result, prepost_result

from evalkit.evidence.assess import HEADLINE_ESTIMANDS, assess_study, context_from_results
from evalkit.evidence.rules import load_rules
from evalkit.report import wording as w
from evalkit.verdict import EVIDENCE_WORDS, REPORT_WORDS, SignificanceRule, judge


def awkward_result():
    """Estimates where the p-value and the interval could be read differently."""
    base = prepost_result()
    estimates = (
        # CI excludes 0 but the Holm-adjusted p is above 0.05
        replace(est("confidence", 0.2, 0.02, 0.38, 0.03, True, primary=True), p_value_holm=0.09),
        # a 90% CI excludes 0, p = 0.07 is above the rules' 0.05
        est("acceptance", -0.2, -0.38, -0.02, 0.07, True, ci_level=0.9),
        # no p-value: the interval decides; a ratio by its units only
        replace(est("fights", 1.4, 1.1, 1.8, None, False, units="rate ratio (SE on the log scale)"),
                estimand="did_att"),
        # significant, direction unknown
        est("suspended", 0.3, 0.1, 0.5, 0.004, None),
        # significant harm
        est("suspended", 0.3, 0.1, 0.5, 0.004, False, subgroup="sex=F"),
        # nothing to decide on
        est("confidence", 0.1, None, None, None, True, subgroup="sex=M"),
    )
    return replace(base, estimates=estimates)


RESULTS = {"prepost": prepost_result, "matched": matched_result, "awkward": awkward_result}


def _evidence_verdict(result, e, rules):
    """The rating's verdict on ``e``, from a study holding ``e`` as its one headline estimate."""
    one = replace(e, subgroup="all", primary=True,
                  estimand=e.estimand if e.estimand in HEADLINE_ESTIMANDS else "mean_change")
    study = replace(result, estimates=(one,))
    (outcome,) = assess_study(study, context_from_results(study), rules).outcomes
    return outcome.verdict


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_report_words_and_evidence_verdict_agree_on_every_estimate(name):
    rules = load_rules()
    result = RESULTS[name]()
    for e in result.estimates:
        report = w.verdict(e)
        evidence = _evidence_verdict(result, e, rules)
        assert report.outcome == REPORT_WORDS[evidence], (e, report, evidence)
        head = {"improved": " improved: ", "worsened": " got worse: ", "no clear change": " showed no clear change: ",
                "unknown": "we cannot say"}[report.outcome]
        assert head in w.sentence(e, "X")


def test_the_rules_threshold_is_the_reports_threshold():
    rules = load_rules()
    assert w.default_rule().alpha == rules.value("significance_alpha")
    assert w.default_rule().holm == rules.value("holm_adjusted_p")
    # a context carrying another rule (from `evalkit compare --rules`) is followed by the report
    strict = w.rule_from_context({"significance": {"alpha": 0.01, "holm_adjusted_p": False}})
    e = est("x", 0.2, 0.01, 0.39, 0.03, True)
    assert w.verdict(e, strict).outcome == "no clear change" and w.verdict(e).outcome == "improved"
    assert "0.01" in w.rule_words(strict) and "evidence rating uses the same rule" in w.rule_words(strict)


def test_when_p_and_interval_differ_the_sentence_says_which_decides():
    e = replace(est("x", 0.2, 0.02, 0.38, 0.03, True), p_value_holm=0.09)
    text = w.sentence(e, "X")
    assert "X showed no clear change" in text and "Holm" in text and "excludes no difference" in text
    assert judge(e, SignificanceRule(alpha=0.05, holm=False)).outcome == "improved"


def test_evidence_words_map_one_to_one():
    assert set(EVIDENCE_WORDS.values()) == {"positive", "null", "harmful", "unknown"}
    assert {REPORT_WORDS[v] for v in EVIDENCE_WORDS.values()} == set(EVIDENCE_WORDS)


def test_harmful_results_show_as_worsened_in_the_portfolio_forest(tmp_path):
    from evalkit.publish.policy import Policy
    from evalkit.publish.publication import Publication
    from evalkit.report.portfolio import build_portfolio_page

    rows = [{"evaluation": "t", "label": label, "primary": True, "estimand": "att", "estimate": 0.2, "ci_low": 0.1,
             "ci_high": 0.3, "verdict": verdict}
            for label, verdict in (("a", "harmful"), ("b", "positive"), ("c", "null"), ("d", "unknown"))]
    pub = Publication(Policy(), project_root=tmp_path, out_root=tmp_path / "r", setting="r")
    page = build_portfolio_page(pub, "index", [], {"interventions": [{"intervention": "tp", "forest": rows}]}, {})
    pub.solve()
    spec = next(b.spec for b in page.blocks if type(b).__name__ == "Figure")
    assert [pair[0].outcome for pair in spec._shown()] == ["worsened", "improved", "no clear change", "unknown"]


def test_pre_trend_wording_uses_the_ratings_parallel_trends_threshold():
    from test_report_data import context

    from evalkit.report import sections as S

    result = matched_result()
    result = replace(result, sections={**result.sections, "event_study": {"suspended": {
        "rows": [{"event_time": -2, "estimate": 0.1, "ci_low": -0.1, "ci_high": 0.3}],
        "pre_trend_test": {"p_value": 0.07}}}})
    ctx = context()
    assert w.pre_trend_alpha(ctx) == load_rules().value("parallel_trends_alpha")
    ctx["significance"] = {"alpha": 0.05, "parallel_trends_alpha": 0.1}
    assert "parallel-trends assumption is in doubt" in _event_study_text(result, ctx)


def _event_study_text(result, ctx) -> str:
    from evalkit.publish.policy import Policy
    from evalkit.publish.publication import Publication
    from evalkit.report import sections as S

    pub = Publication(Policy(), project_root=Path("."), out_root=Path("r"), setting="r")
    page = pub.page("x", "x")
    rep = S.Report(page, result, ctx)
    S.flow_cells(rep)
    S.event_study(rep)
    pub.solve()
    return " ".join(b.phrase.plain() for b in page.blocks if hasattr(b, "phrase"))
