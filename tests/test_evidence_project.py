"""Evidence on a (small, throw-away) project: external studies, saved results, the CLI, the
portfolio file, the pathway, the rules file and the bad-input messages of the YAML formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_evidence_helpers import clean_pair, study

from evalkit.cli import main
from evalkit.errors import EvalkitError
from evalkit.evidence.pathway import pathway_position
from evalkit.api import rate_project
from evalkit.evidence.portfolio import build_portfolio, portfolio_json
from evalkit.evidence.rate import rate_results
from evalkit.evidence.rules import DEFAULT_RULES, load_rules

REPO = Path(__file__).resolve().parents[1]
RULES = load_rules()


CONTRACT = Path(__file__).resolve().parent / "contract"


@pytest.fixture
def mvp_project(tmp_path) -> Path:
    """The MVP logic model with the contract's external trial (a reported record) and a pre/post
    plan whose data are absent. Here bystander confidence is given an EIF outcome category so that
    the trial's result is a child outcome (in the example it is an attitude and carries no level)."""
    root = tmp_path / "project"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations").mkdir()
    text = (REPO / "logic_models" / "mvp.yml").read_text()
    text = text.replace("    measures: confidence\n", "    measures: confidence\n    eif_outcome: crime_violence_and_antisocial_behaviour\n")
    (root / "logic_models" / "mvp.yml").write_text(text)
    shutil.copy(REPO / "logic_models" / "sport.yml", root / "logic_models")
    shutil.copy(CONTRACT / "evaluations" / "mvp-external-trial.yml", root / "evaluations")
    shutil.copy(REPO / "evaluations" / "mvp-prepost.yml", root / "evaluations")
    return root


def test_external_trial_rates_mvp_at_level_3(mvp_project):
    ratings, _notes, _project = rate_project(mvp_project)
    by_id = {r.intervention: r for r in ratings}
    mvp = by_id["mvp"]
    assert (mvp.level, mvp.not_effective) == ("3", False)
    explanation = "\n".join(mvp.explanation)
    assert "Level 3 rests on mvp-external-trial (randomised controlled trial, external, SMS 5)" in explanation
    assert "Not Level 4: needs at least 2 separate studies (samples)" in explanation
    assert "Not rated: mvp-2023-prepost: could not be run" in explanation  # its data file is not there
    trial = mvp.studies[0]
    status = {c.id: c.status for c in trial.checks}
    assert status["intention_to_treat"] == "passed" and status["baseline_equivalence"] == "passed"
    assert status["attrition"] == "passed"  # 14% overall, 3 points: within the cautious WWC boundary (6.0)
    assert by_id["sport"].level == "NL2"
    assert by_id["sport"].extras["yef"][0]["impact"] == "high"
    path = mvp.extras["pathway"]
    # after efficacy comes an effectiveness study (step 7), not monitoring
    assert path["current"]["step"] == 6 and path["next"]["step"] == 7
    assert path["next"]["label"] == "7. Test for effectiveness (name unconfirmed)"
    assert any("independent replication" in n for n in path["needs"])
    assert any("12 months or more after the programme ended" in n for n in path["needs"])
    assert any(e["approach"] == "Mentoring programmes" and e["year"] == 2021 for e in mvp.extras["evidence_statements"])


def test_saved_results_are_used_and_stale_ones_rerun(mvp_project, capsys):
    from evalkit.project import load_project
    from evalkit.run import default_out, run_and_write

    project = load_project(mvp_project, check_data=False)
    run_and_write(project.evaluations["mvp-external-trial"], default_out(mvp_project, project.evaluations["mvp-external-trial"]))
    _ratings, notes, _ = rate_project(mvp_project, run_missing=False)
    assert not any("mvp-external-trial" in n for n in notes)
    plan = mvp_project / "evaluations" / "mvp-external-trial.yml"
    plan.write_text(plan.read_text().replace("p_value: 0.002", "p_value: 0.2"))
    ratings, _notes, _ = rate_project(mvp_project, run_missing=False)
    mvp = next(r for r in ratings if r.intervention == "mvp")
    assert mvp.not_effective and mvp.level == "NL2"  # the edited plan was re-read, not the stale results


