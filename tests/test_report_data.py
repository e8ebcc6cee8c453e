"""Data for the report tests (no tests here): ResultSets and contexts built in code, covering every section,
and labels holding markup, without depending on any design module."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.project import results_path
from evalkit.results import EffectSize, Estimate, FlowStage, Manifest, ResultSet, RunWarning

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PERSON_ID = "PUPIL-ID-7731945"


def manifest(**options) -> Manifest:
    return Manifest(evalkit_version="0.1.0", python_version="3.11", dependencies={"numpy": "2.0"}, seed=7,
                    inputs=({"path": "plan.yml", "role": "evaluation plan", "sha256": "ab" * 32},),
                    options={"design": "pre_post", "covariates": ["age"], **options})


def est(indicator, estimate, lo, hi, p, good, *, estimand="mean_change", n=120, primary=False, subgroup="all",
        units="points", n_treated=None, n_comparison=None, ci_level=0.95, design="pre_post") -> Estimate:
    return Estimate(indicator=indicator, design=design, estimand=estimand, timepoints=("baseline", "exit"), n=n,
                    estimate=estimate, std_error=0.1, ci_low=lo, ci_high=hi, p_value=p, method=f"test method {EVIL}",
                    units=units, direction_good=good, effect_size=EffectSize("d_z", 0.3), primary=primary,
                    subgroup=subgroup, comparison="exit vs baseline", ci_level=ci_level, p_value_holm=p,
                    n_treated=n_treated, n_comparison=n_comparison)


def prepost_result() -> ResultSet:
    estimates = (
        est("confidence", 0.2384, 0.1991, 0.2777, 0.00001, True, primary=True),
        est("acceptance", 0.05, -0.02, 0.12, 0.16, False),
        est("fights", 1.31, 1.08, 1.59, 0.006, False, estimand="rate_ratio", units="rate ratio"),
        est("confidence", 0.41, 0.05, 0.77, 0.03, True, subgroup="female=1", n=3),
    )
    flow = (FlowStage("in_data", 130), FlowStage("with_baseline", 127), FlowStage("with_follow_up", 120),
            FlowStage("analysed", 120))
    sections = {
        "attrition": {"overall": 0.077},
        "reliable_change": {
            "confidence": {"method": "Jacobson & Truax", "threshold_points": 0.61, "reliability": 0.8,
                           "reliability_source": "instrument manual", "n": 120, "improved": 40,
                           "no_reliable_change": 78, "deteriorated": 2},
        },
    }
    warnings = (RunWarning("no_causal_claim", f"No comparison group {EVIL}"),
                RunWarning("few_pairs", "Only a few pairs in a subgroup", "confidence"))
    return ResultSet(evaluation="t-prepost", intervention="tp", title=f"Test report {EVIL}", design="pre_post",
                     estimates=estimates, flow=flow, warnings=warnings, sections=sections, manifest=manifest())


def matched_result() -> ResultSet:
    estimates = (
        est("suspended", -0.114, -0.173, -0.055, 0.0002, True, estimand="att", units="proportion", primary=True,
            n=508, n_treated=254, n_comparison=254, design="matched_comparison"),
        est("suspended", 0.5, 0.344, 0.728, 0.0003, True, estimand="risk_ratio", units="ratio", n=508,
            n_treated=254, n_comparison=254, design="matched_comparison"),
    )
    flow = (FlowStage("in_data", 255, "treated"), FlowStage("in_data", 6045, "comparison"),
            FlowStage("treated_pool", 255, "treated"), FlowStage("comparison_pool", 6045, "comparison"),
            FlowStage("discarded", 0, "treated"), FlowStage("discarded", 0, "comparison"),
            FlowStage("matched", 254, "treated"), FlowStage("matched", 254, "comparison"))
    sections = {
        "balance": {"rows": [{"covariate": "age", "smd_before": 0.19, "smd_after": 0.02, "var_ratio_before": 1.01,
                              "var_ratio_after": 0.97, "ecdf_mean_after": 0.01, "ecdf_max_after": 0.03,
                              "wwc_band_after": "satisfies"},
                             {"covariate": EVIL, "smd_before": -0.54, "smd_after": -0.03, "wwc_band_after": "satisfies"}],
                    "flag_any_smd_ge_0_1": False, "wwc_pass": True,
                    "formula": "SMD = (mean treated - mean comparison) / s_t"},
        "propensity": {"model": "logit", "formula": "treated ~ age", "coefficients": []},
        "matching": {"method": "nearest", "ratio": 1, "sizes": {"before": {"treated": 255, "comparison": 6045},
                                                                 "after": {"treated": 254, "comparison": 254}}},
        "robustness": {"refutations": [{"name": "placebo treatment", "original_effect": -0.11, "new_effect": 0.001,
                                        "passed": True, "rule": "new effect near zero"}]},
        "sensitivity": {"e_value": {"point": 2.1, "ci_bound": 1.5}},
    }
    return ResultSet(evaluation="t-matched", intervention="tp", title="Matched test", design="matched_comparison",
                     estimates=estimates, flow=flow, warnings=(), sections=sections,
                     manifest=manifest(design="matched_comparison", matching={"method": "nearest", "caliper": 0.2}))


def context(threshold: int = 5) -> dict:
    return {
        "schema": "evalkit.report-context/v1",
        "evaluation": {"id": "t", "title": "t", "design": "pre_post", "follow_up_months": 3,
                       "evaluator": {"name": f"Team {EVIL}", "independent": False}},
        "intervention": {"id": "tp", "name": f"Test programme {EVIL}"},
        "indicators": {"confidence": {"label": f"Confidence {EVIL}", "measures": "conf", "direction": "increase"},
                       "acceptance": {"label": "Acceptance of violence", "measures": "norms", "direction": "decrease"},
                       "fights": {"label": "Fights", "measures": "norms", "direction": "decrease"},
                       "suspended": {"label": "Suspended", "measures": "conf", "direction": "decrease"}},
        "logic_model": {"nodes": [{"id": "act", "label": f"Sessions {EVIL}", "kind": "activity"},
                                  {"id": "conf", "label": "Confidence [grows] | more", "kind": "outcome"},
                                  {"id": "norms", "label": "Norms", "kind": "outcome"},
                                  {"id": "impact", "label": "Less violence", "kind": "impact"}],
                        "links": [["act", "conf"], ["act", "norms"], ["conf", "impact"], ["norms", "impact"]]},
        "disclosure": {"threshold": threshold},
        "evidence": {"level": "2", "programme": "Test programme", "explanation": [f"Level 2 because {EVIL}"],
                     "rests_on": {"EIF": ["level_scale"], "toolkit_default": ["min_n_per_arm"]}},
    }


def publish_report(root: Path, result: ResultSet, ctx: dict, *, policy=None, pdf: bool = False,
                   portfolio: dict | None = None) -> dict:
    """Build and publish one report (and the portfolio page) under ``root/reports``; return
    {"html": text, "qmd": path, "pdf": path or None, "index": text}."""
    from evalkit.publish.policy import Policy
    from evalkit.publish.publication import Publication
    from evalkit.report.portfolio import build_portfolio_page
    from evalkit.report.sections import build_report

    root = Path(root)
    reports = root / "reports"
    result.write(results_path(root, result.evaluation, create=True))  # the analyst's file, outside reports/
    # person-level rows live in the project's working area, never beside the results
    private = root / ".evalkit" / "private" / result.evaluation
    private.mkdir(parents=True, exist_ok=True)
    (private / "analysed_data.csv").write_text(f"pupil_id,score\n{PERSON_ID},3\n", encoding="utf-8")
    pub = Publication(policy or Policy(threshold=(ctx.get("disclosure") or {}).get("threshold", 5)),
                      project_root=root, out_root=reports, setting="reports")
    build_report(pub, f"{result.evaluation}/index", result, ctx, pdf=pdf)
    build_portfolio_page(pub, "index", [{"id": result.evaluation, "title": result.title, "intervention": "tp",
                                          "design": result.design, "href": f"{result.evaluation}/index.html"}],
                         portfolio, {"tp": "Test programme"})
    out = pub.publish(pdf_pages={f"{result.evaluation}/index"} if pdf else set(), log=lambda *_: None)
    assert not out.failed, out.failed
    files = out.pages[f"{result.evaluation}/index"]
    return {"html": files["html"].read_text(encoding="utf-8"), "qmd": files["qmd"], "pdf": files.get("pdf"),
            "index": out.pages["index"]["html"].read_text(encoding="utf-8"), "publication": pub}
