"""Throw-away pre/post projects for the pre/post tests (no tests here, only builders)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

REFERENCE = Path(__file__).resolve().parent / "reference" / "prepost"

# indicator id -> its logic-model entry
INDICATORS = {
    "sdq": {"label": "SDQ total difficulties", "measures": "wellbeing", "type": "score", "direction": "decrease",
            "source": "survey",
            "instrument": {"name": "SDQ self-report", "range": [0, 40], "validated": True, "reliability": 0.8,
                           "reliability_kind": "internal_consistency", "norm_sd": 5.2}},
    "wellbeing": {"label": "Wellbeing score", "measures": "wellbeing", "type": "score", "direction": "increase",
                  "source": "survey"},
    "susp": {"label": "Suspended in the term", "measures": "wellbeing", "type": "binary", "direction": "decrease",
             "source": "education"},
    "offences": {"label": "Offences in the term", "measures": "less-violence", "type": "count",
                 "direction": "decrease", "source": "police"},
}


def make_plan(root: Path, frame: pd.DataFrame, timepoints: dict, *, primary: str | None = None,
              cluster: str | None = None, subgroups: tuple = (), prevention: str = "primary",
              instrument_overrides: dict | None = None, check_data: bool = False):
    """Write a one-evaluation project holding ``frame`` and return the resolved Evaluation."""
    from evalkit.project import load_project

    (root / "logic_models").mkdir(parents=True, exist_ok=True)
    (root / "evaluations" / "data").mkdir(parents=True, exist_ok=True)
    indicators = []
    for ind_id in timepoints:
        entry = {"id": ind_id, **INDICATORS[ind_id]}
        if instrument_overrides and ind_id in instrument_overrides:
            entry["instrument"] = {**entry.get("instrument", {"name": "scale"}), **instrument_overrides[ind_id]}
        indicators.append(entry)
    logic = {
        "id": "demo", "name": "Demo programme", "summary": "A programme for tests.", "prevention": prevention,
        "population": {"description": "Young people aged 11-16", "age": [11, 16]}, "problem": "Tests.",
        "theory_of_change": {
            "activities": [{"id": "sessions", "label": "Sessions"}],
            "outcomes": [{"id": "wellbeing", "label": "Better wellbeing", "horizon": "short"}],
            "impact": [{"id": "less-violence", "label": "Less violence"}],
            "links": [["sessions", "wellbeing"], ["wellbeing", "less-violence"]]},
        "indicators": indicators}
    plan = {"id": "demo-prepost", "intervention": "demo", "title": "Demo pre/post", "stage": "pilot_for_outcomes",
            "design": "pre_post", "evaluator": {"name": "Tests", "independent": False},
            "data": {"path": "data/demo.csv", "id": "id"}, "timepoints": timepoints,
            "primary_outcome": primary or next(iter(timepoints)), "follow_up_months": 6, "seed": 1}
    if cluster:
        plan["cluster"] = cluster
    if subgroups:
        plan["subgroups"] = list(subgroups)
    (root / "logic_models" / "demo.yml").write_text(yaml.safe_dump(logic, sort_keys=False))
    (root / "evaluations" / "demo.yml").write_text(yaml.safe_dump(plan, sort_keys=False))
    frame.to_csv(root / "evaluations" / "data" / "demo.csv", index=False)
    project = load_project(root, check_data=check_data)
    return project.evaluation("demo-prepost")


def reference_values() -> dict[tuple[str, str], float]:
    ref = pd.read_csv(REFERENCE / "reference_values.csv")
    return {(r.dataset, r.quantity): float(r.value) for r in ref.itertuples()}