def test_no_run_leaves_missing_results_unrated(mvp_project):
    ratings, _notes, _ = rate_project(mvp_project, run_missing=False)
    mvp = next(r for r in ratings if r.intervention == "mvp")
    assert any(u.evaluation == "mvp-2023-prepost" and "run `evalkit run mvp-2023-prepost`" in u.reason
               for u in mvp.unrated)


def test_cli_rate_json(mvp_project, capsys):
    assert main(["rate", "--json", "--project", str(mvp_project)]) == 0
    out = json.loads(capsys.readouterr().out)
    ratings = {r["intervention"]: r for r in out["ratings"]}
    mvp = ratings["mvp"]
    assert mvp["level"] == "3" and mvp["not_effective"] is False
    assert mvp["level"] in ("NL2", "2", "2+", "3", "3+", "4", "4+")
    assert mvp["checks"]["mvp-external-trial"][0] == {
        "id": "causal_design", "label": "causal design", "status": "passed",
        "evidence": "randomised controlled trial: a comparison group allows a judgement about causality",
        "rules": ["causal_designs"]}
    assert mvp["explanation"][0].startswith("Level 3 rests on mvp-external-trial")
    assert set(mvp["rests_on"]) == {"EIF", "toolkit_default"}


def test_cli_rate_text_and_unknown_intervention(mvp_project, capsys):
    assert main(["rate", "mvp", "--checks", "--project", str(mvp_project)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mvp: Mentors in Violence Prevention: Self-assessed Level 3 (against the EIF evidence "
                          "standards with evalkit; not an EIF rating)")
    assert "[pass] intention-to-treat: analysed as randomised (as reported)" in out
    assert main(["rate", "knife-arches", "--project", str(mvp_project)]) == 1
    assert "knife-arches: no such intervention" in capsys.readouterr().err


def test_cli_compare_writes_a_deterministic_portfolio(mvp_project, capsys):
    assert main(["compare", "--project", str(mvp_project)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["intervention", "self-assessed", "level"]
    assert "not EIF ratings" in out
    path = mvp_project / ".evalkit" / "results" / "portfolio.json"
    first = path.read_bytes()
    assert main(["compare", "--project", str(mvp_project)]) == 0
    assert path.read_bytes() == first
    portfolio = json.loads(first)
    assert portfolio["schema"] == "evalkit.portfolio/v1"
    assert [r["intervention"] for r in portfolio["interventions"]] == ["mvp", "sport"]
    mvp = portfolio["interventions"][0]
    assert mvp["headline"]["indicator"] == "intervene_confidence"
    assert (mvp["headline"]["ci_low"], mvp["headline"]["ci_high"]) == (0.08, 0.34)
    assert mvp["pathway"]["current"]["step"] == 6
    assert mvp["forest"][0]["evaluation"] == "mvp-external-trial"
    assert main(["compare", "--sort", "name", "--project", str(mvp_project)]) == 0


def test_portfolio_sorts_by_level_with_ne_after():
    pairs = [clean_pair("a", "p1"), study("b", intervention="p2"), clean_pair("c", "p3", p=0.5),
             study("d", intervention="p4", p=0.5)]
    ratings = rate_results([p[0] for p in pairs], {p[1].evaluation: p[1] for p in pairs}, rules=RULES)
    portfolio = build_portfolio(ratings, RULES)
    assert [(r["intervention"], r["level"], r["not_effective"]) for r in portfolio["interventions"]] == [
        ("p1", "3", False), ("p2", "2", False), ("p4", "NL2", False), ("p3", "NL2", True)]
    assert portfolio_json(portfolio) == portfolio_json(build_portfolio(ratings, RULES))
    with pytest.raises(EvalkitError, match="--sort: 'colour' is not a valid choice"):
        build_portfolio(ratings, RULES, sort="colour")


def test_pathway_position_and_next_step():
    r = rate_results([study("pp")[0]], rules=RULES)[0]
    pos = pathway_position([("pp", "pilot_for_outcomes", "pre_post")], r, RULES)
    assert pos["current"]["label"] == "5. Pilot for outcomes (name unconfirmed)"
    assert pos["next"]["step"] == 6
    assert "a comparison group (matched comparison, difference-in-differences or RCT)" in pos["needs"]
    # at the efficacy step but the study falls short: the step is not finished
    result, ctx = clean_pair("m", "prog", sections={})
    r = rate_results([result], {"m": ctx}, rules=RULES)[0]
    pos = pathway_position([("m", "test_for_efficacy", "matched_comparison")], r, RULES)
    assert pos["behind"] and pos["needs"][0].startswith("Finish step 6: it aims at Level 3, the rating is 2 "
                                                       "(m: baseline equivalence unknown")
    # the strategy's order: efficacy, effectiveness, refine and monitor, adapt and transport, scale;
    # step 4's EIF name was not found (a placeholder), step 1 is confirmed, the others are the strategy's
    steps = {s["step"]: s for s in RULES.value("pathway")}
    assert [steps[i]["name"] for i in range(5, 11)] == ["Pilot for outcomes", "Test for efficacy",
                                                        "Test for effectiveness", "Refine and monitor",
                                                        "Adapt and transport", "Take to scale"]
    assert steps[4]["name_status"] == "placeholder" and steps[1]["name_status"] == "confirmed"
    assert {steps[i]["name_status"] for i in (2, 3, 5, 6, 7, 8, 9, 10)} == {"unconfirmed"}


def test_every_rule_is_tagged():
    assert RULES.version
    assert {r.published_by for r in RULES.rules.values()} == {"EIF", "toolkit_default"}
    eif = {rid for rid, r in RULES.rules.items() if r.published_by == "EIF"}
    assert eif == {"level_scale", "child_outcome_required", "level2_preliminary", "level3_rigorous",
                   "level4_min_studies", "level4_follow_up_months", "not_effective_flag"}
    assert RULES["plus"].value["enabled"] is False  # EIF's '+' criteria are not published
    assert len(RULES["wwc_attrition_boundary"].value) == 66  # WWC Handbook v4.1 Table II.1, 0-65% overall


@pytest.mark.parametrize(("edit", "message"), [
    (("published_by: EIF\n    status: confirmed\n    says: Programme levels", "published_by: WWC\n    status: "
      "confirmed\n    says: Programme levels"), "rules.level_scale.published_by: found 'WWC'; expected one of 'EIF', "
                                                "'toolkit_default'"),
    (("  min_n_per_arm:\n    value: 30", "  min_n_per_arm:\n    value: -1"),
     r"rules.min_n_per_arm.value: found -1; expected a whole number >= 0"),
    (("  parallel_trends_alpha:", "  parallel_trends_alfa:"), "rules missing: parallel_trends_alpha"),
    (("schema: evalkit.evidence-rules/v1", "schema: v0"), "schema is 'v0'; expected 'evalkit.evidence-rules/v1'"),
])
def test_bad_rules_file(tmp_path, edit, message):
    text = DEFAULT_RULES.read_text()
    assert edit[0] in text
    path = tmp_path / "rules.yml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(EvalkitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_rules(path)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("design: rct", "design: cohort_study",
     "design: invalid value (found 'cohort_study'; expected one of 'pre_post'"),
    ("\nfollow_up_months: 12", "\nfollow_up_months: -3",
     "follow_up_months: invalid value (found -3; expected greater than or equal to 0)"),
    ("  follow_up_months: 12\n  results:", "  follow_up_months: -1\n  results:",
     "external.follow_up_months: invalid value (found -1; expected greater than or equal to 0)"),
    ("      estimate: 0.21\n", "",
     "external.results[0].estimate: required key is missing (found nothing; expected a value for 'estimate')"),
])
def test_bad_plans_are_stopped_by_validation_with_a_clear_message(mvp_project, capfd, old, new, message):
    plan = mvp_project / "evaluations" / "mvp-external-trial.yml"
    text = plan.read_text()
    assert old in text
    plan.write_text(text.replace(old, new, 1))
    from evalkit.project import validate_project

    assert main(["rate", "--project", str(mvp_project)]) == 1
    assert "evalkit rate: the project has 1 error(s)" in capfd.readouterr().err
    problems = [str(p) for p in validate_project(mvp_project, check_data=False).errors]
    assert len(problems) == 1 and message in problems[0]


@pytest.mark.slow
def test_every_rating_in_the_example_project_is_explained(example_project_ro):
    """Done when: every rating names its studies and checks (runs every design in memory)."""
    from evalkit.evidence.assess import CHECK_LABELS

    ratings, _notes, project = rate_project(example_project_ro)
    assert {r.intervention for r in ratings} == set(project.interventions)
    for r in ratings:
        assert not r.unrated, (r.intervention, r.unrated)
        explanation = "\n".join(r.explanation)
        assert explanation.splitlines()[-1].startswith("Rests on ")
        if not r.studies:
            assert r.level == "NL2" and "no rated study" in explanation
            continue
        if not r.applicable:
            assert "is a place-based strategy" in explanation
            continue
        rated = [s.evaluation for s in r.studies if s.design != "feasibility"]
        assert any(e in explanation for e in rated), (r.intervention, explanation)
        assert any(label in explanation for label in CHECK_LABELS.values()), (r.intervention, explanation)
    by_id = {r.intervention: r.level for r in ratings}
    assert by_id["mvp"] == "NL2"  # its outcomes are attitudes; the external trial is illustrative
    mvp = next(r for r in ratings if r.intervention == "mvp")
    assert mvp.unverified == ("mvp-external-trial",)
    assert by_id["strategy"] == "not applicable"
    assert by_id["ete"] == by_id["sport"] == "NL2"  # no studies


def test_the_portfolio_page_shows_the_strategy_evidence_statements_and_says_self_assessed(tmp_path):
    """Issue 14.6 and 14.4: the strategy's evidence statements beside each level, every level self-assessed."""
    import html as h
    import re

    from evalkit.publish.policy import Policy
    from evalkit.publish.publication import Publication
    from evalkit.report.portfolio import build_portfolio_page

    pub = Publication(Policy(), project_root=tmp_path, out_root=tmp_path / "out", setting="test")
    portfolio = {"interventions": [
        {"intervention": "vip", "name": "Violence Intervention Project", "level": "2", "studies": [], "n_studies": 1,
         "evidence_statements": [{"short": "A&E navigators: high impact (YEF Toolkit)"},
                                 {"short": "Pre-court diversion: moderate impact (YEF Toolkit)"}]},
        {"intervention": "strategy", "name": "VRN strategy", "level": "not applicable", "studies": [], "n_studies": 1,
         "headline": {"label": "Knife crime", "child_outcome": False}}]}
    build_portfolio_page(pub, "index", [], portfolio, {})
    out = pub.publish(log=lambda *_: None)
    assert not out.failed, out.failed
    text = " ".join(h.unescape(re.sub(r"<[^>]+>", " ", out.pages["index"]["html"].read_text())).split())
    assert "A&E navigators: high impact (YEF Toolkit); Pre-court diversion: moderate impact (YEF Toolkit)" in text
    assert "self-assessed EIF level" in text and "none is an EIF rating" in text
    assert "not applicable" in text and "Knife crime (not a child outcome: carries no level)" in text
