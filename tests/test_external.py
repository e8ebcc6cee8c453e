"""External studies: reported results carried into the same records, on the right scale."""

from __future__ import annotations

import math

import pytest

from evalkit.project import load_project
from evalkit.run import run
from evalkit.verdict import judge, null_value
from test_spec_validation import make_project

PLAN = """\
id: ext
intervention: demo
title: A published trial
stage: test_for_efficacy
design: rct
evaluator: {name: University, independent: true}
external:
  citation: A trial
  sample: {treated: 200, comparison: 210}
  intention_to_treat: true
  results:
    - {indicator: suspended, estimate: 0.8, ci: [0.6, 1.05], effect_size: {kind: risk_ratio, value: 0.8}}
    - {indicator: offences, estimate: 0.7, ci: [0.55, 0.9], scale: ratio}
    - {indicator: sdq_total, estimate: -1.5, ci: [-2.5, -0.5]}
primary_outcome: suspended
follow_up_months: 12
"""


def test_ratios_are_judged_against_one_and_differences_against_zero(tmp_path):
    project = load_project(make_project(tmp_path, plans={"e.yml": PLAN}))
    result = run(project.evaluation("ext"))
    by = {e.indicator: e for e in result.estimates}
    assert by["suspended"].units == "ratio" and null_value(by["suspended"]) == 1.0
    assert by["suspended"].std_error == pytest.approx((math.log(1.05) - math.log(0.6)) / (2 * 1.959963984540054))
    assert by["suspended"].direction_good is True  # fewer suspensions is better
    assert judge(by["suspended"]).significant is False  # the interval holds 1
    assert judge(by["offences"]).significant is True and by["offences"].direction_good is True
    assert by["sdq_total"].units == "difference, as reported" and judge(by["sdq_total"]).significant is True
    assert by["sdq_total"].std_error == pytest.approx(2.0 / (2 * 1.959963984540054))
    assert by["suspended"].primary and result.sections["external"]["intention_to_treat"] is True
