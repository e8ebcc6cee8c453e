"""A toy design, added to evalkit by this one module and one registry line (tests/test_toy_design.py).

``design: gain_score``: each participant's gain (follow-up minus baseline) on the primary outcome,
summarised by its mean or its median (the plan's ``gain_score: {summary: mean | median}``), with a
normal-approximation interval. It exists to prove that a design needs nothing outside its own module:
its options model and their default, its own validation rule, its analysis, its section record, its
report section and its evidence facts are all here, and evalkit's readers find them through the
registry. It is not a method anyone should use.
"""

from __future__ import annotations

import dataclasses
import typing
from enum import Enum

from evalkit.result_sections import SectionRecord
from evalkit.spec.designs import DesignEntry, EvidenceFacts, PlanCheck, ReportFacts, ReportSection
from evalkit.spec.raw import _Raw

HERE = __name__


class Summary(str, Enum):
    mean = "mean"
    median = "median"


class GainScoreOptions(_Raw):
    """The plan's ``gain_score`` block."""

    summary: Summary = Summary.mean


@dataclasses.dataclass(frozen=True)
class GainSummary(SectionRecord):
    """The gains of the primary outcome: how many, their spread, and the summary the plan chose."""

    KEY: typing.ClassVar[str] = "gain_score"
    indicator: str
    summary: str
    n: int
    spread: float


def checks(plan: PlanCheck) -> None:
    """A gain is follow-up minus baseline: every indicator of the plan needs its baseline column."""
    for ind_id, tp in plan.timepoints.items():
        if tp.baseline is None:
            plan.err(("timepoints", ind_id), "a gain score needs a baseline", ", ".join(tp.columns) or "nothing",
                     "a 'baseline' timepoint (the gain is follow-up minus baseline)")


def analyse(evaluation, frame, seed):
    import numpy as np

    from evalkit.estimate import Analysis
    from evalkit.results import Estimate, FlowStage

    options = evaluation.design_options["gain_score"]  # the plan's block, or the entry's default
    tp = evaluation.timepoints[evaluation.primary_outcome.id]
    follow_up, column = tp.follow_ups[-1]
    pre = frame[tp.baseline].to_numpy(dtype=float)
    post = frame[column].to_numpy(dtype=float)
    gain = (post - pre)[~(np.isnan(pre) | np.isnan(post))]
    n = len(gain)
    centre = float(np.median(gain) if options.summary is Summary.median else gain.mean())
    se = float(gain.std(ddof=1) / np.sqrt(n)) * (1.2533 if options.summary is Summary.median else 1.0)
    estimate = Estimate(
        indicator=evaluation.primary_outcome.id, design=evaluation.design.value, estimand="mean_change",
        timepoints=("baseline", follow_up), n=n, estimate=centre, std_error=se, ci_low=centre - 1.96 * se,
        ci_high=centre + 1.96 * se, p_value=None, method=f"{options.summary.value} gain, normal approximation",
        units="points", direction_good=(centre > 0) == evaluation.primary_outcome.good_when_higher,
        primary=True, comparison=f"{follow_up} vs baseline")
    flow = (FlowStage("in_data", int(len(frame)), note="rows in the data file"),
            FlowStage("analysed", n, indicator=evaluation.primary_outcome.id,
                      note=f"{follow_up}: complete baseline and {follow_up} pairs"))
    section = {"indicator": evaluation.primary_outcome.id, "summary": options.summary.value, "n": n,
               "spread": round(float(gain.std(ddof=1)), 6)}
    return Analysis(estimates=(estimate,), flow=flow, sections={"gain_score": section})


def report_section(rep) -> None:
    """The report's "Gain scores" section, from the typed record."""
    from evalkit.publish.document import Para
    from evalkit.publish.values import Phrase

    record = rep.R.section("gain_score")
    rep.page.add(Para(Phrase(f"The {record.summary} gain of {record.indicator}; the gains' standard deviation "
                             f"is {record.spread:.2f} points.")))


DESIGN = DesignEntry(
    design="gain_score", analysis=HERE, options_section="gain_score", options_model=GainScoreOptions,
    options_default=GainScoreOptions, checks=checks,
    options=frozenset(), sections=("gain_score",), records=(f"{HERE}:GainSummary",),
    evidence_class="pre_post", words="gain score (toy)",
    report=ReportFacts(words="toy gain-score summary in one group", caveat="A toy design for a test.",
                       analysed_has_both_measures=True),
    report_sections=(ReportSection("gain_score", "Gain scores", "sec-gain-score", f"{HERE}:report_section"),),
    evidence=EvidenceFacts(sms=1))
