"""The meaning pass: cross-check raw files and build the frozen objects of :mod:`.model`.

Every check here reports a :class:`~evalkit.errors.Problem` with the line of the key at fault;
all problems of a file are collected before anything is returned, so one run of
``evalkit validate`` shows everything there is to fix.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from evalkit.errors import Problem
from evalkit.spec import model as m
from evalkit.spec import raw as r
from evalkit.spec.designs import REGISTRY
from evalkit.spec.options import design_option_problems, matching_problems
from evalkit.spec.yamlio import Document, format_path

OLDEST_YOUNG_PERSON = 25  # EIF's remit is children and young people; an older population has no child outcomes
CHILD_OUTCOME_NODES = ("outcome", "impact")


def _problem(doc: Document, path: tuple, message: str, found: str, expected: str,
             severity: str = "error") -> Problem:
    return Problem(doc.file, doc.line_of(path), format_path(path), message,
                   found=found, expected=expected, severity=severity)  # type: ignore[arg-type]


def _duplicates(values: list[str]) -> list[str]:
    return [v for v, n in Counter(values).items() if n > 1]


# ---------------------------------------------------------------------------- logic models


def resolve_logic_model(doc: Document, raw: r.LogicModelFile, source: Path) -> tuple[m.LogicModel | None, list[Problem]]:
    problems: list[Problem] = []
    toc = raw.theory_of_change
    groups = (("activities", "activity", toc.activities), ("outputs", "output", toc.outputs),
              ("outcomes", "outcome", toc.outcomes), ("impact", "impact", toc.impact))
    nodes: dict[str, m.Node] = {}
    for key, kind, items in groups:
        for i, node in enumerate(items):
            path = ("theory_of_change", key, i, "id")
            if node.id in nodes:
                problems.append(_problem(doc, path, "node id is used twice in the theory of change",
                                         f"'{node.id}' (already a {nodes[node.id].kind})",
                                         "each activity, output, outcome and impact id once"))
                continue
            horizon = getattr(node, "horizon", None)
            nodes[node.id] = m.Node(node.id, node.label, kind, horizon.value if horizon else None)

    known = ", ".join(nodes) or "none"
    touched: set[str] = set()
    for i, (cause, effect) in enumerate(toc.links):
        for j, end in enumerate((cause, effect)):
            if end not in nodes:
                problems.append(_problem(doc, ("theory_of_change", "links", i, j),
                                         "link names a node that is not in the theory of change",
                                         f"'{end}'", f"one of {known}"))
            touched.add(end)
        if cause == effect:
            problems.append(_problem(doc, ("theory_of_change", "links", i),
                                     "a node cannot cause itself", f"[{cause}, {effect}]",
                                     "two different node ids"))
    for dup in _duplicates([f"{a}->{b}" for a, b in toc.links]):
        problems.append(_problem(doc, ("theory_of_change", "links"), "link is listed twice",
                                 f"'{dup}'", "each cause -> effect link once"))
    if toc.links:
        for key, _kind, items in groups:
            for i, node in enumerate(items):
                if node.id not in touched:
                    problems.append(_problem(doc, ("theory_of_change", key, i, "id"),
                                             "no link touches this node", f"'{node.id}'",
                                             "a link to or from it in theory_of_change.links",
                                             severity="warning"))

    age = raw.population.age
    if age is not None and age[0] > age[1]:
        problems.append(_problem(doc, ("population", "age"), "age range is reversed",
                                 f"[{age[0]}, {age[1]}]", "[youngest, oldest]"))

    indicators: dict[str, m.Indicator] = {}
    for i, ind in enumerate(raw.indicators):
        base = ("indicators", i)
        if ind.id in indicators:
            problems.append(_problem(doc, base + ("id",), "indicator id is used twice",
                                     f"'{ind.id}'", "each indicator id once in a logic model"))
            continue
        node = nodes.get(ind.measures)
        if node is None:
            problems.append(_problem(doc, base + ("measures",),
                                     "indicator measures a node that is not in the theory of change",
                                     f"'{ind.measures}'", f"one of {known}"))
        inst = ind.instrument
        if inst is not None:
            if inst.range is not None and inst.range[0] >= inst.range[1]:
                problems.append(_problem(doc, base + ("instrument", "range"),
                                         "instrument range is empty or reversed",
                                         f"[{inst.range[0]}, {inst.range[1]}]", "[lowest, highest] with lowest < highest"))
            if inst.reliability_kind is not None and inst.reliability is None:
                problems.append(_problem(doc, base + ("instrument", "reliability_kind"),
                                         "reliability_kind is given without a reliability",
                                         "no reliability", "instrument.reliability between 0 and 1"))
            if ind.type not in (r.IndicatorType.score,):
                problems.append(_problem(doc, base + ("instrument",),
                                         "an instrument describes a score indicator",
                                         f"type {ind.type.value}", "type: score", severity="warning"))
        if ind.plausible is not None and ind.plausible[0] >= ind.plausible[1]:
            problems.append(_problem(doc, base + ("plausible",), "plausible range is empty or reversed",
                                     f"[{ind.plausible[0]:g}, {ind.plausible[1]:g}]",
                                     "[lowest, highest] with lowest < highest"))
        if ind.rate_per is not None and ind.type not in (r.IndicatorType.count, r.IndicatorType.rate):
            problems.append(_problem(doc, base + ("rate_per",), "rate_per applies to counts and rates",
                                     f"type {ind.type.value}", "type: count or rate"))
        if ind.target is not None:
            t = ind.target
            if ind.type in (r.IndicatorType.binary, r.IndicatorType.proportion) and not 0 <= t.value <= 1:
                problems.append(_problem(doc, base + ("target", "value"),
                                         "a target for a binary or proportion indicator is a share",
                                         str(t.value), "a value between 0 and 1"))
            if t.amber is not None:
                wrong_side = (t.amber > t.value) if ind.direction is r.Direction.increase else (t.amber < t.value)
                if wrong_side:
                    problems.append(_problem(
                        doc, base + ("target", "amber"),
                        "the amber threshold is on the good side of the target",
                        f"amber {t.amber} vs target {t.value} for an indicator that should {ind.direction.value}",
                        "amber below the target for 'increase', above it for 'decrease'"))
        # a child outcome is an outcome or impact of the theory of change in an EIF child-outcome
        # category; outputs, attitudes and intermediate measures are shown but carry no level
        child = False
        if node is not None and ind.child_outcome is not False:
            if ind.child_outcome is True and ind.eif_outcome is None:
                problems.append(_problem(doc, base + ("child_outcome",), "a child outcome needs its EIF outcome category",
                                         "child_outcome: true without eif_outcome",
                                         f"eif_outcome: one of {', '.join(e.value for e in r.EifOutcome)}",
                                         severity="warning"))
            elif ind.eif_outcome is not None and node.kind not in CHILD_OUTCOME_NODES:
                problems.append(_problem(doc, base + ("eif_outcome",), f"an indicator of a{'n' if node.kind[0] in 'aeiou' else ''} "
                                         f"{node.kind} is not a child outcome", f"measures '{node.id}' ({node.kind})",
                                         "eif_outcome only on indicators of outcome or impact nodes",
                                         severity="warning"))
            elif ind.eif_outcome is not None and age is not None and age[0] > OLDEST_YOUNG_PERSON:
                problems.append(_problem(doc, base + ("eif_outcome",), "EIF child outcomes are for children and young "
                                         "people", f"population aged {age[0]}-{age[1]}",
                                         f"a population including people aged {OLDEST_YOUNG_PERSON} or under",
                                         severity="warning"))
            else:
                child = ind.eif_outcome is not None
        if node is not None:
            indicators[ind.id] = m.Indicator(
                id=ind.id, label=ind.label, measures=node, type=ind.type, direction=ind.direction,
                source=ind.source, instrument=ind.instrument, target=ind.target, rate_per=ind.rate_per,
                child_outcome=child, eif_outcome=ind.eif_outcome,
                plausible=tuple(ind.plausible) if ind.plausible is not None else None)

    costs = None
    if raw.costs is not None:
        from evalkit.spec.costs import resolve_costs

        costs, more = resolve_costs(raw.costs, file=doc.file, line_of=doc.line_of, indicators=indicators,
                                    place_based=raw.kind is r.InterventionKind.place_based_strategy)
        problems += more
    if any(p.severity == "error" for p in problems):
        return None, problems
    logic_model = m.LogicModel(
        id=raw.id, name=raw.name, summary=raw.summary, prevention=raw.prevention,
        population_description=raw.population.description, age=age, area=raw.population.area,
        problem=raw.problem.strip(), evidence=tuple(raw.evidence), nodes=m.frozen_map(nodes),
        links=tuple(tuple(link) for link in toc.links), assumptions=tuple(toc.assumptions),
        indicators=m.frozen_map(indicators), source=source, kind=raw.kind, duration_months=raw.duration_months,
        costs=costs)
    return logic_model, problems


# ---------------------------------------------------------------------------- evaluation plans


def resolve_evaluation(doc: Document, raw: r.EvaluationFile, source: Path,
                       interventions: dict[str, m.LogicModel],
                       broken_interventions: set[str], unreadable: tuple[str, ...] = (),
                       data_roots: tuple[Path, ...] = ()) -> tuple[m.Evaluation | None, list[Problem]]:
    """``data_roots``: the project folder and the data roots of its configuration; data files must
    resolve under one of them (checked when the data are read)."""
    problems: list[Problem] = []

    def err(path: tuple, message: str, found: str, expected: str) -> None:
        problems.append(_problem(doc, path, message, found, expected))

    def warn(path: tuple, message: str, found: str, expected: str) -> None:
        problems.append(_problem(doc, path, message, found, expected, severity="warning"))

    logic_model = interventions.get(raw.intervention)
    if logic_model is None:
        if raw.intervention in broken_interventions:
            err(("intervention",), "the intervention's logic model has errors (see its file)",
                f"'{raw.intervention}'", "a logic model that validates")
        else:
            known_ids = ", ".join(sorted(interventions))
            if unreadable:
                known_ids = (known_ids + " " if known_ids else "") + \
                    f"({'none valid; ' if not known_ids else ''}{', '.join(unreadable)} could not be read)"
            err(("intervention",), "no logic model has this id", f"'{raw.intervention}'",
                "one of " + (known_ids or "(no logic models found)"))
        return None, problems
    known = ", ".join(logic_model.indicators)

    def indicator(path: tuple, ind_id: str) -> m.Indicator | None:
        ind = logic_model.indicators.get(ind_id)
        if ind is None:
            err(path, f"indicator is not in logic model '{logic_model.id}'", f"'{ind_id}'", f"one of {known}")
        return ind

    design = raw.design
    is_external = raw.external is not None
    long_form = raw.data is not None and raw.data.period is not None

    # -- what each kind of plan needs
    if is_external:
        if raw.data is not None:
            err(("data",), "a plan records an external study or points at data, not both",
                "both 'external' and 'data'", "remove 'data' (or 'external' if evalkit should run it)")
        for key in ("timepoints", "outcomes", "covariates", "matching", "time_series", "did"):
            if getattr(raw, key):
                warn((key,), "ignored: an external study is rated from what it reports", f"'{key}'",
                     "no analysis options on an external study")
    elif raw.data is None:
        err(("data",), "required key is missing", "nothing",
            "a data section (path, id, ...) or an 'external' record of a published study")

    if not is_external and raw.data is not None:
        if REGISTRY[design].long_form and not long_form:
            err(("data",), f"design '{design.value}' needs data in long form", "no data.period",
                "data.period: the time column (one row per unit per period)")
        two_files = raw.data.comparison is not None
        if two_files:
            _check_two_files(raw, design, err)
        if REGISTRY[design].comparative and raw.data.treatment is None and not two_files:
            err(("data",), f"design '{design.value}' compares treated and comparison units",
                "no data.treatment", "data.treatment: a 0/1 column")
        if design is r.Design.pre_post and long_form:
            err(("data", "period"), "pre_post reads each timepoint from its own column (wide form)",
                f"period '{raw.data.period}'", "no data.period; list timepoints instead")
        if long_form:
            if raw.timepoints:
                err(("timepoints",), "data in long form names outcomes, not timepoints",
                    "timepoints", "outcomes: {indicator: column}")
            if not raw.outcomes:
                err(("outcomes",), "required key is missing", "nothing", "outcomes: {indicator: column}")
        else:
            if raw.outcomes:
                err(("outcomes",), "data in wide form names timepoints, not outcomes", "outcomes",
                    "timepoints: {indicator: {baseline: column, follow_up_12m: column}}, or data.period for long form")
            if not raw.timepoints:
                err(("timepoints",), "required key is missing", "nothing",
                    "timepoints: {indicator: {baseline: column, exit: column}}")
        if design is r.Design.interrupted_time_series and long_form and raw.data.population is None:
            err(("data",), "an interrupted time series models counts against the population at risk",
                "no data.population", "data.population: the population column (the offset of every rate)")
        if design is r.Design.interrupted_time_series and raw.time_series is None:
            err(("time_series",), "required key is missing", "nothing",
                "time_series: {interruption: YYYY-MM-DD, model: ...}")
        if design is r.Design.comparison_areas:
            _check_comparison_areas(raw, err)
        if design is r.Design.matched_comparison and not raw.covariates:
            err(("covariates",), "a matched comparison needs covariates to match on", "none",
                "a list of baseline covariate columns")
    if raw.matching is not None and design is not r.Design.matched_comparison and not is_external:
        warn(("matching",), f"ignored: design '{design.value}' does not match", "a matching section",
             "matching only with design: matched_comparison")
    if raw.did is not None and design is not r.Design.difference_in_differences and not is_external:
        warn(("did",), f"ignored: design '{design.value}' is not difference-in-differences", "a did section",
             "did only with design: difference_in_differences")
    if raw.comparison_areas is not None and design is not r.Design.comparison_areas and not is_external:
        warn(("comparison_areas",), f"ignored: design '{design.value}' does not compare areas",
             "a comparison_areas section", "comparison_areas only with design: comparison_areas")
    for e in REGISTRY.values():  # the block of a design added by its module alone, set for another design
        if e.options_section and e.options_section not in m.Evaluation.__dataclass_fields__ \
                and getattr(raw, e.options_section, None) is not None and e.design is not design and not is_external:
            warn((e.options_section,), f"ignored: design '{design.value}' does not read it",
                 f"a {e.options_section} section", f"{e.options_section} only with design: {e.design.value}")
    if raw.time_series is not None and design is not r.Design.interrupted_time_series and not is_external:
        warn(("time_series",), f"ignored: design '{design.value}' is not a time series",
             "a time_series section", "time_series only with design: interrupted_time_series")

    # -- indicators and their columns
    timepoints: dict[str, m.Timepoints] = {}
    for ind_id, columns in raw.timepoints.items():
        ind = indicator(("timepoints", ind_id), ind_id)
        if ind is None:
            continue
        follow_ups = [k for k in columns if k != "baseline"]
        if design is r.Design.pre_post and "baseline" not in columns:
            err(("timepoints", ind_id), "pre/post change needs a baseline", ", ".join(columns) or "nothing",
                "a 'baseline' timepoint")
        if not follow_ups:
            err(("timepoints", ind_id), "no timepoint after baseline", ", ".join(columns) or "nothing",
                "at least one of exit, mid or follow_up_<months>m")
        for dup in _duplicates(list(columns.values())):
            err(("timepoints", ind_id), "the same column is used at two timepoints", f"'{dup}'",
                "a different column for each timepoint")
        timepoints[ind_id] = m.Timepoints(ind, m.frozen_map(columns))
    outcomes: dict[str, tuple[m.Indicator, str]] = {}
    for ind_id, column in raw.outcomes.items():
        ind = indicator(("outcomes", ind_id), ind_id)
        if ind is not None:
            outcomes[ind_id] = (ind, column)
    if is_external:
        for i, res in enumerate(raw.external.results):
            indicator(("external", "results", i, "indicator"), res.indicator)
            if res.ci is not None and not res.ci[0] <= res.estimate <= res.ci[1]:
                err(("external", "results", i, "ci"), "the estimate lies outside its confidence interval",
                    f"estimate {res.estimate} with ci [{res.ci[0]}, {res.ci[1]}]", "ci_low <= estimate <= ci_high")

    reported = set(timepoints) | set(outcomes)
    if is_external:
        reported |= {res.indicator for res in raw.external.results}
    primary = logic_model.indicators.get(raw.primary_outcome)
    if primary is None:
        indicator(("primary_outcome",), raw.primary_outcome)
    elif raw.primary_outcome not in reported:
        err(("primary_outcome",), "the primary outcome is not among the plan's outcomes",
            f"'{raw.primary_outcome}'", "one of " + (", ".join(sorted(reported)) or "(none listed)"))

    # -- columns named twice or in clashing roles
    for dup in _duplicates(list(raw.covariates)):
        err(("covariates",), "covariate is listed twice", f"'{dup}'", "each covariate once")
    if raw.data is not None:
        roles = {"data.id": raw.data.id, "data.treatment": raw.data.treatment, "data.period": raw.data.period}
        for i, cov in enumerate(raw.covariates):
            for role, column in roles.items():
                if column is not None and cov == column:
                    err(("covariates", i), f"a covariate cannot be the {role} column", f"'{cov}'",
                        "a baseline characteristic")
    # every option either shapes the analysis or is refused here (evalkit.spec.options)
    if raw.matching is not None and design is r.Design.matched_comparison:
        for problem in matching_problems(raw.matching, raw.covariates):
            err(*problem)
    if not is_external:
        for problem in design_option_problems(design, raw):
            err(*problem)

    # -- follow-up length
    if raw.external is not None and raw.external.follow_up_months is not None \
            and raw.external.follow_up_months != raw.follow_up_months:
        warn(("follow_up_months",), "differs from the external study's follow-up",
             f"{raw.follow_up_months} here, {raw.external.follow_up_months} in external",
             "the same number of months")

    _check_feasibility(raw, timepoints, err, warn)
    if raw.delivery is not None:
        for i, ind in enumerate(raw.delivery.dose_response):
            if ind not in raw.timepoints:
                err(("delivery", "dose_response", i), "not an indicator of this plan's timepoints", repr(ind),
                    "one of " + (", ".join(raw.timepoints) or "(no timepoints)"))
    if raw.data is not None:
        _check_data_options(raw.data, err)

    if any(p.severity == "error" for p in problems):
        return None, problems

    data = None
    if raw.data is not None:
        labels = raw.data.binary_labels
        pool = raw.data.comparison
        data = m.DataSpec(path=(source.parent / raw.data.path).resolve(), path_as_written=raw.data.path,
                          id=raw.data.id,
                          treatment=raw.data.treatment or (TWO_FILE_TREATMENT if pool is not None else None),
                          period=raw.data.period,
                          population=raw.data.population, sheet=raw.data.sheet,
                          missing_values=tuple(raw.data.missing_values),
                          binary_labels=m.frozen_map(
                              {**{t.strip().lower(): 1 for t in labels.one}, **{t.strip().lower(): 0 for t in labels.zero}}
                              if labels is not None else {}),
                          plausible=m.frozen_map({c: tuple(v) for c, v in raw.data.plausible.items()}),
                          roots=tuple(data_roots),
                          comparison=(source.parent / pool).resolve() if pool is not None else None,
                          comparison_as_written=pool)
    evaluation = m.Evaluation(
        id=raw.id, title=raw.title, intervention=logic_model, stage=raw.stage, design=design,
        evaluator=raw.evaluator, data=data, timepoints=m.frozen_map(timepoints),
        outcomes=m.frozen_map(outcomes), covariates=tuple(raw.covariates),
        subgroups=tuple(raw.subgroups),
        matching=raw.matching if raw.matching is not None or design is not r.Design.matched_comparison else r.Matching(), time_series=raw.time_series,
        cluster=raw.cluster, weights=raw.weights, external=raw.external,
        primary_outcome=primary, follow_up_months=raw.follow_up_months, seed=raw.seed, source=source,
        feasibility=raw.feasibility,
        did=raw.did if raw.did is not None or design is not r.Design.difference_in_differences
        else r.DifferenceInDifferences(),
        study=raw.study, study_role=raw.study_role, follow_up_from=raw.follow_up_from, delivery=raw.delivery,
        comparison_areas=raw.comparison_areas if design is r.Design.comparison_areas else None,
        design_options=m.frozen_map({e.options_section: getattr(raw, e.options_section) for e in REGISTRY.values()
                                     if e.options_section and e.options_section not in m.Evaluation.__dataclass_fields__
                                     and getattr(raw, e.options_section, None) is not None}))
    return evaluation, problems


def _check_comparison_areas(raw: r.EvaluationFile, err) -> None:
    """What a comparison-area plan needs before any data is read (the panel's own rules run on the data)."""
    ca = raw.comparison_areas
    if raw.data.population is None:
        err(("data",), "a comparison-area design compares rates per population", "no data.population",
            "data.population: the residents column (ONS mid-year estimates by month)")
    if ca is None:
        err(("comparison_areas",), "required key is missing", "nothing",
            "comparison_areas: {treated_from: <column of start months>, method: synth}")
        return
    if raw.data.treatment is not None:
        err(("data", "treatment"), "areas are treated from a month, named by comparison_areas.treated_from",
            f"'{raw.data.treatment}'", "no data.treatment with design: comparison_areas")
    for ind, column in (ca.under_25.outcomes.items() if ca.under_25 is not None else ()):
        if ind not in raw.outcomes:
            err(("comparison_areas", "under_25", "outcomes", ind), "an under-25s' count needs its all-ages outcome",
                f"'{ind}'", "one of the plan's outcomes: " + (", ".join(raw.outcomes) or "(none listed)"))
        if column in raw.outcomes.values():
            err(("comparison_areas", "under_25", "outcomes", ind), "the under-25s' count is an all-ages outcome column",
                f"'{column}'", "the column of events among under-25s")


def _check_data_options(data: r.DataSource, err) -> None:
    labels = data.binary_labels
    if labels is not None:
        one = {t.strip().lower() for t in labels.one}
        both = sorted(one & {t.strip().lower() for t in labels.zero})
        if both:
            err(("data", "binary_labels"), "a label means both 1 and 0", ", ".join(repr(b) for b in both),
                "each label under one of 1 and 0")
        numbers = sorted(t for t in one | {t.strip().lower() for t in labels.zero} if t in ("0", "1"))
        if numbers:
            err(("data", "binary_labels"), "0 and 1 need no label", ", ".join(repr(n) for n in numbers),
                "words such as \"Yes\" and \"No\"")
    for column, (low, high) in data.plausible.items():
        if low >= high:
            err(("data", "plausible", column), "plausible range is empty or reversed", f"[{low:g}, {high:g}]",
                "[lowest, highest] with lowest < highest")


# ---------------------------------------------------------------------------- two data files

# the 0/1 column made from a matched comparison's two files when data.treatment does not name one
TWO_FILE_TREATMENT = "treated"


def _check_two_files(raw: r.EvaluationFile, design: r.Design, err) -> None:
    """data.comparison: participants in data.path and the comparison pool in their own file."""
    data = raw.data
    if design is not r.Design.matched_comparison:
        err(("data", "comparison"), "a separate comparison file is read for a matched comparison only",
            f"design '{design.value}'", "design: matched_comparison, or one file with a 0/1 data.treatment column")
    if data.period is not None:
        err(("data", "comparison"), "two files hold one row per unit (wide form)", f"period '{data.period}'",
            "no data.period with data.comparison")
    if Path(data.comparison) == Path(data.path):
        err(("data", "comparison"), "the comparison pool is the participants' file", f"'{data.comparison}'",
            "a different file for the comparison pool")


# ---------------------------------------------------------------------------- feasibility criteria

# metrics that are shares (thresholds between 0 and 1), and those where lower is better
FEASIBILITY_SHARES = frozenset(r.FeasibilityMetric) - {
    r.FeasibilityMetric.referrals_vs_target, r.FeasibilityMetric.starts_vs_target,
    r.FeasibilityMetric.dose_hours, r.FeasibilityMetric.median_days_to_first_contact}
FEASIBILITY_LOWER_IS_BETTER = frozenset({r.FeasibilityMetric.median_days_to_first_contact})


def feasibility_better(criterion: r.ProgressionCriterion) -> r.Better:
    """Which way is better for a criterion: as written, else the metric's own direction."""
    if criterion.better is not None:
        return criterion.better
    return r.Better.lower if criterion.metric in FEASIBILITY_LOWER_IS_BETTER else r.Better.higher


def _feasibility_needs(fz: r.Feasibility, metric: r.FeasibilityMetric) -> list[tuple[bool, str]]:
    """(present?, what the plan must name) for each input a metric is computed from."""
    M, cases, tg, ses = r.FeasibilityMetric, fz.cases, fz.targets, fz.sessions
    contact = (cases.first_contact is not None or ses is not None,
               "feasibility.cases.first_contact or feasibility.sessions")
    return {
        M.referrals_vs_target: [(tg.referrals is not None, "feasibility.targets.referrals")],
        M.eligibility_rate: [(cases.eligible is not None, "feasibility.cases.eligible")],
        M.consent_rate: [(cases.consented is not None, "feasibility.cases.consented")],
        M.start_rate: [(cases.started is not None, "feasibility.cases.started")],
        M.starts_vs_target: [(cases.started is not None, "feasibility.cases.started"),
                             (tg.starts is not None, "feasibility.targets.starts")],
        M.retention_rate: [],
        M.completion_rate: [(cases.completed is not None, "feasibility.cases.completed")],
        M.dose_sessions: [(ses is not None, "feasibility.sessions"),
                          (tg.sessions is not None or cases.sessions_planned is not None,
                           "feasibility.targets.sessions or feasibility.cases.sessions_planned")],
        M.dose_hours: [(ses is not None and ses.hours is not None, "feasibility.sessions.hours"),
                       (tg.contact_hours is not None, "feasibility.targets.contact_hours")],
        M.fidelity: [(ses is not None and ses.fidelity is not None, "feasibility.sessions.fidelity")],
        M.median_days_to_first_contact: [contact],
        M.contact_within_target: [contact, (tg.days_to_first_contact is not None,
                                            "feasibility.targets.days_to_first_contact")],
        M.baseline_completeness: [],
        M.follow_up_completeness: [],
        M.acceptability: [(cases.acceptability is not None, "feasibility.cases.acceptability")],
    }[metric]


def _check_feasibility(raw: r.EvaluationFile, timepoints: dict[str, m.Timepoints], err, warn) -> None:
    fz = raw.feasibility
    if raw.design is r.Design.feasibility and fz is None and raw.external is None:
        err(("feasibility",), "required key is missing", "nothing",
            "feasibility: {cases: {referral_date: ...}, criteria: [...]}")
    if fz is None:
        return
    if raw.design is not r.Design.feasibility:
        warn(("feasibility",), f"ignored: design '{raw.design.value}' is not a feasibility study",
             "a feasibility section", "feasibility only with design: feasibility")
        return
    if fz.recruitment is not None and fz.recruitment.end < fz.recruitment.start:
        err(("feasibility", "recruitment"), "the recruitment window is reversed",
            f"start {fz.recruitment.start}, end {fz.recruitment.end}", "start on or before end")
    if fz.acceptable_from is not None and fz.cases.acceptability is None:
        warn(("feasibility", "acceptable_from"), "ignored: no acceptability column",
             "acceptable_from without feasibility.cases.acceptability", "the survey item's column")
    M = r.FeasibilityMetric
    completeness = (M.baseline_completeness, M.follow_up_completeness)
    seen: set[tuple[str, str | None]] = set()
    for i, c in enumerate(fz.criteria):
        base = ("feasibility", "criteria", i)
        name = c.metric.value
        key = (name, c.indicator if c.metric in completeness else None)
        if key in seen:
            err(base + ("metric",), "the same criterion is listed twice",
                f"'{name}'" + (f" for '{key[1]}'" if key[1] else ""), "each metric once (per indicator)")
        seen.add(key)
        better = feasibility_better(c)
        natural = r.Better.lower if c.metric in FEASIBILITY_LOWER_IS_BETTER else r.Better.higher
        if c.better is not None and c.better is not natural:
            warn(base + ("better",), f"unusual direction for '{name}'", f"better: {c.better.value}",
                 f"better: {natural.value} (or leave it out)")
        if better is r.Better.higher and c.amber > c.green:
            err(base + ("amber",), f"amber threshold is above green for '{name}', where higher is better",
                f"amber {c.amber:g} > green {c.green:g}", "amber at or below green (red is below amber)")
        elif better is r.Better.lower and c.amber < c.green:
            err(base + ("amber",), f"amber threshold is below green for '{name}', where lower is better",
                f"amber {c.amber:g} < green {c.green:g}", "amber at or above green (red is above amber)")
        elif c.amber == c.green:
            warn(base + ("amber",), f"no amber band for '{name}'", f"amber = green = {c.green:g}",
                 "amber a little worse than green, so 'progress with changes' can happen")
        for key_name in ("green", "amber"):
            value = getattr(c, key_name)
            if c.metric in FEASIBILITY_SHARES and not 0 <= value <= 1:
                err(base + (key_name,), f"'{name}' is a share, so its thresholds are shares",
                    f"{value:g}", "a value between 0 and 1 (e.g. 0.7 for 70%)")
            elif value < 0:
                err(base + (key_name,), f"a threshold for '{name}' cannot be negative", f"{value:g}", "0 or more")
        for present, needed in _feasibility_needs(fz, c.metric):
            if not present:
                err(base + ("metric",), f"metric '{name}' has no data to be computed from",
                    f"no {needed}", f"{needed} in the plan (or drop this criterion)")
        if c.metric in completeness:
            ind_id = c.indicator or raw.primary_outcome
            tp = timepoints.get(ind_id)
            if tp is None:
                err(base + ("indicator",), "completeness is measured for an indicator in timepoints",
                    f"'{ind_id}'", "one of " + (", ".join(timepoints) or "(no timepoints)"))
            elif c.metric is M.baseline_completeness and tp.baseline is None:
                err(base + ("indicator",), f"indicator '{ind_id}' has no baseline column",
                    ", ".join(tp.columns), "timepoints.<indicator>.baseline")
        elif c.indicator is not None:
            warn(base + ("indicator",), f"ignored: '{name}' is not measured per indicator",
                 f"indicator '{c.indicator}'", "indicator only with baseline/follow_up_completeness")
    pl = fz.planning
    if pl is not None:
        if (pl.effect_size is None) == (pl.difference is None):
            err(("feasibility", "planning"), "planning needs the effect to detect, in one form",
                "both effect_size and difference" if pl.effect_size else "neither effect_size nor difference",
                "effect_size (standardised) or difference (in the outcome's units)")
        if pl.icc is not None and pl.cluster_size is None:
            err(("feasibility", "planning", "cluster_size"), "an ICC needs the cluster size it applies to",
                "no cluster_size", "recruits per school or area")
        if pl.cluster_size is not None and pl.icc is None and raw.cluster is None:
            err(("feasibility", "planning", "icc"), "no ICC to go with the cluster size", "no icc and no cluster column",
                "planning.icc, or the plan's cluster column to estimate it from")
