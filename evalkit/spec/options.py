"""Which plan options each design and each matching method uses: the static option checks.

Every option a plan accepts either shapes the analysis or is refused by ``evalkit validate``
with the plan's file and line and the valid choices; none is dropped silently (issue 17). The
checks live here, in the spec layer, so they run at validate time; the estimators read the
same tables (``evalkit.estimate.matching.core`` refuses the same combinations when called from
Python with options that never went through a plan).

Each check returns problems as ``(path, message, found, expected)`` tuples, which
:mod:`evalkit.spec.resolve` turns into ``file:line: error:`` lines.
"""

from __future__ import annotations

from evalkit.spec import raw as r
from evalkit.spec.designs import REGISTRY

# the plan's top-level analysis options that each design's analysis reads; any other one set in a
# plan is refused (the matching, did, time_series and feasibility sections have their own checks)
ANALYSIS_OPTIONS = ("covariates", "subgroups", "cluster", "weights")
# (each design's entry in the registry, evalkit/spec/designs/, says which it reads and why)
DESIGN_OPTIONS: dict[r.Design, frozenset[str]] = {d: e.options for d, e in REGISTRY.items()}

# the matching options each method uses (as MatchIt: ratio, calipers and order are nearest-
# neighbour options; trim and stabilise belong to weighting)
MATCHING_OPTIONS: dict[r.MatchingMethod, frozenset[str]] = {
    r.MatchingMethod.nearest: frozenset({"distance", "score_column", "ratio", "caliper", "caliper_scale", "calipers",
                                         "std_caliper", "replace", "exact", "order", "discard", "estimand",
                                         "interactions", "missing", "adjust", "method"}),
    r.MatchingMethod.optimal: frozenset({"distance", "score_column", "ratio", "caliper", "caliper_scale", "calipers",
                                         "std_caliper", "exact", "discard", "estimand", "interactions", "missing",
                                         "adjust", "method"}),
    r.MatchingMethod.exact: frozenset({"exact", "estimand", "missing", "adjust", "method", "interactions"}),
    r.MatchingMethod.ipw: frozenset({"distance", "score_column", "estimand", "interactions", "missing", "stabilise",
                                     "trim", "discard", "adjust", "method"}),
}
# nearest-neighbour and optimal matching find comparison units for each treated one: the ATT
ESTIMANDS: dict[r.MatchingMethod, tuple[r.Estimand, ...]] = {
    r.MatchingMethod.nearest: (r.Estimand.att,), r.MatchingMethod.optimal: (r.Estimand.att,),
    r.MatchingMethod.exact: (r.Estimand.att, r.Estimand.ate), r.MatchingMethod.ipw: (r.Estimand.att, r.Estimand.ate),
}

Problem = tuple[tuple, str, str, str]


def _names(values) -> str:
    return ", ".join(v.value if hasattr(v, "value") else str(v) for v in values)


def _shown(value) -> str:
    if hasattr(value, "value"):
        return str(value.value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def design_option_problems(design: r.Design, plan: r.EvaluationFile) -> list[Problem]:
    """Top-level analysis options the design does not read (covariates, subgroups, cluster, weights)."""
    used = DESIGN_OPTIONS.get(design, frozenset(ANALYSIS_OPTIONS))
    out = []
    for key in ANALYSIS_OPTIONS:
        value = getattr(plan, key)
        if value and key not in used:
            takers = [d.value for d, keys in DESIGN_OPTIONS.items() if key in keys]
            shown = ", ".join(value) if isinstance(value, list) else f"'{value}'"
            out.append(((key,), f"not used by design '{design.value}'", shown,
                        f"no {key} with this design (it is used by {', '.join(takers)})"
                        + (f"; this design uses {', '.join(sorted(used))}" if used else "")))
    return out


def matching_problems(mt: r.Matching, covariates=()) -> list[Problem]:
    """What the matching options cannot do together (checked before any data is read)."""
    out: list[Problem] = []
    method = mt.method
    if mt.estimand not in ESTIMANDS[method]:
        out.append((("matching", "estimand"),
                    f"method '{method.value}' matches comparison units to treated ones, which targets the ATT",
                    f"'{mt.estimand.value}'",
                    f"estimand: {_names(ESTIMANDS[method])}, or method: "
                    f"{_names(m for m, e in ESTIMANDS.items() if mt.estimand in e)} for the {mt.estimand.value.upper()}"))
    if mt.distance is r.Distance.column and mt.score_column is None:
        out.append((("matching", "score_column"), "distance: column needs the score column", "nothing",
                    "matching.score_column"))
    # options that only act through another one: set without it, they would be dropped silently
    if "score_column" in MATCHING_OPTIONS[method] and mt.score_column is not None \
            and mt.distance is not r.Distance.column:
        out.append((("matching", "score_column"), f"not used with distance '{mt.distance.value}' (the score is "
                    "fitted from the covariates)", f"score_column: {mt.score_column}",
                    "distance: column to match on this score, or no score_column"))
    if "std_caliper" in MATCHING_OPTIONS[method] and mt.std_caliper and not mt.calipers:
        out.append((("matching", "std_caliper"), "not used without covariate calipers (it says their unit)",
                    "std_caliper: true", "matching.calipers: {column: width}, or no std_caliper"))
    if method is r.MatchingMethod.optimal and mt.replace:
        out.append((("matching", "replace"), "optimal pair matching is without replacement", "replace: true",
                    "replace: false"))
    used = MATCHING_OPTIONS[method]
    told = {path[1] for path, *_ in out}
    for name in sorted(mt.model_fields_set - used - told):
        takers = [m.value for m, keys in MATCHING_OPTIONS.items() if name in keys]
        out.append((("matching", name), f"not used by method '{method.value}'", f"{name}: {_shown(getattr(mt, name))}",
                    f"no {name} with method '{method.value}', or method: {', '.join(takers)}"))
    for i, pair in enumerate(mt.interactions):  # a column that is not a covariate has no term to multiply
        for j, column in enumerate(pair):
            if column not in covariates:
                out.append((("matching", "interactions", i, j),
                            "an interaction multiplies two of the plan's covariates in the propensity model",
                            f"'{column}'", f"one of the covariates: {', '.join(covariates) or '(none listed)'}"))
    return out
