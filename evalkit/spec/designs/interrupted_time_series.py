"""Interrupted time series of counts (evalkit.estimate.its), options in the plan's ``time_series``."""

from evalkit.spec.designs import DesignEntry, EvidenceFacts, PlanCheck, ReportFacts, ReportSection
from evalkit.spec.raw import Design, TimeSeries


def checks(plan: PlanCheck) -> None:
    """A population to rate the counts by, and the time_series block naming the interruption."""
    raw = plan.plan
    if not plan.has_data:
        return
    if plan.long_form and raw.data.population is None:
        plan.err(("data",), "an interrupted time series models counts against the population at risk",
                 "no data.population", "data.population: the population column (the offset of every rate)")
    if raw.time_series is None:
        plan.err(("time_series",), "required key is missing", "nothing",
                 "time_series: {interruption: YYYY-MM-DD, model: ...}")


DESIGN = DesignEntry(
    design=Design.interrupted_time_series, analysis="its", options_section="time_series", options_model=TimeSeries,
    options_ignored="is not a time series", checks=checks,
    # counts against the population at risk, one series per area: no unit-level options
    options=frozenset(),
    sections=("counterfactual", "delivery"),
    evidence_class="ITS", words="interrupted time series", long_form=True, population=True,
    report=ReportFacts(
        words="interrupted time series",
        caveat=("The effect is estimated against the trend before the programme started; other "
                "changes at the same time could explain a break in the series."),
        area_months=True),
    report_sections=(ReportSection("counterfactual", "Observed and expected without the programme",
                                   "sec-counterfactual", "evalkit.report.sections:counterfactual"),),
    evidence=EvidenceFacts(
        counts_participants=False, sample_size_not_applicable="a population series: participants are not counted",
        # level 3 on the Maryland scale with a control series
        sms_variant="evalkit.evidence.assess:sms_with_control"))
