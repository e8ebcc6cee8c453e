"""Did the estimators recover the truth? The example data's true effects beside the estimates.

Reads the data dictionary that `evalkit synth` wrote and the `results.json` files that
`evalkit run` wrote (``.evalkit/results/<evaluation>/``), and lines them up: true effect, estimate, 95% CI, whether the CI covers
the truth, and the naive difference where the dictionary has one. Used by `make demo`.
"""

from __future__ import annotations

from pathlib import Path

# a true effect's estimand -> the estimands in results.json that target it, in order of preference
TARGETS = {"att": ("att", "did_att", "itt"), "mean_change": ("mean_change",),
           "change_in_proportion": ("change_in_proportion",), "rate_ratio": ("rate_ratio",),
           "level_change": ("level_change",), "slope_change": ("slope_change",),
           "events_prevented": ("events_prevented",)}


def recovery_rows(project_root: Path) -> list[dict]:
    from evalkit.project import results_path, validate_project
    from evalkit.results import ResultSet
    from evalkit.synth.writer import DICTIONARY_JSON, true_effects

    validation = validate_project(project_root, check_data=False)
    folders = {ev.data.path.parent for ev in validation.evaluations.values() if ev.data is not None}
    truths = []
    for folder in sorted(folders):
        if (folder / DICTIONARY_JSON).exists():
            truths += true_effects(folder)
    truths += monitoring_true_effects(validation.root)
    rows = []
    for truth in truths:
        evaluation = truth.get("evaluation")
        results = results_path(validation.root, str(evaluation))
        subgroup = truth.get("subgroup", "all")  # e.g. the under-25s of a comparison-area panel
        row = {"evaluation": evaluation, "indicator": truth["indicator"] + ("" if subgroup == "all" else
                                                                            f" ({subgroup})"),
               "estimand": truth["estimand"],
               "true": truth["value"], "naive": truth.get("naive_difference"), "estimate": None,
               "ci_low": None, "ci_high": None, "covered": None}
        if results.exists() and truth["estimand"] == "subgroup_difference":
            row.update(_subgroup_difference(ResultSet.read(results), truth))
        elif results.exists():
            result = ResultSet.read(results)
            for wanted in TARGETS.get(truth["estimand"], (truth["estimand"],)):
                match = [e for e in result.estimates if e.indicator == truth["indicator"] and e.estimand == wanted
                         and e.subgroup == subgroup]
                if match:
                    e = match[0]
                    row.update(estimate=e.estimate, ci_low=e.ci_low, ci_high=e.ci_high,
                               covered=None if e.ci_low is None else e.ci_low <= truth["value"] <= e.ci_high)
                    break
        rows.append(row)
    return rows


def _subgroup_difference(result, truth: dict) -> dict:
    """A planted subgroup difference against the subgroup section's difference from the reference
    level (the effect in ``truth['subgroup']`` minus the effect in the reference level)."""
    section = result.section("subgroups")
    if section is None or truth["indicator"] not in section:
        return {}
    # the effect rows below each typed entry are rows of a tidy frame, kept as JSON
    row = next((e for e in section.entry(truth["indicator"]).effects if e.get("label") == truth.get("subgroup")),
               None)
    if row is None or row.get("difference_vs_reference") is None:
        return {}
    lo, hi = row.get("difference_ci_low"), row.get("difference_ci_high")
    return {"estimate": row["difference_vs_reference"], "ci_low": lo, "ci_high": hi,
            "covered": None if lo is None else lo <= truth["value"] <= hi,
            "estimand": f"subgroup_difference ({truth['subgroup']})"}


def monitoring_true_effects(project_root: Path) -> list[dict]:
    """The changes `evalkit monitor demo-data` built into the success measures (none for real data)."""
    import json

    from evalkit.monitor.synth import EXTRACTS, TRUE_EFFECTS

    path = Path(project_root) / EXTRACTS / TRUE_EFFECTS
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("true_effects", []))


def recovery_table(project_root: Path) -> str:
    def f(x):
        return "-" if x is None else f"{x:.3f}"

    rows = recovery_rows(project_root)
    width = max([20] + [len(str(r["estimand"])) for r in rows])
    lines = [f"{'evaluation':20} {'indicator':28} {'estimand':{width}} {'true':>8} {'estimate':>9} {'95% CI':>18} "
             f"{'covers':>6} {'naive':>8}"]
    for r in rows:
        ci = "-" if r["ci_low"] is None else f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        covers = "-" if r["covered"] is None else ("yes" if r["covered"] else "NO")
        lines.append(f"{r['evaluation']:20} {r['indicator']:28} {r['estimand']:{width}} {f(r['true']):>8} "
                     f"{f(r['estimate']):>9} {ci:>18} {covers:>6} {f(r['naive']):>8}")
    return "\n".join(lines)
