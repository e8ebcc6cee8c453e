"""Every validation rule, each with a broken file and the message it must give.

Each problem must name the file and line, the key path, what was found and what was expected.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from evalkit.project import load_project, validate_project
from evalkit.errors import SpecError

LOGIC_MODEL = textwrap.dedent("""\
    id: demo
    name: Demo mentoring
    summary: Mentoring for young people.
    prevention: secondary
    population:
      description: Young people aged 10-17
      age: [10, 17]
    problem: Exclusion raises the risk of violence.
    theory_of_change:
      activities:
        - id: mentoring
          label: Weekly mentoring
      outputs:
        - id: sessions
          label: Sessions delivered
      outcomes:
        - id: wellbeing
          label: Better wellbeing
          horizon: short
        - id: behaviour
          label: Fewer suspensions
          horizon: medium
      impact:
        - id: less-violence
          label: Less violence
      links:
        - [mentoring, sessions]
        - [sessions, wellbeing]
        - [wellbeing, behaviour]
        - [behaviour, less-violence]
    indicators:
      - id: sdq_total
        label: SDQ total difficulties
        measures: wellbeing
        type: score
        direction: decrease
        source: survey
        instrument:
          name: SDQ
          range: [0, 40]
          validated: true
      - id: suspended
        label: Suspended in the term
        measures: behaviour
        type: binary
        direction: decrease
        source: education
        target: {value: 0.2}
      - id: offences
        label: Offences in the term
        measures: behaviour
        type: count
        direction: decrease
        source: police
    """)

PREPOST = textwrap.dedent("""\
    id: demo-prepost
    intervention: demo
    title: Demo cohort, referral to exit
    stage: pilot_for_outcomes
    design: pre_post
    evaluator: {name: In-house team, independent: false}
    data:
      path: data/cohort.csv
      id: pupil_id
    timepoints:
      sdq_total: {baseline: sdq_pre, exit: sdq_post}
      suspended: {baseline: susp_pre, exit: susp_post}
      offences: {baseline: off_pre, exit: off_post}
    primary_outcome: sdq_total
    follow_up_months: 6
    seed: 1
    """)

MATCHED = textwrap.dedent("""\
    id: demo-matched
    intervention: demo
    title: Demo against matched pupils
    stage: test_for_efficacy
    design: matched_comparison
    evaluator: {name: University, independent: true}
    data:
      path: data/cohort.csv
      id: pupil_id
      treatment: treated
    timepoints:
      suspended: {baseline: susp_pre, follow_up_12m: susp_post}
    covariates: [age, female]
    matching:
      method: nearest
      caliper: 0.2
    primary_outcome: suspended
    follow_up_months: 12
    """)

EXTERNAL = textwrap.dedent("""\
    id: ext
    intervention: demo
    title: A published trial
    stage: test_for_efficacy
    design: rct
    evaluator: {name: University, independent: true}
    external:
      citation: A trial
      sample: {treated: 100, comparison: 100}
      results:
        - {indicator: sdq_total, estimate: -2.0, ci: [-3.0, -1.0]}
    primary_outcome: sdq_total
    follow_up_months: 12
    """)

CSV = textwrap.dedent("""\
    pupil_id,treated,age,female,sdq_pre,sdq_post,susp_pre,susp_post,off_pre,off_post
    a1,1,12,0,20,15,1,0,2,1
    a2,1,13,1,18,,0,0,0,0
    a3,0,14,0,25,22,1,1,3,2
    a4,0,15,1,12,11,0,0,0,0
    a5,1,12,1,30,24,1,0,1,0
    a6,0,16,0,9,10,0,1,0,1
    """)


def make_project(tmp_path: Path, logic_model: str = LOGIC_MODEL, plans: dict[str, str] | None = None,
                 csv: str = CSV) -> Path:
    (tmp_path / "logic_models").mkdir(parents=True)
    (tmp_path / "evaluations" / "data").mkdir(parents=True)
    (tmp_path / "logic_models" / "demo.yml").write_text(logic_model)
    for name, text in (plans if plans is not None else {"demo-prepost.yml": PREPOST}).items():
        (tmp_path / "evaluations" / name).write_text(text)
    (tmp_path / "evaluations" / "data" / "cohort.csv").write_text(csv)
    return tmp_path


def line_of(text: str, snippet: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if snippet in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{snippet!r} not in text")


CONSEQUENCE = "the intervention's logic model has errors"


def problems(root: Path, severity: str = "error") -> list[str]:
    # a plan whose logic model is broken gets a second, consequential error: tested on its own below
    return [str(p) for p in validate_project(root).problems if p.severity == severity and CONSEQUENCE not in p.message]


def test_plan_on_an_unreadable_logic_model_says_so(tmp_path):
    root = make_project(tmp_path, logic_model="id: [demo\n")
    found = [str(p) for p in validate_project(root).problems if p.file.startswith("evaluations/")]
    assert found == ["evaluations/demo-prepost.yml:2: error: intervention: no logic model has this id "
                     "(found 'demo'; expected one of (none valid; logic_models/demo.yml could not be read))"]


def test_plan_on_a_broken_logic_model_says_so(tmp_path):
    root = make_project(tmp_path, logic_model=LOGIC_MODEL.replace("prevention: secondary", "prevention: none"))
    found = [str(p) for p in validate_project(root).problems if CONSEQUENCE in p.message]
    assert found == ["evaluations/demo-prepost.yml:2: error: intervention: the intervention's logic model has errors "
                     "(see its file) (found 'demo'; expected a logic model that validates)"]


def only(root: Path, severity: str = "error") -> str:
    found = problems(root, severity)
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------- the valid base


def test_base_project_is_valid(tmp_path):
    root = make_project(tmp_path, plans={"demo-prepost.yml": PREPOST, "demo-matched.yml": MATCHED})
    assert problems(root) == []
    assert problems(root, "warning") == []
    project = load_project(root)
    ev = project.evaluation("demo-prepost")
    assert ev.intervention is project.intervention("demo")
    assert ev.primary_outcome.id == "sdq_total"
    assert ev.data.path == (root / "evaluations" / "data" / "cohort.csv").resolve()
    assert [i.id for i in ev.indicators] == ["sdq_total", "suspended", "offences"]
    assert ev.timepoints["sdq_total"].baseline == "sdq_pre"
    # no EIF outcome category: not a child outcome, whatever the population's ages
    assert ev.intervention.indicators["sdq_total"].child_outcome is False
    with pytest.raises(Exception):
        ev.id = "changed"  # frozen


def _indicators(tmp_path, text):
    root = make_project(tmp_path, logic_model=text)
    return load_project(root, check_data=False).intervention("demo").indicators, problems(root, "warning")


def test_a_child_outcome_is_an_outcome_or_impact_in_an_eif_category(tmp_path):
    text = (LOGIC_MODEL.replace("    source: survey\n", "    source: survey\n    eif_outcome: mental_health_and_wellbeing\n")
            .replace("    source: police\n", "    source: police\n    eif_outcome: crime_violence_and_antisocial_behaviour\n"))
    ind, warnings = _indicators(tmp_path, text)
    assert warnings == []
    assert ind["sdq_total"].child_outcome and ind["offences"].child_outcome
    assert not ind["suspended"].child_outcome  # no category: an intermediate measure, shown without a level


def test_an_output_or_an_adult_population_is_never_a_child_outcome(tmp_path):
    output = LOGIC_MODEL.replace("    measures: wellbeing\n", "    measures: sessions\n").replace(
        "    source: survey\n", "    source: survey\n    eif_outcome: mental_health_and_wellbeing\n")
    ind, warnings = _indicators(tmp_path / "a", output)
    assert not ind["sdq_total"].child_outcome
    assert any("indicators[0].eif_outcome: an indicator of an output is not a child outcome" in w for w in warnings)
    adults = output.replace("measures: sessions", "measures: wellbeing").replace("age: [10, 17]", "age: [30, 60]")
    ind, warnings = _indicators(tmp_path / "b", adults)
    assert not ind["sdq_total"].child_outcome
    assert any("EIF child outcomes are for children and young people" in w for w in warnings)
    declared = LOGIC_MODEL.replace("    source: survey\n", "    source: survey\n    child_outcome: true\n")
    ind, warnings = _indicators(tmp_path / "c", declared)
    assert not ind["sdq_total"].child_outcome
    assert any("a child outcome needs its EIF outcome category" in w and "eif_outcome: one of" in w for w in warnings)


# ---------------------------------------------------------------- shape


def test_malformed_yaml_names_file_and_line(tmp_path):
    text = LOGIC_MODEL.replace("summary: Mentoring for young people.", "summary: [unclosed")
    root = make_project(tmp_path, logic_model=text)
    msg = [p for p in problems(root) if "malformed" in p][0]
    assert msg.startswith("logic_models/demo.yml:")
    assert "malformed YAML" in msg and "expected valid YAML" in msg


def test_unknown_key_lists_valid_keys(tmp_path):
    text = LOGIC_MODEL.replace("prevention: secondary", "prevention: secondary\ncolour: blue")
    root = make_project(tmp_path, logic_model=text)
    msg = only(root)
    assert msg.startswith(f"logic_models/demo.yml:{line_of(text, 'colour')}: error: colour: unknown key")
    assert "found 'colour'" in msg and "expected one of id, name, summary, kind, prevention" in msg


def test_missing_key(tmp_path):
    text = LOGIC_MODEL.replace("problem: Exclusion raises the risk of violence.\n", "")
    root = make_project(tmp_path, logic_model=text)
    msg = only(root)
    assert "error: problem: required key is missing (found nothing; expected a value for 'problem')" in msg


def test_bad_enum_lists_choices(tmp_path):
    text = LOGIC_MODEL.replace("prevention: secondary", "prevention: universal")
    root = make_project(tmp_path, logic_model=text)
    msg = only(root)
    assert msg.startswith(f"logic_models/demo.yml:{line_of(text, 'universal')}: error: prevention: invalid value")
    assert "found 'universal'" in msg and "expected one of 'primary', 'secondary', 'tertiary'" in msg


def test_nested_bad_value_has_key_path_and_line(tmp_path):
    text = LOGIC_MODEL.replace("type: binary", "type: yes_no")
    root = make_project(tmp_path, logic_model=text)
    msg = only(root)
    assert msg.startswith(f"logic_models/demo.yml:{line_of(text, 'yes_no')}: error: indicators[1].type: invalid value")
    assert "'count', 'binary', 'score', 'rate', 'proportion'" in msg


def test_bad_id_pattern(tmp_path):
    text = LOGIC_MODEL.replace("id: demo\n", "id: Demo Programme\n")
    root = make_project(tmp_path, logic_model=text)
    msg = [p for p in problems(root) if ": id:" in p][0]
    assert "found 'Demo Programme'" in msg and "lowercase letters" in msg


def test_duplicate_yaml_key(tmp_path):
    text = LOGIC_MODEL.replace("name: Demo mentoring", "name: Demo mentoring\nname: Another name")
    root = make_project(tmp_path, logic_model=text)
    msg = only(root)
    assert msg.startswith(f"logic_models/demo.yml:{line_of(text, 'Another name')}: error: name: key appears twice")


def test_empty_file(tmp_path):
    root = make_project(tmp_path, logic_model="# nothing here\n", plans={})
    msg = only(root)
    assert msg == "logic_models/demo.yml:1: error: (file): the file is empty (found no content; expected a YAML mapping)"


def test_top_level_not_mapping(tmp_path):
    root = make_project(tmp_path, logic_model="- just\n- a list\n", plans={})
    assert "the top level must be a mapping" in only(root)


def test_bad_timepoint_name(tmp_path):
    text = PREPOST.replace("{baseline: sdq_pre, exit: sdq_post}", "{baseline: sdq_pre, after: sdq_post}")
    root = make_project(tmp_path, plans={"p.yml": text})
    msg = only(root)
    assert msg.startswith(f"evaluations/p.yml:{line_of(text, 'after:')}: error: timepoints.sdq_total.after: invalid key")
    assert "found 'after'" in msg and "follow_up_<months>m" in msg


def test_negative_follow_up(tmp_path):
    text = PREPOST.replace("follow_up_months: 6", "follow_up_months: -6")
    root = make_project(tmp_path, plans={"p.yml": text})
    msg = only(root)
    assert "follow_up_months: invalid value (found -6; expected greater than or equal to 0)" in msg


def test_unknown_design_lists_designs(tmp_path):
    text = PREPOST.replace("design: pre_post", "design: before_after")
    root = make_project(tmp_path, plans={"p.yml": text})
    msg = only(root)
    assert "design: invalid value (found 'before_after'; expected one of 'pre_post', 'matched_comparison'" in msg


def test_all_problems_in_a_file_at_once(tmp_path):
    text = LOGIC_MODEL.replace("prevention: secondary", "prevention: universal").replace(
        "direction: increase", "direction: up").replace("source: police", "source: newspaper")
    root = make_project(tmp_path, logic_model=text)
    found = problems(root)
    assert any("prevention" in p for p in found) and any("source" in p for p in found)


# ---------------------------------------------------------------- meaning: logic models


def test_duplicate_node_id(tmp_path):
    text = LOGIC_MODEL.replace("- id: sessions\n      label: Sessions delivered", "- id: mentoring\n      label: Sessions delivered")
    root = make_project(tmp_path, logic_model=text)
    msg = [p for p in problems(root) if "used twice" in p][0]
    assert msg.startswith(f"logic_models/demo.yml:{line_of(text, '- id: mentoring', 2)}: error: "
                          "theory_of_change.outputs[0].id: node id is used twice")
    assert "already a activity" in msg or "already an activity" in msg or "(already a activity)" in msg


def test_link_to_unknown_node(tmp_path):
    text = LOGIC_MODEL.replace("- [wellbeing, behaviour]", "- [wellbeing, behavior]")
    root = make_project(tmp_path, logic_model=text)
    msg = [p for p in problems(root)][0]
    assert msg.startswith(f"logic_models/demo.yml:{line_of(text, 'behavior]')}: error: theory_of_change.links[2][1]: "
                          "link names a node that is not in the theory of change")
    assert "found 'behavior'" in msg and "expected one of mentoring, sessions, wellbeing, behaviour" in msg


def test_self_link(tmp_path):
    text = LOGIC_MODEL.replace("- [mentoring, sessions]", "- [mentoring, sessions]\n    - [sessions, sessions]")
    root = make_project(tmp_path, logic_model=text)
    assert "a node cannot cause itself" in only(root)


def test_untouched_node_is_a_warning_not_an_error(tmp_path):
    text = LOGIC_MODEL.replace("  outputs:\n", "    - id: family-support\n      label: Family support\n  outputs:\n")
    root = make_project(tmp_path, logic_model=text)
    assert problems(root) == []
    msg = only(root, "warning")
    assert msg.startswith(f"logic_models/demo.yml:{line_of(text, 'family-support')}: warning: "
                          "theory_of_change.activities[1].id: no link touches this node")


def test_duplicate_indicator(tmp_path):
    text = LOGIC_MODEL.replace("- id: offences", "- id: suspended")
    root = make_project(tmp_path, logic_model=text, plans={})
    msg = only(root)
    assert msg.startswith(f"logic_models/demo.yml:{line_of(text, '- id: suspended', 2)}: error: indicators[2].id: "
                          "indicator id is used twice")


def test_measures_unknown_node(tmp_path):
    text = LOGIC_MODEL.replace("measures: wellbeing", "measures: happiness")
    root = make_project(tmp_path, logic_model=text, plans={})
    msg = only(root)
    assert msg.startswith(f"logic_models/demo.yml:{line_of(text, 'happiness')}: error: indicators[0].measures: ")
    assert "found 'happiness'" in msg and "expected one of mentoring" in msg


def test_reversed_instrument_range(tmp_path):
    text = LOGIC_MODEL.replace("range: [0, 40]", "range: [40, 0]")
    root = make_project(tmp_path, logic_model=text, plans={})
    assert "indicators[0].instrument.range: instrument range is empty or reversed (found [40.0, 0.0]" in only(root)


def test_reversed_age(tmp_path):
    text = LOGIC_MODEL.replace("age: [10, 17]", "age: [17, 10]")
    root = make_project(tmp_path, logic_model=text, plans={})
    assert "population.age: age range is reversed (found [17, 10]; expected [youngest, oldest])" in only(root)


def test_share_target_out_of_range(tmp_path):
    text = LOGIC_MODEL.replace("target: {value: 0.2}", "target: {value: 20}")
    root = make_project(tmp_path, logic_model=text, plans={})
    assert "indicators[1].target.value: a target for a binary or proportion indicator is a share (found 20.0" in only(root)


def test_amber_on_wrong_side(tmp_path):
    text = LOGIC_MODEL.replace("target: {value: 0.2}", "target: {value: 0.2, amber: 0.1}")
    root = make_project(tmp_path, logic_model=text, plans={})
    msg = only(root)
    assert "indicators[1].target.amber: the amber threshold is on the good side of the target" in msg


def test_duplicate_logic_model_id_across_files(tmp_path):
    root = make_project(tmp_path, plans={})
    (root / "logic_models" / "copy.yml").write_text(LOGIC_MODEL)
    msg = only(root)
    assert msg.startswith("logic_models/demo.yml:1: error: id: logic model id is used by another file")
    assert "'demo' (also in logic_models/copy.yml)" in msg


# ---------------------------------------------------------------- meaning: evaluation plans


def test_unknown_intervention(tmp_path):
    text = PREPOST.replace("intervention: demo", "intervention: demos")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert only(root) == ("evaluations/p.yml:2: error: intervention: no logic model has this id "
                          "(found 'demos'; expected one of demo)")


def test_unknown_indicator_in_timepoints(tmp_path):
    text = PREPOST.replace("offences: {baseline", "offending: {baseline")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert only(root) == (f"evaluations/p.yml:{line_of(text, 'offending')}: error: timepoints.offending: indicator "
                          "is not in logic model 'demo' (found 'offending'; expected one of sdq_total, suspended, offences)")


def test_primary_outcome_not_among_outcomes(tmp_path):
    text = PREPOST.replace("  offences: {baseline: off_pre, exit: off_post}\n", "").replace(
        "primary_outcome: sdq_total", "primary_outcome: offences")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert "primary_outcome: the primary outcome is not among the plan's outcomes (found 'offences'; " \
           "expected one of sdq_total, suspended)" in only(root)


def test_primary_outcome_unknown(tmp_path):
    text = PREPOST.replace("primary_outcome: sdq_total", "primary_outcome: sdq")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert "primary_outcome: indicator is not in logic model 'demo' (found 'sdq'" in only(root)


def test_duplicate_evaluation_id(tmp_path):
    root = make_project(tmp_path, plans={"a.yml": PREPOST, "b.yml": PREPOST})
    assert only(root) == ("evaluations/b.yml:1: error: id: evaluation id is used by another file "
                          "(found 'demo-prepost' (also in evaluations/a.yml); expected a different id in each evaluation plan)")


def test_pre_post_needs_baseline(tmp_path):
    text = PREPOST.replace("{baseline: sdq_pre, exit: sdq_post}", "{exit: sdq_post}")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert "timepoints.sdq_total: pre/post change needs a baseline (found exit; expected a 'baseline' timepoint)" in only(root)


def test_needs_a_follow_up(tmp_path):
    text = PREPOST.replace("{baseline: sdq_pre, exit: sdq_post}", "{baseline: sdq_pre}")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert "timepoints.sdq_total: no timepoint after baseline" in only(root)


def test_matched_needs_treatment(tmp_path):
    text = MATCHED.replace("  treatment: treated\n", "")
    root = make_project(tmp_path, plans={"m.yml": text})
    assert "data: design 'matched_comparison' compares treated and comparison units (found no data.treatment" in only(root)


def test_did_needs_long_form(tmp_path):
    text = MATCHED.replace("design: matched_comparison", "design: difference_in_differences")
    root = make_project(tmp_path, plans={"m.yml": text})
    found = problems(root)
    assert any("design 'difference_in_differences' needs data in long form (found no data.period" in p for p in found)


def test_its_needs_time_series(tmp_path):
    text = textwrap.dedent("""\
        id: demo-its
        intervention: demo
        title: Offences before and after
        stage: refine_and_monitor
        design: interrupted_time_series
        evaluator: {name: Team, independent: false}
        data: {path: data/series.csv, id: area, period: month, population: pop}
        outcomes: {offences: offences}
        primary_outcome: offences
        follow_up_months: 12
        """)
    root = make_project(tmp_path, plans={"i.yml": text})
    (root / "evaluations" / "data" / "series.csv").write_text("area,month,pop,offences\nA,2020-01,9,3\nA,2020-02,9,4\n")
    assert "time_series: required key is missing (found nothing; expected time_series: {interruption" in only(root)


def test_its_needs_population(tmp_path):
    # the design models counts against the population (its offset): say so before `evalkit run` does
    root = _long(tmp_path, plan=LONG.replace(", population: pop}", "}"))
    assert only(root) == ("evaluations/i.yml:7: error: data: an interrupted time series models counts against the "
                          "population at risk (found no data.population; expected data.population: the population "
                          "column (the offset of every rate))")


def test_external_and_data_together(tmp_path):
    text = PREPOST + textwrap.dedent("""\
        external:
          citation: A trial
          sample: {treated: 10, comparison: 10}
          results:
            - {indicator: sdq_total, estimate: -2.0}
        """)
    root = make_project(tmp_path, plans={"p.yml": text})
    assert "data: a plan records an external study or points at data, not both" in only(root)


def test_no_data_and_not_external(tmp_path):
    text = PREPOST.replace("data:\n  path: data/cohort.csv\n  id: pupil_id\n", "")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert "data: required key is missing (found nothing; expected a data section" in only(root)


def test_external_result_outside_ci_and_missing_effect(tmp_path):
    text = textwrap.dedent("""\
        id: ext
        intervention: demo
        title: A published trial
        stage: test_for_efficacy
        design: rct
        evaluator: {name: University, independent: true}
        external:
          citation: A trial
          sample: {treated: 100, comparison: 100}
          results:
            - {indicator: sdq_total, estimate: -2.0, ci: [-1.5, -0.5]}
            - {indicator: suspended}
        primary_outcome: sdq_total
        follow_up_months: 12
        """)
    root = make_project(tmp_path, plans={"e.yml": text})
    found = problems(root)
    assert any("external.results[1].estimate: required key is missing" in p for p in found)
    text = text.replace("    - {indicator: suspended}\n", "")
    root2 = make_project(tmp_path / "b", plans={"e.yml": text})
    assert "external.results[0].ci: the estimate lies outside its confidence interval" in only(root2)


def test_duplicate_covariate_and_role_clash(tmp_path):
    text = MATCHED.replace("covariates: [age, female]", "covariates: [age, age, pupil_id]")
    root = make_project(tmp_path, plans={"m.yml": text})
    found = problems(root)
    assert any("covariates: covariate is listed twice (found 'age'" in p for p in found)
    assert any("covariates[2]: a covariate cannot be the data.id column" in p for p in found)


def test_score_column_needed_for_distance_column(tmp_path):
    text = MATCHED.replace("method: nearest", "method: nearest\n  distance: column")
    root = make_project(tmp_path, plans={"m.yml": text})
    assert "matching.score_column: distance: column needs the score column" in only(root)


def test_matching_on_pre_post_is_a_warning(tmp_path):
    text = PREPOST + "matching: {method: nearest}\n"
    root = make_project(tmp_path, plans={"p.yml": text})
    assert problems(root) == []
    assert "matching: ignored: design 'pre_post' does not match" in only(root, "warning")


def test_every_design_block_on_an_external_study_is_a_warning(tmp_path):
    # a published study is rated from what it reports: each design's block is named as ignored (the
    # comparison_areas block was dropped without a word before the registry listed the blocks), and
    # the feasibility criteria, which a published feasibility study keeps, are ignored for another design
    text = EXTERNAL + textwrap.dedent("""\
        matching: {method: nearest}
        comparison_areas: {treated_from: start}
        feasibility: {cases: {referral_date: referred}, criteria: [{metric: retention_rate, green: 0.8, amber: 0.6}]}
        """)
    root = make_project(tmp_path, plans={"e.yml": text})
    assert problems(root) == []
    warned = problems(root, "warning")
    assert [w.split(": warning: ")[1].split(" (found")[0] for w in warned] == [
        "matching: ignored: an external study is rated from what it reports",
        "comparison_areas: ignored: an external study is rated from what it reports",
        "feasibility: ignored: design 'rct' is not a feasibility study"], warned
    assert warned[1].startswith("evaluations/e.yml:15: warning: "), warned


# ---------------------------------------------------------------- data


def test_missing_data_file(tmp_path):
    text = PREPOST.replace("data/cohort.csv", "data/nowhere.csv")
    root = make_project(tmp_path, plans={"p.yml": text})
    msg = only(root)
    assert msg.startswith(f"evaluations/p.yml:{line_of(text, 'nowhere')}: error: data.path: data file not found")


def test_missing_column(tmp_path):
    text = PREPOST.replace("exit: sdq_post}", "exit: sdq_exit}")
    root = make_project(tmp_path, plans={"p.yml": text})
    msg = only(root)
    assert msg.startswith(f"evaluations/p.yml:{line_of(text, 'sdq_exit')}: error: timepoints.sdq_total.exit: "
                          "column not found in data/cohort.csv (found 'sdq_exit'; expected one of pupil_id, treated")


def test_duplicated_id(tmp_path):
    root = make_project(tmp_path, csv=CSV.replace("a3,0,14", "a1,0,14"))
    msg = only(root)
    assert msg.startswith(f"evaluations/demo-prepost.yml:{line_of(PREPOST, '  id: pupil_id')}: error: data.id: "
                          "'pupil_id' repeat at lines 2, 4")
    assert "expected one row per unit" in msg


def test_missing_id(tmp_path):
    root = make_project(tmp_path, csv=CSV.replace("a3,0,14", ",0,14"))
    assert "data.id: id column 'pupil_id' has missing values at line 4" in only(root)


def test_treatment_not_binary_and_one_group(tmp_path):
    root = make_project(tmp_path, plans={"m.yml": MATCHED}, csv=CSV.replace("a3,0,", "a3,2,"))
    assert "data.treatment: treatment column 'treated' is not 0/1 at line 4 (found 1 value(s) other than 0 and 1 or " \
           "missing; expected 1 for treated, 0 for comparison" in only(root)
    csv = "\n".join(line.replace(",0,", ",1,", 1) if i else line for i, line in enumerate(CSV.splitlines())) + "\n"
    root2 = make_project(tmp_path / "b", plans={"m.yml": MATCHED}, csv=csv)
    assert "data.treatment: no comparison rows in 'treated' (found only 1s; expected both 1 (treated) and 0" in only(root2)


def test_binary_column_not_binary(tmp_path):
    root = make_project(tmp_path, csv=CSV.replace("a4,0,15,1,12,11,0,0", "a4,0,15,1,12,11,0,2"))
    msg = only(root)
    assert "timepoints.suspended.exit: column 'susp_post' in data/cohort.csv is not 0/1 at line 5 (found 1 value(s) " \
           "other than 0 and 1" in msg
    assert "expected 0 or 1 (or true/false, or data.binary_labels) for binary indicator 'suspended'" in msg


def test_score_non_numeric_and_out_of_range(tmp_path):
    root = make_project(tmp_path, csv=CSV.replace("a4,0,15,1,12,11", "a4,0,15,1,twelve,11"))
    # the cell is never quoted (a cell may hold an identifier): the line and the kind of value say enough
    msg = only(root)
    assert "timepoints.sdq_total.baseline: column 'sdq_pre' in data/cohort.csv holds text that is not a number at " \
           "line 5 (found 1 such value(s); expected numbers for score indicator 'sdq_total'" in msg
    assert "twelve" not in msg
    root2 = make_project(tmp_path / "b", csv=CSV.replace("a4,0,15,1,12,11", "a4,0,15,1,12,41"))
    assert "holds values outside the instrument's range (SDQ) at line 5 (found 1 above 40; expected values from 0 " \
           "to 40)" in only(root2)


def test_count_not_a_count(tmp_path):
    root = make_project(tmp_path, csv=CSV.replace("a6,0,16,0,9,10,0,1,0,1", "a6,0,16,0,9,10,0,1,-1,1"))
    assert "timepoints.offences.baseline: column 'off_pre' in data/cohort.csv holds values that are not counts at line 7" \
        in only(root)


def test_covariate_all_missing_and_partly_missing(tmp_path):
    csv = "\n".join(",".join(c if j != 3 or i == 0 else "" for j, c in enumerate(line.split(",")))
                    for i, line in enumerate(CSV.splitlines())) + "\n"
    root = make_project(tmp_path, plans={"m.yml": MATCHED}, csv=csv)
    assert "covariates[1]: covariate 'female' is missing on every row (found no values" in only(root)
    root2 = make_project(tmp_path / "b", plans={"m.yml": MATCHED}, csv=CSV.replace("a2,1,13,1", "a2,1,13,"))
    assert problems(root2) == []
    assert "covariates[1]: covariate 'female' is missing on 1 of 6 rows" in only(root2, "warning")


LONG = textwrap.dedent("""\
    id: demo-its
    intervention: demo
    title: Offences before and after
    stage: refine_and_monitor
    design: interrupted_time_series
    evaluator: {name: Team, independent: false}
    data: {path: data/series.csv, id: area, period: month, population: pop}
    outcomes: {offences: offences}
    time_series: {interruption: 2020-03-01}
    primary_outcome: offences
    follow_up_months: 12
    """)
SERIES = "area,month,pop,offences\nA,2020-01,100,3\nA,2020-02,100,4\nA,2020-03,100,2\nA,2020-04,100,1\n"


def _long(tmp_path, plan=LONG, series=SERIES):
    root = make_project(tmp_path, plans={"i.yml": plan})
    (root / "evaluations" / "data" / "series.csv").write_text(series)
    return root


def test_long_form_valid(tmp_path):
    assert problems(_long(tmp_path)) == []


def test_long_form_duplicate_unit_period(tmp_path):
    root = _long(tmp_path, series=SERIES + "A,2020-04,100,1\n")
    msg = only(root)
    assert "data.id: 'area' and 'month' repeat at lines 5, 6 (found 2 rows sharing a value with another row; " \
           "expected one row per unit and period)" in msg
    assert "'A'" not in msg  # ids are never quoted


def test_period_not_dates(tmp_path):
    root = _long(tmp_path, series=SERIES.replace("2020-02", "Feb twenty"))
    assert "data.period: period column 'month' has values that are not dates at line 3" in only(root)


def test_interruption_outside_series(tmp_path):
    root = _long(tmp_path, plan=LONG.replace("2020-03-01", "2021-03-01"))
    assert "time_series.interruption: the interruption is not inside the series (found 2021-03-01 for a series from " \
           "2020-01-01 to 2020-04-01" in only(root)


def test_population_not_positive(tmp_path):
    root = _long(tmp_path, series=SERIES.replace("A,2020-02,100", "A,2020-02,0"))
    assert "data.population: column 'pop' has missing, non-positive or fractional values at line 3" in only(root)


def test_unsupported_data_file_type(tmp_path):
    text = PREPOST.replace("data/cohort.csv", "data/cohort.sav")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert "data.path: unsupported data file type (found '.sav'; expected one of .csv, .parquet, .pq, .xlsx)" in only(root)


def test_parquet_and_xlsx_are_read(tmp_path):
    import pandas as pd

    root = make_project(tmp_path)
    frame = pd.read_csv(root / "evaluations" / "data" / "cohort.csv")
    frame.to_parquet(root / "evaluations" / "data" / "cohort.parquet")
    frame.to_excel(root / "evaluations" / "data" / "cohort.xlsx", index=False)
    for suffix in ("parquet", "xlsx"):
        (root / "evaluations" / "demo-prepost.yml").write_text(PREPOST.replace("cohort.csv", f"cohort.{suffix}"))
        assert problems(root) == [], suffix
    (root / "evaluations" / "data" / "cohort.parquet").write_bytes(b"not parquet")
    (root / "evaluations" / "demo-prepost.yml").write_text(PREPOST.replace("cohort.csv", "cohort.parquet"))
    assert "data.path: data file cannot be read" in only(root)


def test_load_project_raises_with_every_error(tmp_path):
    text = PREPOST.replace("intervention: demo", "intervention: nope")
    root = make_project(tmp_path, plans={"p.yml": text, "q.yml": MATCHED.replace("exact", "exact")})
    with pytest.raises(SpecError) as info:
        load_project(root)
    assert "no logic model has this id" in str(info.value)


def test_numbered_periods_are_fine_for_did_but_not_for_a_time_series(tmp_path):
    did = textwrap.dedent("""\
        id: demo-did
        intervention: demo
        title: Offences by wave
        stage: test_for_efficacy
        design: difference_in_differences
        evaluator: {name: Team, independent: true}
        data: {path: data/waves.csv, id: area, period: wave, treatment: active}
        outcomes: {offences: offences}
        primary_outcome: offences
        follow_up_months: 12
        """)
    root = make_project(tmp_path, plans={"d.yml": did})
    (root / "evaluations" / "data" / "waves.csv").write_text(
        "area,wave,active,offences\nA,1,0,3\nA,2,1,1\nB,1,0,2\nB,2,0,2\n")
    assert problems(root) == []
    root2 = _long(tmp_path / "b", series=SERIES.replace("2020-0", "").replace("month", "month"))
    assert "data.period: period column 'month' has values that are not dates" in only(root2)


@pytest.mark.parametrize("text", ["~\n", "null\n", "---\n...\n"])
def test_a_file_holding_only_null_is_empty_not_skipped(tmp_path, text):
    root = make_project(tmp_path, plans={"p.yml": PREPOST, "blank.yml": text})
    assert only(root) == "evaluations/blank.yml:1: error: (file): the file is empty (found no content; expected a YAML mapping)"


def test_new_statistical_options_list_their_choices(tmp_path):
    """Issue 15: did.base_period, time_series.impact and matching.std_caliper are checked like every
    option (valid choices in the message)."""
    text = MATCHED.replace("  caliper: 0.2", "  caliper: 0.2\n  std_caliper: maybe")
    root = make_project(tmp_path, plans={"p.yml": text})
    assert "matching.std_caliper: invalid value (found 'maybe'" in only(root)
    from pydantic import ValidationError

    from evalkit.spec.raw import DifferenceInDifferences, TimeSeries

    with pytest.raises(ValidationError, match="'universal' or 'varying'"):
        DifferenceInDifferences(base_period="weekly")
    with pytest.raises(ValidationError, match="'level_and_slope' or 'level'"):
        TimeSeries(interruption="2020-01-01", impact="slope")


def test_validate_reports_a_wrong_disclosure_setting_in_evalkit_yml(tmp_path):
    from evalkit.project import validate_project

    (tmp_path / "logic_models").mkdir()
    (tmp_path / "evaluations").mkdir()
    (tmp_path / "evalkit.yml").write_text("data_roots: []\ndisclosure:\n  policy: suppress\n  threshold: 0\n")
    found = [str(p) for p in validate_project(tmp_path, check_data=False).problems]
    assert found == ["evalkit.yml:4: error: disclosure.threshold: found 0; expected a whole number of at least 1"]
