"""The comparison-area design as a plan runs it (issue 18, phase B): validation, bad panels, exact
rank p-values, the example's recovery of its planted effect, and the report section."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, run_cli

PLAN = """\
id: areas
intervention: strategy
title: Against comparison areas
stage: refine_and_monitor
design: comparison_areas
evaluator: {{name: Team, independent: false}}
data:
  path: data/panel.csv
  id: area
  period: month
  population: population
outcomes:
  knife_sv: knife_sv_offences
comparison_areas:
  treated_from: treated_from
{extra}primary_outcome: knife_sv
follow_up_months: 51
seed: 7
"""


def _panel(n_donors: int = 19, seed: int = 3) -> pd.DataFrame:
    from evalkit.synth.place import place_panel

    frame, _ = place_panel(np.random.default_rng(seed), n_donors=n_donors)
    return frame


def _project(tmp_path: Path, frame: pd.DataFrame, extra: str = "") -> Path:
    root = tmp_path / "p"
    (root / "logic_models").mkdir(parents=True)
    shutil.copy(REPO / "logic_models" / "strategy.yml", root / "logic_models" / "strategy.yml")
    (root / "evaluations" / "data").mkdir(parents=True)
    (root / "evaluations" / "areas.yml").write_text(PLAN.format(extra=textwrap.indent(extra, "  ")), encoding="utf-8")
    frame.to_csv(root / "evaluations" / "data" / "panel.csv", index=False)
    return root


def _run(root: Path):
    from evalkit.project import load_project
    from evalkit.run import run

    return run(load_project(root).evaluation("areas"))


# ------------------------------------------------------------------------------ validation


def test_an_unknown_method_is_refused_at_validate_with_the_line_and_the_choices(tmp_path):
    root = _project(tmp_path, _panel(), "method: synthetic\n")
    out = run_cli("validate", "--project", str(root))
    assert out.returncode == 1
    line = next(x for x in out.stdout.splitlines() + out.stderr.splitlines() if "comparison_areas.method" in x)
    assert line.startswith("evaluations/areas.yml:") and "'synth'" in line and "'augmented'" in line


def test_a_plan_without_the_options_block_or_population_is_refused(tmp_path):
    from evalkit.project import validate_project

    root = _project(tmp_path, _panel())
    plan = root / "evaluations" / "areas.yml"
    text = plan.read_text().replace("comparison_areas:\n  treated_from: treated_from\n", "")
    plan.write_text(text.replace("  population: population\n", ""))
    problems = [str(p) for p in validate_project(root, check_data=False).errors]
    assert any("comparison_areas: required key is missing" in p for p in problems), problems
    assert any("data.population" in p for p in problems), problems


# ------------------------------------------------------------------------------ bad panels: one line each


@pytest.mark.parametrize("case, needle", [
    ("few_donors", "9 donor area(s); expected at least 19"),
    ("few_pre", "pre-period month(s) (2018-01 to 2019-09); expected at least 24"),
    ("missing_treated", "treated area 'Leicestr' is not in the panel (did you mean 'Leicester'?)"),
    ("donor_treated", "donor Comparison CSP 03 was treated from 2021-04, inside the window 2016-01 to 2023-12"),
    ("outside_hull", "is above every donor's"),
])
def test_each_bad_panel_is_one_line_naming_what_was_found_and_what_is_needed(tmp_path, case, needle):
    frame = _panel()
    extra = ""
    if case == "few_donors":
        keep = ["Leicester"] + [f"Comparison CSP {i:02d}" for i in range(1, 10)]
        frame = frame[frame["area"].isin(keep)]
    elif case == "few_pre":
        frame = frame[frame["month"] >= "2018-01"]
    elif case == "missing_treated":
        extra = "treated_area: Leicestr\n"
    elif case == "donor_treated":
        frame.loc[frame["area"] == "Comparison CSP 03", "treated_from"] = "2021-04"
        extra = "treated_area: Leicester\n"
    elif case == "outside_hull":
        lei = frame["area"] == "Leicester"
        frame.loc[lei, "knife_sv_offences"] = frame.loc[lei, "knife_sv_offences"] * 6
    root = _project(tmp_path, frame, extra)
    out = run_cli("run", "areas", "--project", str(root), "--no-store")
    assert out.returncode == 1, out.stdout + out.stderr
    lines = [x for x in out.stderr.strip().splitlines() if x]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert needle in lines[0], lines[0]
    assert "expected" in lines[0]
    assert not (root / ".evalkit" / "results" / "areas" / "results.json").exists()


# ------------------------------------------------------------------------------ exact rank p-values


def test_the_p_value_is_the_exact_rank_over_the_donors_and_each_placebo_is_a_real_refit():
    from evalkit.estimate.place import comparison_panel, synthetic_control
    from evalkit.synth.place import place_measures

    frame = _panel(n_donors=19, seed=5)
    measures = [m for m in place_measures() if m.name == "knife_sv_offences"]
    panel = comparison_panel(frame, measures, treated_from="treated_from")
    res = synthetic_control(panel, "knife_sv_offences", placebo_in_time_months=0)
    J = res.n_donors
    ratios = np.array([p.ratio for p in res.placebos])
    assert J == 19 and len(ratios) == J
    # rank: the treated area plus every donor at least as extreme; p = rank / (J + 1), exactly
    assert res.rank == 1 + int(np.sum(ratios >= res.rmspe_ratio))
    assert res.p_value == res.rank / (J + 1)
    assert (res.p_value * (J + 1)) == int(res.p_value * (J + 1))
    # a placebo is the same estimator with that donor as the treated area and the real one left out
    donor = res.placebos[4].area
    alone = frame[frame["area"] != "Leicester"].copy()
    alone["treated_from"] = np.where(alone["area"] == donor, "2019-10", "")
    other = comparison_panel(alone, measures, treated_from="treated_from", min_donors=18)
    refit = synthetic_control(other, "knife_sv_offences", placebo_in_time_months=0)
    assert refit.pre_rmspe == pytest.approx(res.placebos[4].pre_rmspe, rel=1e-9)
    assert refit.rmspe_ratio == pytest.approx(res.placebos[4].ratio, rel=1e-9)


def test_a_tie_with_a_placebo_counts_against_the_treated_area():
    from evalkit.estimate.place.synthetic_control import PlaceboRun

    # the rule of synthetic_control: rank = 1 + #(placebo ratio >= treated ratio)
    runs = [PlaceboRun("a", 1.0, 2.0, 2.0), PlaceboRun("b", 1.0, 1.0, 1.0), PlaceboRun("c", 1.0, 3.0, 3.0)]
    treated = 2.0
    rank = 1 + sum(r.ratio >= treated for r in runs)
    assert rank == 3 and rank / (len(runs) + 1) == 0.75


# ------------------------------------------------------------------------------ the example


@pytest.fixture(scope="module")
def example(example_result):
    return example_result("strategy-areas")


def test_the_example_recovers_its_planted_effect_within_its_interval(example, example_project_ro):
    from evalkit.synth.recovery import recovery_rows

    truths = {(t["indicator"], t["subgroup"]): t["value"]
              for t in __import__("evalkit.synth.writer", fromlist=["true_effects"]).true_effects(
                  example_project_ro / "evaluations" / "data" / "areas")}
    assert len(truths) == 5
    primary = next(e for e in example.estimates if e.primary)
    assert (primary.indicator, primary.estimand, primary.subgroup) == ("knife_sv", "events_prevented", "all")
    truth = truths[("knife_sv", "all")]
    assert 300 < truth < 420  # about 15% of Leicester's knife offences over 51 months
    assert primary.ci_low <= truth <= primary.ci_high
    assert abs(primary.estimate - truth) < 0.5 * (primary.ci_high - primary.ci_low)
    assert primary.ci_level == pytest.approx(1 - 2 / 40)  # m = 1 with 39 donors
    for e in example.estimates:
        if e.estimand == "events_prevented":
            assert e.ci_low <= truths[(e.indicator, e.subgroup)] <= e.ci_high, e


def test_the_example_section_holds_what_the_report_draws(example):
    sec = example.section("comparison_areas")
    assert sec.treated_area == "Leicester" and sec.start == "2019-10" and sec.n_donors == 39
    m = sec.measures["knife_sv"]
    sc = m["synthetic_control"]
    assert len(sc["months"]) == 96 and len(sc["placebo_gaps"]) == 39
    assert sum(w["weight"] for w in sc["weights"]) == pytest.approx(1.0)
    assert min(w["weight"] for w in sc["weights"]) >= 0
    post = [r for r in sc["months"] if r["period"] == "post"]
    assert sum(r["observed_events"] for r in post) == sc["events_observed"]
    assert sc["events_prevented"] == pytest.approx(sc["events_counterfactual"] - sc["events_observed"])
    assert sec.measures["homicides"]["rate_per"] == 1_000_000 and m["rate_per"] == 100_000
    assert "knife_sv_u25" in sec.measures and sec.measures["knife_sv_u25"]["age_group"] == "under 25"
    did = m["area_did"]
    assert did["wild_bootstrap"]["draws"] > 0 and did["permutation_p_value"] is not None


def test_the_example_is_the_same_from_another_process_and_row_order(example_project, example_run, tmp_path):
    import subprocess
    import sys

    from conftest import EXAMPLE_RUN_HASH_SEED

    # the first run: conftest's example_run (`evalkit run --no-store` of every plan, hash seed 1, the
    # rows in their order), shared with the other modules; the second is this one, rows shuffled
    assert EXAMPLE_RUN_HASH_SEED != "99"
    outs = [(example_run / ".evalkit" / "results" / "strategy-areas" / "results.json").read_bytes()]
    data = example_project / "evaluations" / "data" / "areas" / "area_panel.csv"
    assert data.read_bytes() == (example_run / "evaluations" / "data" / "areas" / "area_panel.csv").read_bytes()
    frame = pd.read_csv(data, dtype=str, keep_default_na=False)
    frame.sample(frac=1.0, random_state=11).to_csv(data, index=False)
    assert data.read_bytes() != (example_run / "evaluations" / "data" / "areas" / "area_panel.csv").read_bytes()
    out = tmp_path / "o1"
    subprocess.run([sys.executable, "-m", "evalkit", "run", "strategy-areas", "--project", str(example_project),
                    "--no-store", "--out", str(out)], check=True, capture_output=True,
                   env={**__import__("os").environ, "PYTHONHASHSEED": "99"}, timeout=600)
    outs.append((out / "results.json").read_bytes())
    assert outs[0] == outs[1]


def test_the_report_shows_the_section_with_its_figures_and_statement(tmp_path, example):
    from test_publish_routes import _text
    from test_report_data import context, publish_report

    text = _text(publish_report(tmp_path, example, context())["html"])
    for words in ("Against comparison areas", "What a place-based estimate can and cannot say",
                  "not an EIF programme rating", "permutation band", "Placebo gaps", "per 1,000,000 residents",
                  "aged under 25", "Comparison CSP", "Events prevented (expected minus recorded"):
        assert words in text, words
    sc = example.section("comparison_areas").measures["knife_sv"]["synthetic_control"]
    # the words say the numbers beside them
    assert f"{sc['events_prevented']:.1f}" in text and f"p-value is {sc['p_value']:.3f}" in text
