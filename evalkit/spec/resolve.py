"""The meaning pass: cross-check raw files and build the frozen objects of :mod:`.model`.

Every check here reports a :class:`~evalkit.errors.Problem` with the line of the key at fault;
all problems of a file are collected before anything is returned, so one run of
``evalkit validate`` shows everything there is to fix. The checks here hold for every design; a
design's own rules are its registry entry's ``checks`` hook (``evalkit/spec/designs/<design>.py``),
and what differs between designs otherwise (long-form data, a treatment column, two data files,
its options block and its default) is read from the entry, so no design is named here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from evalkit.errors import Problem
from evalkit.spec import model as m
from evalkit.spec import raw as r
from evalkit.spec.designs import REGISTRY, PlanCheck
from evalkit.spec.options import design_option_problems
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
        # every options block but those a published study of its design keeps (options_external)
        ignored = tuple(e.options_section for e in REGISTRY.values() if e.options_section and not e.options_external)
        # (the delivery section is built from the data's session records, which a published study has not)
        for key in ("timepoints", "outcomes", "covariates", "subgroups", "cluster", "weights", "delivery", *ignored):
            if getattr(raw, key, None):
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
    for e in REGISTRY.values():  # each design's options block, set in a plan of another design
        block = e.options_section
        if block and getattr(raw, block, None) is not None and e.design is not design \
                and (not is_external or e.options_external):  # (an external study's are warned of above)
            warn((block,), f"ignored: design '{design.value}' {e.options_ignored}", f"a {block} section",
                 f"{block} only with design: {e.design.value}")

    # -- indicators and their columns
    timepoints: dict[str, m.Timepoints] = {}
    for ind_id, columns in raw.timepoints.items():
        ind = indicator(("timepoints", ind_id), ind_id)
        if ind is None:
            continue
        follow_ups = [k for k in columns if k != "baseline"]
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
        ext = raw.external
        if ext.baseline_equivalence_sample is not None and ext.baseline_equivalence is None:
            # the sample says which sample the equivalence describes; alone it describes nothing
            warn(("external", "baseline_equivalence_sample"), "ignored: no baseline_equivalence to describe",
                 f"baseline_equivalence_sample: {ext.baseline_equivalence_sample.value}",
                 "external.baseline_equivalence: true or false beside it, or no baseline_equivalence_sample")
        if ext.intention_to_treat is not None and not REGISTRY[design].evidence.intention_to_treat_check:
            readers = [e.design.value for e in REGISTRY.values() if e.evidence.intention_to_treat_check]
            warn(("external", "intention_to_treat"), f"ignored: the evidence rating of design '{design.value}' has "
                 "no intention-to-treat check", f"intention_to_treat: {str(ext.intention_to_treat).lower()}",
                 f"intention_to_treat only with design: {', '.join(readers)}")
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
    # every option either shapes the analysis or is refused here (evalkit.spec.options) or by the
    # design's own checks below
    if not is_external:
        for problem in design_option_problems(design, raw):
            err(*problem)

    # -- follow-up length
    if raw.external is not None and raw.external.follow_up_months is not None \
            and raw.external.follow_up_months != raw.follow_up_months:
        warn(("follow_up_months",), "differs from the external study's follow-up",
             f"{raw.follow_up_months} here, {raw.external.follow_up_months} in external",
             "the same number of months")

    REGISTRY[design].check(PlanCheck(plan=raw, err=err, warn=warn, timepoints=m.frozen_map(timepoints)))
    if not is_external and raw.data is not None:
        _check_data_columns(raw.data, REGISTRY[design], problems, err, warn)
    if raw.delivery is not None and not is_external:
        if raw.delivery.session_hours is not None and raw.delivery.sessions.hours is None:
            # the planned length is compared with each session's recorded hours, and with nothing else
            warn(("delivery", "session_hours"), "ignored: no hours column in the session records",
                 f"session_hours: {raw.delivery.session_hours:g}", "delivery.sessions.hours: the sessions' "
                 "contact hours column, or no session_hours")
    # (a feasibility study's session records are its design's own check)
    files = [(("data",), raw.data if not is_external else None), (("delivery", "sessions"),
             raw.delivery.sessions if raw.delivery is not None and not is_external else None)]
    for key, block in files:
        check_sheet(key, block, warn)
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
    blocks = {e.options_section: e.options_block(raw) for e in REGISTRY.values() if e.options_section}
    evaluation = m.Evaluation(
        id=raw.id, title=raw.title, intervention=logic_model, stage=raw.stage, design=design,
        evaluator=raw.evaluator, data=data, timepoints=m.frozen_map(timepoints),
        outcomes=m.frozen_map(outcomes), covariates=tuple(raw.covariates),
        subgroups=tuple(raw.subgroups),
        cluster=raw.cluster, weights=raw.weights, external=raw.external,
        primary_outcome=primary, follow_up_months=raw.follow_up_months, seed=raw.seed, source=source,
        study=raw.study, study_role=raw.study_role, follow_up_from=raw.follow_up_from, delivery=raw.delivery,
        # the built-in designs' blocks are fields of the resolved plan; a design added by its module
        # alone keeps its block in design_options
        **{key: block for key, block in blocks.items() if key in m.Evaluation.__dataclass_fields__},
        design_options=m.frozen_map({key: block for key, block in blocks.items()
                                     if key not in m.Evaluation.__dataclass_fields__ and block is not None}))
    return evaluation, problems


def check_sheet(key: tuple, block, warn) -> None:
    """A worksheet name means nothing to a CSV or Parquet file: said, not dropped."""
    if block is not None and block.sheet is not None and Path(block.path).suffix.lower() != ".xlsx":
        warn(key + ("sheet",), "ignored: only an .xlsx workbook has worksheets", f"sheet '{block.sheet}' of "
             f"'{block.path}'", "no sheet, or an .xlsx file")


def _check_data_columns(data: r.DataSource, entry, problems: list[Problem], err, warn) -> None:
    """The data block's role columns a design does not read: said, not dropped (after the design's own
    checks, which may refuse one outright)."""
    said = {p.path for p in problems}
    if data.period is not None and not entry.long_form and "data.period" not in said:
        # a wide-form design reads one row per unit: the period's rows would be taken for units
        readers = [e.design.value for e in REGISTRY.values() if e.long_form]
        err(("data", "period"), f"design '{entry.design.value}' reads one row per unit (wide form)",
            f"period '{data.period}'", f"no data.period, and timepoints: {{indicator: {{baseline: column, "
            f"exit: column}}}}; data in long form with design: {', '.join(readers)}")
    if data.treatment is not None and not (entry.comparative or entry.two_files) and "data.treatment" not in said:
        readers = [e.design.value for e in REGISTRY.values() if e.comparative or e.two_files]
        warn(("data", "treatment"), f"ignored: design '{entry.design.value}' has no comparison group",
             f"'{data.treatment}'", f"data.treatment only with design: {', '.join(readers)}")
    if data.population is not None and not entry.population and "data.population" not in said:
        readers = [e.design.value for e in REGISTRY.values() if e.population]
        warn(("data", "population"), f"ignored: design '{entry.design.value}' does not rate counts by population",
             f"'{data.population}'", f"data.population only with design: {', '.join(readers)}")


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

# the 0/1 column made from two data files (a design with two_files) when data.treatment does not name one
TWO_FILE_TREATMENT = "treated"


def _check_two_files(raw: r.EvaluationFile, design: r.Design, err) -> None:
    """data.comparison: participants in data.path and the comparison pool in their own file."""
    data = raw.data
    if not REGISTRY[design].two_files:
        readers = [e for e in REGISTRY.values() if e.two_files]
        err(("data", "comparison"),
            f"a separate comparison file is read for {' or '.join('a ' + e.words for e in readers)} only",
            f"design '{design.value}'",
            f"design: {' or '.join(e.design.value for e in readers)}, or one file with a 0/1 data.treatment column")
    if data.period is not None:
        err(("data", "comparison"), "two files hold one row per unit (wide form)", f"period '{data.period}'",
            "no data.period with data.comparison")
    if Path(data.comparison) == Path(data.path):
        err(("data", "comparison"), "the comparison pool is the participants' file", f"'{data.comparison}'",
            "a different file for the comparison pool")
