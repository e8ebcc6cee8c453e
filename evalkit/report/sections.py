"""The sections of an evaluation report, built as publication blocks from the results and the context.

:func:`build_report` adds one report page to a :class:`~evalkit.publish.publication.Publication`.
Nothing here computes a statistic and nothing here formats a count: every count of people is a
typed value of the publication's ledger (so it is shown, rounded, "fewer than 5" or ``[c]``
exactly as the whole publication decides), every statistic of a group carries the counts of that
group (:class:`~evalkit.publish.values.Stat`, hidden when the group is small), and every
percentage carries its numerator and denominator (:class:`~evalkit.publish.values.Share`).
Words come from :mod:`evalkit.report.wording`, the same rules as the evidence rating.

Links declared for the disclosure control (so no hidden count can be worked out):

- the participant flow: each stage = the next stage + those lost between them; the "all" column
  = the sum of the groups;
- the results tables: n = n took part + n comparison; the everyone row = the sum of a subgroup's
  levels; each n tied to the flow's count of the same value (the same people);
- reliable change: improved + no reliable change + deteriorated = n;
- attrition shares: those lost over those at the start;
- the run's cautions: each count in them tied to the page's counts of the same value;
- feasibility criteria: the count and its denominator; the manifest's rows and the flow.
"""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.publish.document import Bullets, Callout, Col, Details, Figure, Markdown, Para, PrintOnly, Svg
from evalkit.publish.text import md_text
from evalkit.publish.markup import svg_value
from evalkit.publish.values import Count, Derived, Fixed, Phrase, Share, Stat, phrase
from evalkit.report import value_for_money
from evalkit.report import wording as w
from evalkit.result_sections import ABSENT, given
from evalkit.results import Estimate, ResultSet, fill_template
from evalkit.spec.designs import REGISTRY, ReportFacts, report_sections, resolve

CONTEXT_SCHEMA = "evalkit.report-context/v1"
# Where each section a results file can hold is shown (issue 16: every result has a home; a test
# walks these). These are the sections several designs write; a design's own sections have their
# home in its registry entry (report_sections, evalkit/spec/designs/). A section with no home is
# still shown, under "Further results".
SHARED_HOMES = {
    "attrition": "sec-flow", "balance": "sec-balance", "matching": "sec-balance", "propensity": "sec-balance",
    "robustness": "sec-robustness", "sensitivity": "sec-robustness", "rct": "sec-methods",
    "subgroups": "sec-subgroups", "delivery": "sec-delivery",
}
SECTION_HOMES = {**SHARED_HOMES, **{k: s.anchor for s in report_sections() for k in (s.key, *s.also)}}
MAIN_ESTIMANDS = ("mean_change", "change_in_proportion", "att", "ate", "did_att", "itt", "reported", "level_change",
                  "slope_change", "risk_ratio", "rate_ratio", "events_prevented", "rate_gap")
STAGE_WORDS = {"in_data": "In the data", "with_baseline": "With a baseline measure",
               "with_follow_up": "With a follow-up measure", "analysed": "Analysed", "treated_pool": "Eligible",
               "comparison_pool": "Eligible", "matched": "Matched", "discarded": "Not matched (discarded)",
               "referred": "Referred", "eligible": "Eligible", "consented": "Consented", "started": "Started",
               "completed": "Completed", "randomised": "Randomised",
               "recruited": "Recruited"}
RESULT_HEADERS = ["indicator", "subgroup", "estimand", "comparison", "n", "n took part", "n comparison",
                  "estimate", "CI low", "CI high", "CI level", "p", "p (Holm)", "effect size", "significant",
                  "reading"]
SECONDARY_HEADERS = ["comparison", "n took part", "n comparison", "CI level", "effect size", "reading"]
PRINT_HEADERS = ["indicator", "subgroup", "estimand", "n", "estimate", "CI low", "CI high", "p", "significant"]


def label(C: Mapping, indicator: str | None) -> str:
    if indicator is None:
        return "all indicators"
    info = (C.get("indicators") or {}).get(indicator) or {}
    # an identifier without a label (a feasibility metric) reads as words, and can wrap
    return str(info.get("label") or str(indicator).replace("_", " "))


def sec_get(R: ResultSet, key: str) -> Mapping | None:
    value = (R.sections or {}).get(key)
    return value if isinstance(value, Mapping) and value else None


def record(R: ResultSet, key: str):
    """The typed record of section ``key`` (evalkit.result_sections), None where the results hold none:
    a field the record does not declare fails in a test rather than printing nothing on a page."""
    return R.section(key) if sec_get(R, key) is not None else None


def facts(R: ResultSet) -> ReportFacts:
    """What the design's registry entry says the report should say about it (a design no longer
    registered reads as its name in words)."""
    for design, e in REGISTRY.items():
        if design.value == R.design:
            return e.report_facts
    return ReportFacts(words=R.design.replace("_", " "))


def _own_sections(rep: Report, own, place: str) -> None:
    """The sections registry entries declare for this place on the page, in registry order."""
    for s in own:
        if s.place == place:
            rep.page.heading(s.heading, anchor=s.anchor)
            resolve(s.builder)(rep)


def _main(R: ResultSet) -> list[Estimate]:
    return [e for e in R.estimates if e.estimand in MAIN_ESTIMANDS]


def _est_label(C, e: Estimate, with_comparison: bool = True) -> str:
    text = label(C, e.indicator)
    if e.subgroup != "all":
        text += f" ({e.subgroup})"
    if with_comparison and e.comparison:
        text += f", {e.comparison}"
    return text


def _p(page, *sentences: str, style: str = "") -> None:
    text = " ".join(s for s in sentences if s)
    if text:
        page.add(Para(Phrase(text.replace("{", "{{").replace("}", "}}")), style))


def _fmt(digits: int = w.DIGITS):
    return lambda v: w.fmt(v, digits)


@dataclass
class Report:
    """One report being built: its page, results, context and the counts its sections share."""

    page: Any
    R: ResultSet
    C: Mapping
    flow: dict = field(default_factory=dict)  # (group, stage) / (group, "lost", stage) -> Count
    estimate_n: dict = field(default_factory=dict)  # (row, "n"|"t"|"c") -> Count

    @property
    def rule(self):
        return w.rule_from_context(self.C)

    def count(self, value, role="normal", label_=""):
        return self.page.count(value, role=role, label=f"{self.R.evaluation}: {label_}")

    def tie(self, count: Count) -> Count:
        """The same number as a flow count shows the same people: one fact for the audit."""
        self.page.ledger.link_by_value(count, list(self.flow.values()))
        return count


# --------------------------------------------------------------------------------------------
# the page


def build_report(pub, path: str, R: ResultSet, C: Mapping, *, stale: Sequence[str] = (), pdf: bool = True):
    """Add the report of ``R`` to the publication ``pub`` at ``path`` (e.g. ``"reach-2023-matched/index"``)."""
    iv = C.get("intervention") or {}
    page = pub.page(path, R.title, subtitle=f"{iv.get('name') or R.intervention}: evaluation report",
                    formats=("html", "typst") if pdf else ("html",), source=f".evalkit/results/{R.evaluation}/results.json")
    rep = Report(page, R, C)
    if stale:
        page.add(Callout("important", "These results are out of date", [Para(Phrase(
            ("This report was published with --allow-stale: the results were computed before "
             + "; ".join(stale) + ". Run `evalkit run` again before relying on them.").replace("{", "{{")
            .replace("}", "}}")))]))
    flow_cells(rep)  # first, so every later count can be tied to the flow
    sec = R.sections or {}
    own = [s for s in report_sections() if s.key in sec]  # the design's own sections (registry entries)
    for s in own:
        if s.prepare:
            resolve(s.prepare)(rep)
    page.heading("Summary", anchor="sec-summary")
    summary(rep)
    if (C.get("logic_model") or {}).get("nodes"):
        page.heading("Logic model", anchor="sec-logic-model")
        logic_model(rep)
    page.heading("Data analysed" if _area_months(R) else "Participant flow", anchor="sec-flow")
    flow(rep)
    page.heading("Methods", anchor="sec-methods")
    methods(rep)
    _own_sections(rep, own, "after_methods")
    if "balance" in sec or "matching" in sec:
        heading = facts(R).balance_heading
        page.heading(heading.replace("matching", "weighting") if _weighting(R) else heading, anchor="sec-balance")
        matching(rep)
        balance(rep)
    if "delivery" in sec:
        from evalkit.report import who_and_how

        page.heading("How it was delivered", anchor="sec-delivery")
        who_and_how.how_delivered(rep, sys.modules[__name__])
    _own_sections(rep, own, "before_results")
    page.heading("Results", anchor="sec-results")
    results_table(rep)
    forest(rep)
    if "subgroups" in sec:
        from evalkit.report import who_and_how

        page.heading("Who benefits", anchor="sec-subgroups")
        who_and_how.who_benefits(rep, sys.modules[__name__])
    _own_sections(rep, own, "after_results")
    page.heading("Robustness and sensitivity", anchor="sec-robustness")
    robustness(rep)
    unknown = [k for k in sec if k not in SECTION_HOMES]
    if unknown:
        page.heading("Further results", anchor="sec-further")
        further_results(rep, unknown)
    if value_for_money.has_section(C):
        value_for_money.value_for_money(rep)
    page.heading("Evidence rating", anchor="sec-evidence")
    evidence(rep)
    page.heading("Limitations", anchor="sec-limitations")
    limitations(rep)
    page.heading("Reproducibility", anchor="sec-manifest")
    manifest(rep)
    return page


# --------------------------------------------------------------------------------------------
# summary


def _stat_of(rep: Report, i: int) -> list[Count]:
    return [c for k, c in rep.estimate_n.items() if k[0] == i]


def estimate_counts(rep: Report) -> None:
    """The n, n took part and n comparison of every estimate, linked (decided once per report)."""
    if rep.estimate_n:
        return
    R = rep.R
    families: dict[tuple, dict] = {}
    for i, e in enumerate(R.estimates):
        cells = {}
        for k, v, what in (("n", e.n, "n"), ("t", e.n_treated, "n took part"), ("c", e.n_comparison, "n comparison")):
            if v is not None:
                role = "normal" if e.subgroup == "all" else "detail"
                cells[k] = rep.tie(rep.count(v, role, f"{e.indicator} {e.subgroup} {what}"))
                rep.estimate_n[(i, k)] = cells[k]
        if "n" in cells and ("t" in cells or "c" in cells) and cells["n"].value == sum(
                cells[k].value for k in ("t", "c") if k in cells):
            rep.page.ledger.sum(cells["n"], [cells[k] for k in ("t", "c") if k in cells])
        column = e.subgroup.split("=", 1)[0] if e.subgroup != "all" else None
        fam = families.setdefault((e.indicator, e.estimand, e.comparison, tuple(e.timepoints)), {})
        fam.setdefault(column, []).append(i)
    for fam in families.values():
        everyone = fam.get(None)
        for column, rows in fam.items():
            if column is None or not everyone or len(rows) < 2:
                continue
            total = rep.estimate_n.get((everyone[0], "n"))
            parts = [rep.estimate_n.get((r, "n")) for r in rows]
            if total is not None and all(parts) and total.value == sum(p.value for p in parts):
                rep.page.ledger.sum(total, parts)
            elif total is not None and all(parts) and total.value > sum(p.value for p in parts):
                # some have no value of the subgroup column: the rest is a count too (not shown)
                rest = rep.count(total.value - sum(p.value for p in parts), "detail",
                                 f"{column}: no value recorded")
                rep.page.ledger.sum(total, [*parts, rest])


def _estimate_words(rep: Report, i: int, e: Estimate, with_comparison: bool = False) -> Phrase:
    """The plain sentence of one estimate, or what the reader is told when its group is small."""
    counts = _stat_of(rep, i)
    if any(c.small for c in counts):
        who = label(rep.C, e.indicator) + (f" ({e.subgroup})" if e.subgroup != "all" else "")
        return phrase("{who}: not shown, because it describes fewer than {k} people (disclosure control).",
                      who=Fixed(who), k=Fixed(rep.page.ledger.policy.threshold))
    text = w.sentence(e, _est_label(rep.C, e, with_comparison=with_comparison), rep.rule)
    return Phrase(text.replace("{", "{{").replace("}", "}}"))


def _also_words(rep: Report, i: int, e: Estimate) -> Phrase:
    """A second estimate of an outcome already described: what it was, in a short clause."""
    if any(c.small for c in _stat_of(rep, i)):
        return _estimate_words(rep, i, e)
    v = w.verdict(e, rep.rule)
    number = f"{w.number_with_units(e)} ({w.any_interval(e)})"
    text = (f"Also estimated as {w.what_was_estimated(e)}: {number}"
            + (f"; {w.p_text(e.p_value)}" if e.p_value is not None else "")
            + f", {'significant' if v.significant else 'not significant' if v.significant is False else 'not judged'}"
            + (f" ({e.subgroup})" if e.subgroup != "all" else "") + ".")
    return Phrase(text.replace("{", "{{").replace("}", "}}"))


def _pre_trend_words(rep: Report) -> str | None:
    """The pre-trend test of the primary outcome, for "How sure we are" (not only Limitations)."""
    es = record(rep.R, "event_study")
    ind = _primary_indicator(rep.R, rep.C)
    key = ind if es and ind in es.entries else next(iter(es.entries), None) if es else None
    entry = es.entry(key) if key is not None and isinstance(es[key], Mapping) else None
    test = _given(entry, "pre_trend_test") if entry is not None else None
    if not isinstance(test, Mapping) or test.get("p_value") is None:
        return None
    alpha = w.pre_trend_alpha(rep.C)
    p = test["p_value"]
    if p < alpha:
        return (f"The pre-trend test casts doubt on parallel trends (p = {w.fmt_p(p)}, below {alpha:g}): before the "
                "programme started the two groups were already moving apart, so the estimate may be biased "
                "(see the event study and its sensitivity analysis).")
    return (f"The pre-trend test found no evidence against parallel trends (p = {w.fmt_p(p)}, not below {alpha:g}); "
            "a test cannot prove the trends would have stayed parallel.")


def summary(rep: Report) -> None:
    R, C, page = rep.R, rep.C, rep.page
    ev = C.get("evaluation") or {}
    iv = C.get("intervention") or {}
    name = iv.get("name") or R.intervention
    design = design_words(R)
    who = (ev.get("evaluator") or {}).get("name")
    done = f"{name} was evaluated with a {design}" + (f" by {who}" if who else "")
    done += " (recorded here from the study's own report; evalkit did not re-analyse it)." if ev.get("external") else "."
    if ev.get("follow_up_months"):
        done += f" Outcomes were followed up to {ev['follow_up_months']} months."
    page.heading("What was done", 3)
    _p(page, done)
    estimate_counts(rep)
    main = [(i, e) for i, e in enumerate(R.estimates) if e.estimand in MAIN_ESTIMANDS]
    primary = [(i, e) for i, e in main if e.primary] or main[:1]
    rest = [(i, e) for i, e in main if (i, e) not in primary and e.subgroup == "all"]
    page.heading("What was found", 3)
    fs = record(R, "feasibility")
    if fs:
        if isinstance(fs.verdict, str):
            page.untrusted_para(f"Feasibility: {fs.verdict}")
        path = fs.pathway
        if isinstance(path, Mapping) and path.get("verdict"):
            page.untrusted_para(f"Next step: {path['verdict']} (next stage: "
                                f"{str(path.get('next_stage', '-')).replace('_', ' ')}).")
    elif not main:
        _p(page, "The run produced no estimates.")
    for i, e in primary:
        words = _estimate_words(rep, i, e)
        page.add(Para(Phrase("Primary outcome: " + words.template, words.values)))
    # one finding per outcome: a risk ratio or a matched DiD of the same outcome is the same finding
    # estimated another way, not another finding
    same = [(i, e) for i, e in rest if any(e.indicator == p.indicator for _j, p in primary)]
    if same:
        _p(page, "The same outcome estimated in other ways:")
        page.add(Bullets([_also_words(rep, i, e) for i, e in same]))
    others: dict[str, list] = {}
    for i, e in rest:
        if (i, e) not in same:
            others.setdefault(e.indicator, []).append((i, e))
    if others:
        counts = w.summary_counts([items[0][1] for items in others.values()], rep.rule)
        parts = [f"{n} {k}" for k, n in counts.items() if n]
        _p(page, f"Of the other {len(others)} outcome(s), for everyone: " + ", ".join(parts) + ".")
        bullets = []
        for items in others.values():
            first = _estimate_words(rep, *items[0])
            more = [_also_words(rep, i, e) for i, e in items[1:]]
            template = first.template + "".join(" " + m.template for m in more)
            values = dict(first.values)
            for m in more:
                values.update(m.values)
            bullets.append(Phrase(template, values))
        page.add(Bullets(bullets))
    page.heading("How sure we are", 3)
    sure = [facts(R).caveat]
    trend = _pre_trend_words(rep)
    if trend:
        sure.append(trend)
    rating = C.get("evidence") if isinstance(C.get("evidence"), Mapping) else {}
    if rating.get("level"):
        sure.append(f"The programme's evidence rating is {rating['level']} (see the evidence rating section).")
    if R.warnings:
        sure.append(f"The run recorded {len(R.warnings)} caution(s), listed under limitations.")
    if any(e.p_value_holm is not None for _i, e in main):
        which = "adjusted" if rep.rule.holm else "unadjusted"
        sure.append("P-values are also shown adjusted for multiple outcomes (Holm); significance is judged on the "
                    f"{which} p-values, as in the evidence rating.")
    _p(page, *sure)


# --------------------------------------------------------------------------------------------
# logic model (drawn from the model itself)


def logic_model(rep: Report) -> None:
    from evalkit.plots.logic_model import logic_model_svg

    C = rep.C
    lm = C.get("logic_model") or {}
    known = C.get("indicators") or {}
    evaluated = sorted({e.indicator for e in rep.R.estimates if e.indicator in known})
    measured = {known[i].get("measures") for i in evaluated}
    nodes, links = list(lm.get("nodes") or []), [tuple(x) for x in lm.get("links") or []]
    rep.page.add(Svg(lambda _sink: logic_model_svg(nodes, links, measured), "logic-model"))
    if evaluated:
        _p(rep.page, f"Highlighted: the outcomes this evaluation measured ({', '.join(label(C, i) for i in evaluated)}).",
           style="note")


# --------------------------------------------------------------------------------------------
# participant flow


OUTCOME_GROUP = "outcome"  # the feasibility flow's second column: the primary outcome's measurements
FLOW_SIDE = {("in_data", "with_baseline"): "No baseline measure",
             ("with_baseline", "analysed"): "Lost after baseline (no follow-up)",
             ("recruited", "with_baseline"): "No baseline measure",
             ("in_data", "treated_pool"): "Not eligible", ("in_data", "comparison_pool"): "Not eligible"}


def _primary_indicator(R: ResultSet, C: Mapping) -> str | None:
    return ((C.get("evaluation") or {}).get("primary_outcome")
            or next((e.indicator for e in R.estimates if e.primary), None))


def _primary_timepoint(R: ResultSet, indicator: str | None) -> str | None:
    """The follow-up of the primary estimate ("exit" of "exit vs baseline"), to pick its analysed count."""
    e = next((e for e in R.estimates if e.primary and e.indicator == indicator), None)
    if e is None or not e.comparison or " vs " not in e.comparison:
        return None
    return e.comparison.split(" vs ", 1)[0]


def _funnel(items: list) -> list:
    """One column as a true funnel: each stage a subset of the one before.

    Those with a follow-up measure are not a subset of those with a baseline (a follow-up can be
    recorded without a baseline), so where the analysed pairs are known that stage is left out:
    with a baseline -> lost after baseline (no follow-up) -> analysed with both (CONSORT)."""
    stages = [s.stage for s in items]
    if "analysed" in stages:
        items = [s for s in items if s.stage != "with_follow_up"]
    return items


def _flow_stages(R: ResultSet, C: Mapping | None = None):
    """The flow to draw: (indicator the per-indicator counts are for, [(group, [stages])])."""
    C = C or {}
    stages = list(R.flow)
    if not stages:
        return None, []
    primary = _primary_indicator(R, C)
    if not any(s.indicator == primary for s in stages if s.indicator is not None):
        primary = next((e.indicator for e in R.estimates if e.primary), None)
    overall = [s for s in stages if s.indicator is None]
    per_ind = [s for s in stages if s.indicator is not None and s.indicator == primary] or \
              [s for s in stages if s.indicator is not None and s.indicator == stages[-1].indicator]
    indicator = per_ind[0].indicator if per_ind else None
    tp = _primary_timepoint(R, indicator)
    for group in dict.fromkeys(s.group for s in per_ind):
        analysed = [s for s in per_ind if s.stage == "analysed" and s.group == group]
        if len(analysed) > 1:
            # several follow-ups: the primary estimate's one (its note starts "exit: ..."), else the last
            keep = next((s for s in analysed if tp is not None and s.note.split(":", 1)[0] == tp), analysed[-1])
            per_ind = [s for s in per_ind if s.stage != "analysed" or s.group != group or s is keep]
    columns: dict[str, list] = {}
    if facts(R).outcome_flow_column and per_ind:
        # delivery (referred >= eligible >= consented >= started >= completed), then the primary
        # outcome's measurements among those recruited, in a column of their own: people who did not
        # complete the programme can still be measured, so these are not a subset of "completed"
        for s in overall:
            columns.setdefault(s.group, []).append(s)
        columns[OUTCOME_GROUP] = _funnel(per_ind)
        return indicator, list(columns.items())
    seen = {(o.stage, o.group) for o in overall}
    for s in overall + [s for s in per_ind if (s.stage, s.group) not in seen]:
        columns.setdefault(s.group, []).append(s)
    return (indicator if per_ind else None), [(g, _funnel(items)) for g, items in columns.items()]


def _area_months(R: ResultSet) -> bool:
    return facts(R).area_months or any("area(s) x months" in s.note for s in R.flow)


def flow_cells(rep: Report) -> None:
    """The flow's counts and links (declared before anything else, so other counts can be tied to them).

    The first box of each column (the cohort) and the last (those analysed) are headline counts:
    when a small number were lost between them, another count is given up first, so the cohort's
    size stays readable and the small count reads "fewer than 5".
    """
    indicator, columns = _flow_stages(rep.R, rep.C)
    rep.flow_indicator = indicator
    groups = dict(columns)
    layout = []
    ledger = rep.page.ledger
    for group, items in groups.items():
        main = [s for s in items if s.stage != "discarded"]
        boxes = []
        for i, s in enumerate(main):
            role = "headline" if i in (0, len(main) - 1) else "detail"
            cell = rep.count(s.n, role, f"flow {group} {s.stage}")
            rep.flow[(group, s.stage)] = cell
        for i, s in enumerate(main):
            side = None
            if i + 1 < len(main) and main[i + 1].n <= s.n:
                nxt = main[i + 1]
                lost = rep.count(s.n - nxt.n, "detail", f"flow {group} lost after {s.stage}")
                rep.flow[(group, "lost", s.stage)] = lost
                ledger.sum(rep.flow[(group, s.stage)], [rep.flow[(group, nxt.stage)], lost])
                side = FLOW_SIDE.get((s.stage, nxt.stage)) or (
                    ("Weight zero (trimmed or discarded)" if _weighting(rep.R) else "Not matched or discarded")
                    if nxt.stage == "matched"
                    else f"Not {STAGE_WORDS.get(nxt.stage, nxt.stage).lower()}")
            boxes.append((s, side))
        layout.append((group, boxes))
    parts = [g for g in groups if g not in ("all", OUTCOME_GROUP)]
    if "all" in groups and parts:
        for s in groups["all"]:
            members = [rep.flow.get((g, s.stage)) for g in parts]
            if all(members) and sum(m.value for m in members) == s.n:
                ledger.sum(rep.flow[("all", s.stage)], members)
    rep.flow_layout = layout


def design_words(R: ResultSet) -> str:
    f = facts(R)
    if f.words_when_weighted and _weighting(R):
        return f.words_when_weighted
    return f.words


def _weighting(R: ResultSet) -> bool:
    return sec_get(R, "matching") is not None and R.section("matching").method == "ipw"


def _stage_title(rep: Report, group: str, stage: str) -> str:
    if stage == "matched" and _weighting(rep.R):
        return "Weighted (positive weight)"
    if _area_months(rep.R) and stage == "analysed":
        return "Area-months analysed"
    if stage == "analysed" and (facts(rep.R).analysed_has_both_measures or group == OUTCOME_GROUP):
        return "Analysed (baseline and follow-up)"
    return STAGE_WORDS.get(stage, stage.replace("_", " ").capitalize())


def flow(rep: Report) -> None:
    from evalkit.plots.flow import Box, flow_svg

    page, layout = rep.page, getattr(rep, "flow_layout", [])
    if not layout:
        _p(page, "The run recorded no participant flow.", style="note")
        return
    months = _area_months(rep.R)
    if months:
        _p(page, "An interrupted time series counts area-months (one area in one month), not people: "
                 f"the counts below are rows of the monthly series for {label(rep.C, rep.flow_indicator)}.",
           style="note")
    elif rep.flow_indicator is not None:
        _p(page, f"Counts for the primary outcome, {label(rep.C, rep.flow_indicator)}, where counts differ by "
                 "indicator. Each box is a subset of the box above it.", style="note")

    def n_is(count, sink):
        # a small count reads "fewer than 5" (it is known to be small); any other "n = 254" or "n = [c]"
        if months:
            return svg_value(count, sink) + " area-months"
        return svg_value(count, sink, prose=True) if count.small else "n = " + svg_value(count, sink)

    titles = {"all": "", "treated": "Took part", "comparison": "Comparison",
              OUTCOME_GROUP: f"Measured: {label(rep.C, rep.flow_indicator)}"}

    def draw(sink):
        columns = []
        for group, boxes in layout:
            col = []
            for s, side in boxes:
                kw = {}
                if side is not None:
                    kw = {"side_title": side, "side_count": n_is(rep.flow[(group, "lost", s.stage)], sink)}
                col.append(Box(_stage_title(rep, group, s.stage), n_is(rep.flow[(group, s.stage)], sink), **kw))
            title = titles.get(group, group)
            if group == "all" and any(g == OUTCOME_GROUP for g, _b in layout):
                title = "Referral to completion"
            columns.append((title, col))
        return flow_svg(columns)

    page.add(Svg(draw, "flow", "ek-diagram"))
    attrition(rep)
    pol = page.ledger.policy
    who = "area-months" if months else "people"
    page.add(Para(phrase("[c]: fewer than {k} " + who + ", or a count that would let such a count be worked out "
                         "(suppressed for disclosure control); a box that lost fewer than {k} says so.",
                         k=Fixed(pol.threshold)), "note"))


def attrition(rep: Report) -> None:
    """Attrition as shares of counts (a percentage with its denominator reveals its numerator)."""
    attr = record(rep.R, "attrition")
    if attr is None:
        return
    page, bits = rep.page, []
    groups = attr.groups if isinstance(attr.groups, Mapping) else None
    shares = {}
    if groups:
        for g in ("treated", "comparison"):
            info = groups.get(g)
            if not isinstance(info, Mapping) or not isinstance(info.get("matched"), int):
                continue
            lost = int(info.get("missing_outcome") or 0)
            den = rep.tie(rep.count(info["matched"], "normal", f"attrition {g} matched"))
            num = rep.count(lost, "detail", f"attrition {g} without the outcome")
            shares[g] = Share(num, den)
    elif _given(attr, "overall") is not None:
        ind = _given(attr, "overall_indicator") or rep.flow_indicator
        by = ((_given(attr, "by_indicator") or {}).get(ind) or {}) if ind else {}
        entry = next((v for v in by.values() if isinstance(v, Mapping) and "in_data" in v), None)
        if entry and isinstance(entry.get("analysed"), int):
            den = rep.tie(rep.count(entry["in_data"], "headline", "attrition in the data"))
            an = rep.tie(rep.count(entry["analysed"], "headline", "attrition analysed"))
            num = rep.count(entry["in_data"] - entry["analysed"], "detail", "attrition lost")
            page.ledger.sum(den, [an, num])
            shares["all"] = Share(num, den)
        elif "in_data" in {k[1] for k in rep.flow}:
            first = next((c for k, c in rep.flow.items() if len(k) == 2 and k[1] == "in_data"), None)
            last = [c for k, c in rep.flow.items() if len(k) == 2 and k[1] == "analysed"]
            if first is not None and last:
                num = rep.count(first.value - last[-1].value, "detail", "attrition lost")
                page.ledger.sum(first, [last[-1], num])
                shares["all"] = Share(num, first)
    values = {}
    if not shares and _given(attr, "overall") is not None and _given(attr, "by_indicator") is None \
            and any(k[1] == "randomised" for k in rep.flow if len(k) == 2):
        # a trial's attrition: shares of those randomised, a statistic of the arms (hidden with them)
        of = [c for k, c in rep.flow.items() if len(k) == 2]

        def share(key):  # one number, or one per indicator (evalkit's own trials): then the primary outcome's
            value = _given(attr, key)
            return value.get(_given(attr, "primary_outcome")) if isinstance(value, Mapping) else value

        per = isinstance(_given(attr, "overall"), Mapping) and _given(attr, "primary_outcome")
        whose = f" ({label(rep.C, attr.primary_outcome)})".replace("{", "{{").replace("}", "}}") if per else ""
        if share("overall") is not None:
            values["overall"] = Derived(share("overall"), of, w.fmt_pct)
            bits.append(f"Overall attrition{whose}: {{overall}}.")
        if share("differential") is not None:
            values["diff"] = Derived(share("differential") * 100, of, lambda v: f"{v:.1f}")
            bits.append(f"Differential attrition{whose} (took part minus comparison): {{diff}} percentage points.")
    if "all" in shares:
        bits.append("Overall attrition: {overall}.")
        values["overall"] = shares["all"]
    elif {"treated", "comparison"} <= set(shares):
        t, c = shares["treated"], shares["comparison"]
        total_num = rep.count(t.num.value + c.num.value, "detail", "attrition lost, both groups")
        total_den = rep.count(t.den.value + c.den.value, "normal", "attrition matched, both groups")
        page.ledger.sum(total_num, [t.num, c.num])
        page.ledger.sum(total_den, [t.den, c.den])
        values["overall"] = Share(total_num, total_den)
        values["diff"] = Derived((t.fraction - c.fraction) * 100, [t, c], lambda v: f"{v:.1f}%")
        bits.append("Overall attrition: {overall}. Differential attrition (took part minus comparison): {diff} points.")
    if _given(attr, "definition"):
        bits.append(f"Attrition here is the {attr.definition}.".replace("{", "{{").replace("}", "}}"))
    if bits:
        page.add(Para(Phrase(" ".join(bits), values)))


# --------------------------------------------------------------------------------------------
# methods


def _flatten(value, prefix=""):
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) if value else "(none)"
        yield prefix, "(not set)" if value is None else value


def _words(identifier: str) -> str:
    """An option's name as words: "matching.caliper_sd" -> "matching: caliper sd"."""
    return str(identifier).replace(".", ": ").replace("_", " ")


def conventions_in_words(R: ResultSet) -> list[str]:
    """One line per estimand and convention, from what each estimate recorded (issue 15: the
    methods section names the SE convention and reference distribution in words)."""
    from evalkit.estimate.conventions import in_words

    seen: dict[str, list[str]] = {}
    for e in R.estimates:
        words = in_words(e.details or {})
        if words:
            seen.setdefault(words, [])
            if e.estimand not in seen[words]:
                seen[words].append(e.estimand)
        boot = (e.details or {}).get("wild_bootstrap")
        if isinstance(boot, Mapping) and boot.get("method"):
            line = (f"{estimand_words(e.estimand)} ({e.indicator}): with {boot.get('clusters')} clusters, also a "
                    f"{boot['method']}: p = {w.fmt(boot.get('p_value'), 3)}, {w.pct(boot.get('ci_level', 0.95))} CI "
                    f"{w.fmt(boot.get('ci_low'))} to {w.fmt(boot.get('ci_high'))}")
            seen.setdefault(line, [])
    return [(f"{', '.join(estimand_words(x) for x in estimands)}: {words}" if estimands else words)
            for words, estimands in seen.items()]


def methods(rep: Report) -> None:
    R, page = rep.R, rep.page
    _p(page, f"Design: {design_words(R)}.", facts(R).caveat.replace(
        "chosen by matching", "weighted" if _weighting(R) else "chosen by matching"))
    by_method: dict[str, set] = {}
    for e in R.estimates:
        by_method.setdefault(e.method, set()).add(e.estimand)
    if by_method:
        _p(page, "Estimation.")
        page.add(Bullets([Phrase(f"{', '.join(sorted(estimand_words(x) for x in est))}: {method}"
                                 .replace("{", "{{").replace("}", "}}"))
                          for method, est in by_method.items()]))
    conventions = conventions_in_words(R)
    if conventions:
        _p(page, "Standard errors and reference distributions.")
        page.add(Bullets([Phrase(line.replace("{", "{{").replace("}", "}}")) for line in conventions]))
        _p(page, "The conventions and their Stata and R equivalents are listed in evalkit's docs/conventions.md.")
    levels = sorted({e.ci_level for e in R.estimates})
    if levels:
        _p(page, f"Confidence intervals are {', '.join(w.pct(x) for x in levels)}; no difference is 0, or 1 for ratios.",
           w.rule_words(rep.rule))
    rc = record(R, "reliable_change")
    if rc:
        first = next(iter(rc))
        if isinstance(rc[first], Mapping) and _given(rc.entry(first), "method"):
            _p(page, "Reliable change: " + str(rc.entry(first).method) + ".")
    rct = record(R, "rct")
    if rct:
        bits = ["Randomised controlled trial"]
        if rct.intention_to_treat:
            bits.append("analysed by intention to treat (everyone in the arm they were randomised to)")
        if _given(rct, "assignment_column"):
            bits.append(f"assignment recorded in the column '{rct.assignment_column}'")
        bits.append(f"randomised by cluster ('{rct.cluster}')" if _given(rct, "cluster")
                    else "randomised individually")
        _p(page, "; ".join(bits) + ". The numbers randomised to each arm are in the participant flow.")
    rows = [[Col(_words(k)), Col(str(v))] for k, v in _flatten(R.manifest.options or {})]
    rows.append([Col("seed"), Col(str(R.manifest.seed))])
    _p(page, "Every option that shaped the analysis (from the plan, after defaults):")
    table = page.table(["option", "value"], rows, table_id="ek-options")
    if len(rows) > 15:
        page.blocks.pop()
        page.add(Details(f"Show all {len(rows)} options", [table]))


# --------------------------------------------------------------------------------------------
# results


ESTIMAND_SHORT = {"att": "ATT", "ate": "ATE", "itt": "ITT", "did_att": "DiD ATT", "atc": "ATC"}


def estimand_words(estimand: str) -> str:
    """An estimand's name as a table shows it: "risk ratio", "DiD ATT", not "did_att"."""
    return ESTIMAND_SHORT.get(estimand, str(estimand).replace("_", " "))


def _significance_note(rep: Report) -> str:
    rule = rep.rule
    holm = " (Holm-adjusted where given)" if rule.holm else ""
    threshold = f"{rule.alpha:g}" if rule.alpha is not None else "1 minus the CI level"
    return (f"p{holm} below {threshold}, or, without a p-value, a confidence interval that excludes no difference "
            "(the rule the evidence rating uses).")


def results_table(rep: Report) -> None:
    R = rep.R
    estimate_counts(rep)
    main = [(i, e) for i, e in enumerate(R.estimates) if e.estimand in MAIN_ESTIMANDS]
    more = [(i, e) for i, e in enumerate(R.estimates) if e.estimand not in MAIN_ESTIMANDS]
    if not main and not more:
        _p(rep.page, "No estimates.", style="note")
        return
    _results_rows(rep, main or more, "ek-results")
    _p(rep.page, "* primary outcome. Significant: " + _significance_note(rep) + " Estimates are in the units of each "
       "indicator; ratios have no difference at 1. An estimate for fewer than "
       f"{rep.page.ledger.policy.threshold} people is not shown.", style="note")
    if main and more:
        _p(rep.page, f"Further estimates ({len(more)}: event-time and cohort-by-period effects):")
        _results_rows(rep, more, "ek-results-more")


def _results_rows(rep: Report, items, table_id: str) -> None:
    C, rule = rep.C, rep.rule
    rows, attrs = [], []
    for i, e in items:
        v = w.verdict(e, rule)
        # a feasibility criterion is a proportion judged against its thresholds, not tested against zero
        judged = not facts(rep.R).criteria_not_tests or e.estimand in MAIN_ESTIMANDS
        marker, reading = (v.marker, v.outcome) if judged else ("-", "see thresholds")
        of = _stat_of(rep, i)
        es = e.effect_size

        def stat(value, f=_fmt(), of=of):
            return Stat(value, of, lambda x: "-" if x is None else f(x))

        n = {k: rep.estimate_n.get((i, k)) for k in ("n", "t", "c")}
        rows.append([
            Col(("* " if e.primary else "") + label(C, e.indicator), "indicator"), Col(e.subgroup, "subgroup"),
            Col(estimand_words(e.estimand), "estimand"), Col(e.comparison or " -> ".join(e.timepoints), "comparison"),
            Col(n["n"] if n["n"] is not None else "-", "n", True),
            Col(n["t"] if n["t"] is not None else "-", "n_treated", True),
            Col(n["c"] if n["c"] is not None else "-", "n_comparison", True),
            Col(stat(e.estimate), "estimate"), Col(stat(e.ci_low), "ci_low"), Col(stat(e.ci_high), "ci_high"),
            Col(w.pct(e.ci_level), "ci_level", True), Col(stat(e.p_value, w.fmt_p), "p_value"),
            Col(stat(e.p_value_holm, w.fmt_p), "p_value_holm"),
            Col(stat(f"{es.kind.replace('_', ' ')} {w.fmt(es.value)}" if es else None, str), "effect_size"),
            Col(stat(marker, str), "significant"), Col(stat(reading, str), "outcome")])
        attrs.append({"row": i, "indicator": e.indicator, "estimand": e.estimand, "subgroup": e.subgroup})
    keep = [RESULT_HEADERS.index(h) for h in PRINT_HEADERS]
    secondary = [RESULT_HEADERS.index(h) for h in SECONDARY_HEADERS]
    rep.page.table(RESULT_HEADERS, rows, table_id=table_id, row_attrs=attrs, print_columns=keep, secondary=secondary)


def _wrap(text: str, width: int = 38) -> str:
    import textwrap

    return "<br>".join(html.escape(line, quote=False) for line in textwrap.wrap(text, width)) or html.escape(text)


class ForestSpec:
    """Forest plots of estimates (one row each; a row for a small group is left out, not drawn)."""

    def __init__(self, rows: Sequence[tuple[Any, Stat]], x_title: str):
        self.rows, self.x_title = rows, x_title

    def _shown(self):
        return [r for r, s in self.rows if not s.hidden]

    def plotly(self, sink):
        from evalkit.plots.forest import plotly_forest

        rows = [r[0] for r in self._shown()]
        for _r, s in self.rows:
            sink.add(s)
        return plotly_forest(rows, x_title=self.x_title) if rows else None

    def matplotlib(self):
        from evalkit.plots.forest import mpl_forest

        rows = [r[1] for r in self._shown()]
        return mpl_forest(rows, x_title=self.x_title) if rows else None


def forest_specs(pairs: Sequence[tuple], units: Sequence[str] | None = None) -> list[ForestSpec]:
    """One forest plot per scale from ((interactive, static), stat) rows of
    :class:`~evalkit.plots.forest.ForestRow` (the first with its texts escaped for plotly): ratios on
    a log axis, and differences one plot per unit (points, percentage points, ...), so no axis mixes
    units. ``units``: each row's unit words (``None``: differences of unknown units share one plot)."""
    by_scale: dict[tuple, list] = {}
    for k, ((shown, plain), stat) in enumerate(pairs):
        unit = "" if shown.null == 1 or units is None else units[k]
        by_scale.setdefault((shown.null, unit), []).append(((shown, plain), stat))
    specs = []
    for (null, unit), items in sorted(by_scale.items(), key=lambda kv: (kv[0][0] == 1, kv[0][1])):
        if null == 1:
            x_title = "ratio (log scale; 1 = no difference)"
        else:
            x_title = f"difference{' in ' + unit if unit else ''} (0 = no difference)"
        specs.append(ForestSpec(items, x_title))
    return specs


def forest_unit(e: Estimate) -> str:
    """The unit of an estimate's forest axis: "percentage points" for a difference of proportions."""
    if w.percentage_points(e):
        return "percentage points"
    return (e.units or "").split(" (")[0] or "the indicator's units"


def forest(rep: Report) -> None:
    from evalkit.plots.forest import ForestRow

    pairs, units = [], []
    for i, e in enumerate(rep.R.estimates):
        if e.estimand not in MAIN_ESTIMANDS:
            continue
        v = w.verdict(e, rep.rule)
        text = (f"{label(rep.C, e.indicator)}{f' ({e.subgroup})' if e.subgroup != 'all' else ''} "
                f"[{estimand_words(e.estimand)}]")
        hover = html.escape(f"{text}: {w.number_with_units(e)} ({w.any_interval(e)}); {v.outcome}", quote=False)
        # a difference of proportions is drawn in percentage points, as the text says it
        k = 100.0 if w.percentage_points(e) else 1.0
        lo = e.ci_low * k if e.ci_low is not None else None
        hi = e.ci_high * k if e.ci_high is not None else None
        pairs.append(((ForestRow(_wrap(text), e.estimate * k, lo, hi, v.null, v.outcome, hover=hover),
                       ForestRow(text, e.estimate * k, lo, hi, v.null, v.outcome)),
                      Stat(e.estimate, _stat_of(rep, i))))
        units.append(forest_unit(e))
    for k, spec in enumerate(forest_specs(pairs, units)):
        rep.page.figure(spec, "Forest plot of the main estimates with their confidence intervals (dashed line: no "
                              "difference).", f"fig-forest{'-' + str(k + 1) if k else ''}")


# --------------------------------------------------------------------------------------------
# design-specific sections


def _group_counts(rep: Report) -> list[Count]:
    """The counts of the groups a design compares (a statistic of them is hidden if one is small)."""
    out = [c for k, c in rep.flow.items() if len(k) == 2 and k[1] in ("matched", "analysed", "randomised")]
    return out


_given = given  # a field of a typed section record, None where the design did not write it


def balance(rep: Report) -> None:
    bal = record(rep.R, "balance")
    if not bal or not bal.rows:
        return
    of = _group_counts(rep)
    rows, covs, before, after = [], [], [], []

    def s(x):
        return Stat(x, of, lambda v: w.fmt(v))

    for r in bal.rows:
        name = str(r.get("covariate") or r.get("name") or r.get("term") or "?")
        covs.append(name)
        before.append(s(r.get("smd_before")))
        after.append(s(r.get("smd_after")))
        rows.append([Col(name, "covariate"), Col(s(r.get("smd_before")), "smd_before"),
                     Col(s(r.get("smd_after")), "smd_after"), Col(s(r.get("var_ratio_before")), "var_ratio_before"),
                     Col(s(r.get("var_ratio_after")), "var_ratio_after"),
                     Col(s(r.get("ecdf_mean_after")), "ecdf_mean_after"),
                     Col(s(r.get("ecdf_max_after")), "ecdf_max_after"),
                     Col(r.get("wwc_band_after") or "-", "wwc_band_after")])
    rep.page.table(["covariate", "SMD before", "SMD after", "variance ratio before", "variance ratio after",
                    "eCDF mean after", "eCDF max after", "WWC band after"], rows, table_id="ek-balance")
    flags = []
    done = "after weighting" if _weighting(rep.R) else "after matching"
    if _given(bal, "flag_any_smd_ge_0_1") is not None:
        flags.append(f"Some covariate still has |SMD| of 0.1 or more {done}." if bal.flag_any_smd_ge_0_1
                     else f"Every covariate has |SMD| under 0.1 {done}.")
    if _given(bal, "flag_var_ratio_outside"):
        flags.append("Some variance ratio lies outside 0.5 to 2.")
    if _given(bal, "wwc_pass") is not None:
        flags.append("Baseline equivalence meets the WWC standard." if bal.wwc_pass
                     else "Baseline equivalence does not meet the WWC standard.")
    if _given(bal, "formula"):
        flags.append(f"Standardised mean difference: {bal.formula}.")
    _p(rep.page, *flags)
    rep.page.figure(LoveSpec(covs, before, after), "Love plot: absolute standardised mean differences before and "
                    f"{done} (dashed line: 0.1).", "fig-love")


class LoveSpec:
    def __init__(self, covs, before, after):
        self.covs, self.before, self.after = covs, before, after

    def plotly(self, sink):
        from evalkit.plots.balance import plotly_love

        for v in self.before + self.after:
            sink.add(v)
        return plotly_love([html.escape(c, quote=False) for c in self.covs], [v.plot() for v in self.before],
                           [v.plot() for v in self.after])

    def matplotlib(self):
        from evalkit.plots.balance import mpl_love

        return mpl_love(self.covs, [v.plot() for v in self.before], [v.plot() for v in self.after])


def matching(rep: Report) -> None:
    mt = record(rep.R, "matching")
    if mt is None:
        return
    sizes = _given(mt, "sizes") or {}
    rows = []
    if isinstance(sizes, Mapping):
        for stage, v in sizes.items():
            if not isinstance(v, Mapping):
                continue
            cells = [rep.tie(rep.count(v[g], "normal", f"matching sizes {stage} {g}")) if isinstance(v.get(g), int)
                     else None for g in ("treated", "comparison")]
            rows.append([Col(stage.replace("_", " ")), *(Col(c if c is not None else "-", g, True)
                                                         for c, g in zip(cells, ("treated", "comparison")))])
    ess = _given(mt, "ess_after")
    if isinstance(ess, Mapping):
        # Kish's effective sample size of the weights, (sum w)^2 / sum w^2: a statistic of the matched or
        # weighted group, hidden with its count (for 1:1 matching it equals that count)
        cells = []
        for g in ("treated", "comparison"):
            base = rep.flow.get((g, "matched"))
            v = ess.get(g)
            cells.append(Derived(v, [base] if base is not None else [], _fmt(1)) if isinstance(v, (int, float))
                         else "-")
        rows.append([Col("effective sample size (Kish)"), *(Col(c, g, True) for c, g in
                                                             zip(cells, ("treated_ess", "comparison_ess")))])
    if rows:
        rep.page.table(["stage", "took part", "comparison"], rows, table_id="ek-matching")
        if isinstance(ess, Mapping):
            _p(rep.page, "Effective sample size: (sum of weights)^2 / sum of squared weights (Kish), the number of "
                         "equally weighted people the " + ("weighted" if _weighting(rep.R) else "matched")
               + " group is worth; far below the group's size, a few large weights carry the estimate.",
               style="note")
    # in the order the file holds them (the sentence lists them so), read through the record
    written = [k for k in rep.R.sections["matching"] if k in ("method", "distance", "estimand", "ratio", "replace",
                                                              "order", "discard", "matched_sets")]
    opts = {k: getattr(mt, k) for k in written if not isinstance(getattr(mt, k), (Mapping, list))}
    cal = _given(mt, "caliper")
    if isinstance(cal, Mapping) and cal.get("sd_units") is not None:
        opts["caliper"] = (f"{cal['sd_units']} SD of the {cal.get('matched_on', 'score')} (width "
                           f"{w.fmt(cal.get('width_logit', cal.get('width')))} on the logit scale, "
                           f"{w.fmt(cal.get('width_probability'))} on the probability scale)")
    if opts:
        _p(rep.page, ("Weighting (inverse probability of taking part): " if _weighting(rep.R) else "Matching: ")
           + "; ".join(f"{k.replace('_', ' ')} = {v}" for k, v in opts.items()) + ".")
    ps = record(rep.R, "propensity")
    if ps and _given(ps, "formula"):
        link = f" ({ps.model})" if _given(ps, "model") else ""
        _p(rep.page, f"Propensity model{link}: {ps.formula}.")


class ReliableChangeSpec:
    def __init__(self, labels, counts):
        self.labels, self.counts = labels, counts  # counts[i][j]: Count

    def plotly(self, sink):
        from evalkit.plots.change import plotly_reliable_change
        from evalkit.publish.markup import plot_meta

        for row in self.counts:
            for c in row:
                sink.add(c)
        metas = [plot_meta([row[j] for row in self.counts], None) for j in range(3)]
        return plotly_reliable_change([html.escape(x, quote=False) for x in self.labels],
                                      [[c.plot() for c in row] for row in self.counts],
                                      [[c.table_text() for c in row] for row in self.counts], metas=metas)

    def matplotlib(self):
        from evalkit.plots.change import mpl_reliable_change

        return mpl_reliable_change(self.labels, [[c.plot() for c in row] for row in self.counts],
                                   [[c.table_text() for c in row] for row in self.counts])


def reliable_change(rep: Report) -> None:
    rc = record(rep.R, "reliable_change")
    if not rc:
        return
    keys = ("improved", "no_reliable_change", "deteriorated")
    rows, labels, counts = [], [], []
    for ind, entry in rc.typed_entries():
        if _given(entry, "improved") is None:
            continue
        n = rep.tie(rep.count(_given(entry, "n"), "headline", f"reliable change {ind} n"))
        parts = [rep.count(_given(entry, k), "detail", f"reliable change {ind} {k}") for k in keys]
        rep.page.ledger.sum(n, parts)
        name = label(rep.C, ind)
        labels.append(name)
        counts.append(parts)
        rows.append([Col(name), Col(Fixed(_given(entry, "threshold_points"), _fmt(2)), "threshold"),
                     Col(Fixed(_given(entry, "reliability"), _fmt(2)), "reliability"),
                     Col(_given(entry, "reliability_source") or "-"), Col(n, "n"),
                     *(Col(c, k) for c, k in zip(parts, keys))])
    if not rows:
        return
    rep.page.table(["indicator", "threshold (points)", "reliability", "reliability from", "n", "improved",
                    "no reliable change", "deteriorated"], rows, table_id="ek-reliable-change")
    rep.page.figure(ReliableChangeSpec(labels, counts))


def event_study(rep: Report) -> None:
    es = record(rep.R, "event_study")
    if not es:
        return
    from evalkit.plots.forest import ForestRow

    honest_did = record(rep.R, "honest_did")
    for ind, entry in es.typed_entries():
        rows = [ForestRow(label=f"t = {r.get('event_time')}", estimate=r.get("estimate") or 0.0,
                          ci_low=r.get("ci_low"), ci_high=r.get("ci_high"), null=0.0, outcome="unknown")
                for r in _given(entry, "rows") or []]
        test = _given(entry, "pre_trend_test") or {}
        rep.page.heading(label(rep.C, ind), 4)
        if test.get("p_value") is not None:
            alpha = w.pre_trend_alpha(rep.C)
            _p(rep.page, f"Pre-trend test ({test.get('hypothesis', 'leads are zero')}): p = {w.fmt_p(test['p_value'])}."
               + (f" The leads differ from zero (p < {alpha:g}): the parallel-trends assumption is in doubt."
                  if test["p_value"] < alpha else f" No evidence against parallel trends (p >= {alpha:g})."))
        if rows:
            rep.page.figure(ForestSpec([((r, r), Stat(r.estimate, [])) for r in rows],
                                       "effect relative to t = -1"))
        honest = honest_did_words(honest_did.entries.get(ind) if honest_did else None)
        if honest:
            _p(rep.page, honest)


def group_time(rep: Report) -> None:
    """Callaway-Sant'Anna group-time effects: by cohort, and every cell with the units behind it."""
    gt = record(rep.R, "group_time")
    if not gt:
        return
    for ind, entry in gt.typed_entries():
        rep.page.heading(label(rep.C, ind), 4)
        if _given(entry, "estimator") or _given(entry, "comparison"):
            _p(rep.page, f"Estimator: {_given(entry, 'estimator') or 'group-time ATT'}; comparison: "
                         f"{str(_given(entry, 'comparison') or '-').replace('_', ' ')} units; base period: "
                         f"{_given(entry, 'base_period') or '-'}.")
        aggs = entry.aggregations if isinstance(entry.aggregations, Mapping) else {}
        rows = []
        for name, a in aggs.items():
            if isinstance(a, Mapping):
                rows.append([Col(name, "aggregation"), Col(Fixed(a.get("estimate"), _fmt()), "estimate", True),
                             Col(Fixed(a.get("ci_low"), _fmt()), "ci_low", True),
                             Col(Fixed(a.get("ci_high"), _fmt()), "ci_high", True),
                             Col(Fixed(a.get("p_value"), w.fmt_p), "p_value", True)])
        if rows:
            rep.page.table(["aggregation", "estimate", "CI low", "CI high", "p"], rows, table_id=f"ek-gt-agg-{ind}")
        cache: dict = {}

        def units(v, what, key):
            if not isinstance(v, int):
                return "-"
            k = (what, key, v)
            if k not in cache:
                cache[k] = rep.tie(rep.count(v, "detail", f"group-time {ind} {what} {key}"))
            return cache[k]

        by_cohort = [c for c in _given(entry, "by_cohort") or [] if isinstance(c, Mapping)]
        cells = [c for c in _given(entry, "cells") or [] if isinstance(c, Mapping)]
        treated_of = {}
        for c in cells:
            treated_of.setdefault(c.get("cohort"), c.get("n_treated"))
        if by_cohort:
            rows = []
            for c in by_cohort:
                n = units(treated_of.get(c.get("cohort")), "cohort units", c.get("cohort"))
                rows.append([Col(c.get("cohort_label") or c.get("cohort"), "cohort"), Col(n, "n_treated", True),
                             Col(Fixed(c.get("cells"), str), "cells", True),
                             Col(Stat(c.get("estimate"), [n] if isinstance(n, Count) else [], _fmt()), "estimate"),
                             Col(Stat(c.get("ci_low"), [n] if isinstance(n, Count) else [], _fmt()), "ci_low"),
                             Col(Stat(c.get("ci_high"), [n] if isinstance(n, Count) else [], _fmt()), "ci_high"),
                             Col(Stat(c.get("p_value"), [n] if isinstance(n, Count) else [], w.fmt_p), "p_value")])
            rep.page.table(["cohort (first treated)", "units", "post-start cells", "estimate", "CI low", "CI high",
                            "p"], rows, table_id=f"ek-gt-cohort-{ind}")
        if cells:
            rows = []
            for c in cells:
                nt = units(c.get("n_treated"), "cohort units", c.get("cohort"))
                nc = units(c.get("n_comparison"), "comparison units", c.get("period"))
                of = [x for x in (nt, nc) if isinstance(x, Count)]
                rows.append([Col(c.get("cohort_label") or c.get("cohort"), "cohort"),
                             Col(c.get("period_label") or c.get("period"), "period"),
                             Col(Fixed(c.get("event_time"), str), "event_time", True),
                             Col(nt, "n_treated", True), Col(nc, "n_comparison", True),
                             Col(Stat(c.get("estimate"), of, _fmt()), "estimate"),
                             Col(Stat(c.get("ci_low"), of, _fmt()), "ci_low"),
                             Col(Stat(c.get("ci_high"), of, _fmt()), "ci_high")])
            table = rep.page.table(["cohort", "period", "event time", "units in the cohort", "comparison units",
                                    "estimate", "CI low", "CI high"], rows, table_id=f"ek-gt-cells-{ind}")
            rep.page.blocks.pop()
            rep.page.add(Details(f"Show all {len(rows)} group-time cells with their unit counts", [table]))
        few = entry.cells_with_few_units
        if isinstance(few, list) and few:
            _p(rep.page, f"{len(few)} cell(s) rest on fewer than {_given(entry, 'few_units_threshold')} units on one "
                         "side and are imprecise.", style="note")


def further_results(rep: Report, keys: Sequence[str]) -> None:
    """Sections this version has no dedicated layout for: shown as their values, never dropped."""
    for key in keys:
        rep.page.heading(_words(key).capitalize(), 3)
        rows = [[Col(_words(k) or key), rep.page.untrusted_col(str(v), "value")]
                for k, v in _flatten((rep.R.sections or {}).get(key))]
        if rows:
            rep.page.table(["result", "value"], rows, table_id=f"ek-further-{key}")
        else:
            _p(rep.page, "(empty)", style="note")


def honest_did_words(entry) -> str | None:
    """Rambachan-Roth smoothness bounds in one paragraph (run when the pre-trend test failed); ``entry``
    is the indicator's typed honest_did entry (evalkit.result_sections.HonestDidEntry) or its JSON object."""
    from evalkit.result_sections import HonestDidEntry

    if isinstance(entry, Mapping):
        entry = HonestDidEntry.from_mapping(entry)
    if not isinstance(entry, HonestDidEntry) or not isinstance(entry.first_post_period, Mapping):
        return None
    sens = entry.first_post_period
    rows = [r for r in sens.get("rows") or [] if isinstance(r, Mapping)]
    if not rows:
        return None
    first = rows[0]
    text = (f"Sensitivity to a violation of parallel trends (Rambachan & Roth 2023, smoothness bounds): if the "
            f"difference in trends continued linearly from before the start (M = 0), the effect in the first "
            f"period after it would lie between {w.fmt(first.get('lb'))} and {w.fmt(first.get('ub'))} (95% "
            "fixed-length interval). ")
    top = sens.get("breakdown_M")
    if top is None:
        text += ("That interval includes zero: once the pre-period trend is carried forward, the data do not show "
                 "an effect.")
    elif top >= rows[-1].get("M", top):
        text += (f"The interval excludes zero for every bend in the trend up to M = {w.fmt(top, 3)} per period, "
                 "the largest the pre-period data support.")
    else:
        text += (f"The interval excludes zero while the trend bends by at most M = {w.fmt(top, 3)} per period "
                 "between consecutive periods; beyond that, the conclusion depends on how far trends diverge.")
    rm = (_given(entry, "relative_magnitudes") or {}).get("first_post_period")
    rm_rows = [r for r in (rm or {}).get("rows") or [] if isinstance(r, Mapping) and r.get("lb") is not None]
    if rm_rows:
        one = next((r for r in rm_rows if r.get("Mbar") == 1.0), rm_rows[0])
        text += (f" With relative-magnitude bounds instead (the violation after the start at most Mbar times the "
                 f"largest change between consecutive periods before it), the first-period effect would lie "
                 f"between {w.fmt(one.get('lb'))} and {w.fmt(one.get('ub'))} at Mbar = {w.fmt(one.get('Mbar'), 1)} "
                 "(95% conditional least-favourable interval). ")
        top_rm = rm.get("breakdown_Mbar")
        if top_rm is None:
            text += f"Already at Mbar = {w.fmt(rm_rows[0].get('Mbar'), 1)} the interval includes zero."
        else:
            text += (f"The interval excludes zero up to Mbar = {w.fmt(top_rm, 1)}: a violation after the start up to "
                     f"{w.fmt(top_rm, 1)} times the largest one before it would not overturn the effect.")
    return text


def robustness(rep: Report) -> None:
    page, wrote = rep.page, False
    rob = record(rep.R, "robustness")  # the typed records (evalkit.result_sections.Robustness, Sensitivity)
    refs = _given(rob, "refutations") if rob is not None else None
    if rob is not None and _given(rob, "status") == "not run":
        _p(page, f"Refutation checks were not run: {_given(rob, 'reason') or 'no reason recorded'}.")
        wrote = True
    if isinstance(refs, list) and refs:
        rows = []
        for r in refs:
            if not isinstance(r, Mapping):
                continue
            passed = r.get("passed", r.get("pass"))
            rows.append([Col(str(r.get("name", "?")).replace("_", " ")),
                         Col(Fixed(r.get("original_effect", r.get("original")), _fmt()), "original"),
                         Col(Fixed(r.get("new_effect", r.get("new")), _fmt()), "new"),
                         Col({True: "pass", False: "FAIL", None: "not judged"}.get(passed, str(passed)), "result"),
                         Col(r.get("rule") or "-")])
        page.table(["refutation", "original effect", "new effect", "result", "rule"], rows, table_id="ek-robustness")
        wrote = True
        if rob is not None:
            agree = _given(rob, "agreement")
            bits = []
            if _given(rob, "all_passed") is not None:
                bits.append("Every refutation passed." if rob.all_passed else "At least one refutation failed: "
                            "treat the estimate with extra caution.")
            if isinstance(agree, Mapping) and agree.get("dowhy_estimate") is not None:
                bits.append(f"DoWhy's own estimate was {w.fmt(agree['dowhy_estimate'])} against evalkit's "
                            f"{w.fmt(agree.get('evalkit_estimate'))}"
                            + (f" ({w.fmt(agree['difference_in_standard_errors'], 2)} standard errors apart)"
                               if agree.get("difference_in_standard_errors") is not None else "") + ".")
            _p(page, *bits)
            sample = _given(rob, "refutation_sample")
            if isinstance(sample, Mapping) and isinstance(sample.get("rows"), int) \
                    and isinstance(sample.get("of_rows"), int):
                # what the refutations ran on (issue 20): the counts as typed cells, the seed as a seed
                page.para("The refutations ran on a seeded random sample of {m} of the {n} rows analysed (seed "
                          + str(sample.get("seed")).replace("{", "{{").replace("}", "}}")
                          + "), judged with the standard error scaled to that sample; DoWhy's own estimate above "
                          "used every row.",
                          m=rep.count(sample["rows"], "detail", "refutation sample rows"),
                          n=rep.count(sample["of_rows"], "detail", "rows analysed by the refutations"))
    sens = record(rep.R, "sensitivity")
    if sens is not None:
        bits = []
        ev = _given(sens, "e_value")
        if isinstance(ev, Mapping) and ev.get("point") is not None:
            bits.append(f"E-value {w.fmt(ev['point'], 2)} (confidence limit: {w.fmt(ev.get('ci_bound'), 2)}), from "
                        f"{ev.get('from') or 'the primary estimate'}: "
                        f"{ev.get('reading') or 'how strongly an unmeasured confounder would have to be associated with both taking part and the outcome to explain the effect away'}.")
        elif isinstance(ev, Mapping) and ev.get("reason"):
            bits.append(f"E-value not computed: {ev['reason']}.")
        elif isinstance(ev, (int, float)):
            bits.append(f"E-value: {w.fmt(ev, 2)}.")
        rb = _given(sens, "rosenbaum")
        gamma = rb.get("gamma_critical") if isinstance(rb, Mapping) else None
        p1 = rb.get("p_value_gamma_1") if isinstance(rb, Mapping) else None
        if gamma is not None and p1 is not None and not p1 < rb.get("alpha", 0.05):
            bits.append(f"Rosenbaum bounds: the effect is not significant even before any hidden bias (Gamma = 1, "
                        f"p = {w.fmt(p1, 3)}), so there is nothing for hidden bias to explain away.")
        elif gamma is not None:
            bits.append(f"Rosenbaum bounds: the effect stays significant for hidden bias up to Gamma = "
                        f"{w.fmt(gamma, 2)} (a hidden factor could multiply the odds of taking part by that much"
                        " within a matched pair before the conclusion changes).")
        elif isinstance(rb, Mapping) and rb.get("reason"):
            bits.append(f"Rosenbaum bounds: {rb.get('status', 'not computed')} ({rb['reason']}).")
        if bits:
            page.untrusted_para(" ".join(bits))
            wrote = True
    if not wrote:
        _p(page, "No robustness or sensitivity checks were recorded for this design.", style="note")


def feasibility(rep: Report) -> None:
    fs = record(rep.R, "feasibility")
    if not fs:
        return
    rows = []
    for r in _given(fs, "criteria") or []:
        if not isinstance(r, Mapping):
            continue
        key = r.get("key") or r.get("label")
        count = r.get("count") if isinstance(r.get("count"), int) else None
        denom = r.get("denominator")
        denom = int(denom) if isinstance(denom, (int, float)) and float(denom).is_integer() else None
        proportion = (r.get("units") or "").startswith("proportion")
        n_cell = rep.tie(rep.count(count, "normal", f"feasibility {key} count")) if count is not None else None
        d_cell = rep.tie(rep.count(denom, "normal", f"feasibility {key} denominator")) \
            if denom is not None and (count is None or denom >= count) else None
        if n_cell is not None and d_cell is not None:
            rest = rep.count(denom - count, "detail", f"feasibility {key} the rest")
            rep.page.ledger.sum(d_cell, [n_cell, rest])
            # the value and its interval describe the count and the rest: hidden when either is small
            of = [n_cell, rest, d_cell]
        else:
            of = [c for c in (n_cell, d_cell) if c is not None]
        if proportion and n_cell is not None and d_cell is not None:
            value = Share(n_cell, d_cell)
        else:
            value = Stat(r.get("value"), of, (lambda v: w.fmt_pct(v)) if proportion else _fmt(2))
        ci = "-"
        if r.get("ci_low") is not None:
            text = (f"{w.fmt_pct(r['ci_low'])} to {w.fmt_pct(r.get('ci_high'))}" if proportion
                    else f"{w.fmt(r['ci_low'], 2)} to {w.fmt(r.get('ci_high'), 2)}")
            ci = Stat(text, of)
        thresholds = f"green {r.get('green')}, amber {r.get('amber')} ({r.get('better') or 'higher'} is better)"
        rag = Stat(str(r.get("rag") or "-").upper(), of)
        rows.append([Col(r.get("label") or r.get("key"), "criterion"), Col(value, "value"), Col(ci, "ci"),
                     Col(n_cell if n_cell is not None else "-", "count", True),
                     Col(d_cell if d_cell is not None else "-", "denominator", True), Col(thresholds),
                     Col(rag, "rag")])
    if rows:
        rep.page.table(["criterion", "value", "CI", "count", "of", "thresholds", "RAG"], rows,
                       table_id="ek-feasibility")
    bits = []
    if isinstance(fs.verdict, str):
        bits.append(fs.verdict)
    if isinstance(fs.thresholds_rule, str):
        bits.append(f"Thresholds: {fs.thresholds_rule}.")
    if bits:
        rep.page.untrusted_para(" ".join(bits))
    if isinstance(fs.planning, Mapping):
        feasibility_planning(rep, fs.planning)


DESIGN_NAMES = {"two_arm_trial": "two-arm trial", "matched_comparison": "matched comparison",
                "cluster_trial": "cluster-randomised trial"}


def feasibility_planning(rep: Report, pl: Mapping) -> None:
    """The efficacy study this feasibility study plans: its sample size and MDES, and the observed ICC."""
    page = rep.page
    page.heading("Planning the efficacy study", 3, anchor="sec-planning")
    outcome = label(rep.C, pl.get("outcome"))
    bits = [f"Primary outcome {outcome}: to detect a difference of {w.fmt(pl.get('difference'), 2)} points "
            f"(standardised effect {w.fmt(pl.get('effect_size'), 2)}, using the SD {w.fmt(pl.get('sd'), 2)} at "
            f"{pl.get('sd_from') or 'baseline'}) with {w.pct(pl.get('power') or 0.8)} power at a two-sided "
            f"alpha of {pl.get('alpha')}."
            if pl.get("difference") is not None else
            f"Primary outcome {outcome}: standardised effect {w.fmt(pl.get('effect_size'), 2)} with "
            f"{w.pct(pl.get('power') or 0.8)} power at a two-sided alpha of {pl.get('alpha')}.",
            f"Planning uses the baseline-follow-up correlation {w.fmt(pl.get('correlation'), 2)} (ANCOVA), "
            f"retention {w.fmt_pct(pl.get('retention'))} and a design effect of {w.fmt(pl.get('design_effect'), 2)} "
            f"(ICC {w.fmt(pl.get('icc'), 3)} from the {pl.get('icc_source') or 'plan'}, "
            f"{w.fmt(pl.get('cluster_size'), 1)} per cluster)."]
    _p(page, *bits)
    rows = []
    available = pl.get("available_per_arm")
    avail_cell = (rep.tie(rep.count(available, "normal", "planning available per arm"))
                  if isinstance(available, int) and pl.get("available_from") != "plan" else None)
    for label_, key in (("as planned", "designs"), ("with the SD's 80% upper limit", "designs_with_sd_upper_80")):
        for d in pl.get(key) or []:
            if not isinstance(d, Mapping):
                continue
            mdes = d.get("mdes_for_available")
            rows.append([Col(DESIGN_NAMES.get(d.get("design"), str(d.get("design", "-")).replace("_", " ")), "design"),
                         Col(label_, "basis"),
                         Col(Fixed(d.get("n_treated_recruited"), str), "n_treated_recruited", True),
                         Col(Fixed(d.get("n_comparison_recruited"), str), "n_comparison_recruited", True),
                         Col(Fixed(d.get("total_recruited"), str), "total_recruited", True),
                         Col(Fixed(d.get("clusters_per_arm"), str), "clusters_per_arm", True),
                         Col(Derived(mdes, [avail_cell] if avail_cell is not None else [], _fmt(2))
                             if mdes is not None else "-", "mdes", True)])
    if rows:
        page.table(["design", "SD used", "to recruit: took part", "to recruit: comparison", "total to recruit",
                    "clusters per arm", "MDES with those available"], rows, table_id="ek-planning")
        who = ("the number recruited in this study" if pl.get("available_from") != "plan"
               else "the number the plan says are available")
        _p(page, "Sample sizes are people to recruit (before loss to follow-up); MDES: the smallest standardised "
                 f"effect the study could detect with 80% power given {who} per arm.", style="note")
    est = pl.get("icc_estimated")
    if isinstance(est, Mapping) and est.get("icc") is not None:
        observed, planned = est["icc"], pl.get("icc")
        text = (f"Intracluster correlation: this study observed {w.fmt(observed, 2)} across {est.get('clusters')} "
                f"clusters ('{est.get('cluster')}', {est.get('method') or 'one-way ANOVA'})")
        if pl.get("icc_source") == "plan" and isinstance(planned, (int, float)):
            text += f", against {w.fmt(planned, 2)} assumed in the plan."
            if planned > 0 and observed > 2 * planned:
                text += (f" The observed value is {observed / planned:.1f} times the planned one: if it holds, the "
                         "design effect and the sample sizes above are too small. An ICC from so few clusters is "
                         "imprecise; check it against published ICCs for this outcome before fixing the size.")
            elif observed < planned / 2:
                text += " The observed value is well below the planned one; the planned value is the cautious choice."
            else:
                text += " The two are of the same order."
        else:
            text += "; the plan gave no ICC, so the planning above uses the observed one."
        _p(page, text)


class CounterfactualSpec:
    def __init__(self, periods, observed, fitted, counter, interruption, y_title):
        self.periods, self.observed, self.fitted, self.counter = periods, observed, fitted, counter
        self.interruption, self.y_title = interruption, y_title

    def plotly(self, sink):
        from evalkit.plots.series import plotly_counterfactual
        from evalkit.publish.markup import plot_meta

        return plotly_counterfactual(self.periods, [v.plot() for v in self.observed], [v.plot() for v in self.fitted],
                                     [v.plot() for v in self.counter], self.interruption,
                                     html.escape(self.y_title, quote=False),
                                     observed_meta=plot_meta(self.observed, sink))

    def matplotlib(self):
        from evalkit.plots.series import mpl_counterfactual

        return mpl_counterfactual(self.periods, [v.plot() for v in self.observed], [v.plot() for v in self.fitted],
                                  [v.plot() for v in self.counter], self.interruption, self.y_title)


def declare_comparison_areas(rep: Report) -> None:
    """The areas' monthly counts, before any estimate that reveals their total is shown."""
    from evalkit.report.place import declare

    declare(rep, estimate_counts)


def comparison_areas(rep: Report) -> None:
    """Against comparison areas (issue 18: its own module, evalkit/report/place.py)."""
    from evalkit.report.place import comparison_areas as areas

    areas(rep, label)


def counterfactual(rep: Report) -> None:
    from evalkit.publish.values import Chosen, Gated, Rate

    cf = record(rep.R, "counterfactual")
    if not cf:
        return
    for ind, entry in cf.typed_entries():
        rows = [r for r in _given(entry, "rows") or [] if isinstance(r, Mapping) and r.get("area", "all") == "all"]
        if not rows:
            continue
        periods = [str(r.get("period")) for r in rows]
        # an observed rate reveals its count (the population is public): each is a rate of a count
        observed = [Rate(rep.count(int(r["observed"]), "normal", f"{ind} {r.get('period')} observed"),
                         r.get("observed_rate")) if isinstance(r.get("observed"), (int, float)) else Fixed(None)
                    for r in rows]
        # the fit's fitted values with the shown months can pin a suppressed month (issue 12): asked after
        # disclosure control, the same test as the dashboard's measures
        drawn = trend_gate(rows, observed, [e for e in rep.R.estimates if e.indicator == ind])
        fitted = [Gated(r.get("fitted_rate"), drawn) for r in rows]
        counter = [Gated(r.get("counterfactual_rate"), drawn) for r in rows]
        rep.page.heading(label(rep.C, ind), 4)
        rep.page.figure(CounterfactualSpec(periods, observed, fitted, counter, _given(entry, "interruption"),
                                           f"rate {_given(entry, 'rates_are') or ''}".strip()))
        k = rep.page.ledger.policy.threshold
        rep.page.add(Para(phrase("Observed rates of months with 1 to {k1} events, or that would let one be worked "
                                 "out, are not shown (disclosure control).{trend}", k1=Fixed(k - 1),
                                 trend=Chosen(drawn, "", " The fitted trend and the counterfactual are not drawn: "
                                              "with the months shown they would let a suppressed month be worked "
                                              "out.")), "note"))


def trend_gate(rows, observed, estimates):
    """Whether the fitted trend may be drawn, decided once, after disclosure control."""
    from functools import cache

    from evalkit.monitor.its_disclosure import fitted_series_published

    return cache(lambda: fitted_series_published(rows, observed, estimates))


def external(rep: Report) -> None:
    if not isinstance((rep.R.sections or {}).get("external"), Mapping):
        return
    ex = rep.R.section("external")  # the typed record: a field it does not declare fails in a test
    bits = [f"Source: {_given(ex, 'citation') or 'not given'}."]
    sample = _given(ex, "sample") or {}
    rows = []
    for key, name in (("treated", "took part"), ("comparison", "comparison"), ("clusters", "clusters")):
        v = sample.get(key)
        if isinstance(v, int):
            rows.append([Col(name), Col(rep.tie(rep.count(v, "headline", f"external sample {key}")), key)])
    attr = _given(ex, "attrition") or {}
    if attr.get("overall") is not None:
        bits.append(f"Overall attrition {w.fmt_pct(attr['overall'])}, differential {w.fmt_pct(attr.get('differential'))}.")
    if _given(ex, "baseline_equivalence") is not None:
        bits.append("Baseline equivalence was " + ("shown." if ex.baseline_equivalence else "not shown."))
    if _given(ex, "intention_to_treat") is not None:
        bits.append("Analysis by intention to treat." if ex.intention_to_treat else "Not analysed by intention to treat.")
    if _given(ex, "follow_up_months"):
        bits.append(f"Follow-up: {ex.follow_up_months} months.")
    rep.page.untrusted_para(" ".join(bits))
    if rows:
        rep.page.table(["sample", "count"], rows, table_id="ek-external-sample")


IMPACT_WORDS = {"none": "no effect on average", "low": "a low impact", "moderate": "a moderate impact",
                "high": "a high impact", "harmful": "harm on average"}


def approach_evidence(rep: Report) -> None:
    """What evidence toolkits (the YEF Toolkit) say about the approach, as the logic model records it."""
    items = [x for x in rep.C.get("approach_evidence") or [] if isinstance(x, Mapping)]
    if not items:
        return
    rep.page.heading("Evidence for the approach", 3, anchor="sec-approach-evidence")
    bullets: list = [None] * len(items)
    for k, x in enumerate(items):
        bits = [f"{x.get('source')}, {x.get('approach')}: {IMPACT_WORDS.get(x.get('impact'), x.get('impact'))}"]
        if x.get("evidence_quality") is not None:
            bits.append(f"evidence quality {x['evidence_quality']} of 5")
        if x.get("cost") is not None:
            bits.append(f"cost {x['cost']} of 3")
        text = "; ".join(str(b) for b in bits)
        if x.get("note"):
            text += f" ({x['note']})"
        text += f"; read {x.get('retrieved')}."
        rep.page.untrusted_item(text, bullets, k)
    rep.page.add(Bullets(bullets))
    _p(rep.page, "A toolkit rates the approach across many studies elsewhere; it is not a rating of this "
                 "programme, whose own level is above.", style="note")


def evidence(rep: Report) -> None:
    try:
        _evidence(rep)
    finally:
        approach_evidence(rep)


def _evidence(rep: Report) -> None:
    page, R = rep.page, rep.R
    rating = rep.C.get("evidence")
    if not isinstance(rating, Mapping) or not rating:
        _p(page, "No evidence rating was available when this report was written (run `evalkit compare` and then "
                 "`evalkit report` again).", style="note")
        value_for_money.cost_rating(rep)
        return
    level = rating.get("level")
    if level:
        ne = " (NE: evidence of no effect or harm)" if rating.get("not_effective") or rating.get("ne") else ""
        # a self-assessment against the EIF standards, never presented as EIF's own rating
        words = rating.get("level_words") or f"Self-assessed {level} against the EIF evidence standards (not an EIF rating)"
        _p(page, f"Evidence level for {rating.get('programme') or R.intervention}: {words}{ne}.")
    value_for_money.cost_rating(rep)  # beside the evidence level, labelled with who set its bands
    statements = [st for st in rating.get("evidence_statements") or [] if isinstance(st, Mapping) and st.get("words")]
    if statements:
        # the strategy's evidence statements, as the logic model quotes them (author text: guarded)
        items: list = [None] * len(statements)
        for k, st in enumerate(statements):
            note = str(st.get("note") or "").strip()
            page.untrusted_item(f"Evidence statement: {st['words']}" + (f". {note[:1].upper()}{note[1:]}" if note else ""),
                                items, k)
        page.add(Bullets(items))
    for key in ("explanation", "reasons", "why"):
        value = rating.get(key)
        if isinstance(value, str):
            page.untrusted_para(value)
        elif isinstance(value, list):
            items: list = [None] * len(value)
            for k, v in enumerate(value):
                page.untrusted_item(v if isinstance(v, str) else json.dumps(v, sort_keys=True), items, k)
            page.add(Bullets(items))
    study = rating.get("study")
    if isinstance(study, Mapping):
        bits = [f"This study: {study.get('design_words') or R.design}"]
        if study.get("sms") is not None:
            bits.append(f"Maryland Scientific Methods Scale level {study['sms']}")
        if study.get("counted") is False:
            bits.append(f"an {study.get('record_status') or 'unverified'} study record: shown, never counted in a level")
        elif study.get("supports"):
            bits.append(f"can support up to level {study['supports']}")
        _p(page, ", ".join(str(b) for b in bits) + ".")
        checks = [c for c in study.get("checks") or [] if isinstance(c, Mapping)]
        if checks:
            rows = [[Col(c.get("label") or c.get("id"), "check"), Col(str(c.get("status")).replace("_", " "), "status"),
                     page.untrusted_col(str(c.get("evidence") or ""), "evidence")] for c in checks]
            page.table(["check", "status", "evidence"], rows, table_id="ek-evidence-checks")
    if rating.get("basis"):
        _p(page, f"The level rests on {rating['basis']}.")
    cited = rating.get("rests_on") or rating.get("rules")
    if isinstance(cited, Mapping):
        for who, ids in cited.items():
            if ids:
                _p(page, f"Rules published by {'EIF' if who == 'EIF' else 'evalkit (a configurable toolkit default, not EIF)'}: "
                   + ", ".join(map(str, ids)) + ".")


def _warning_phrase(rep: Report, wn) -> Phrase | None:
    """A caution written from its typed counts (each tied to the page's counts of the same value)."""
    template = getattr(wn, "template", "") or ""
    counts = dict(getattr(wn, "counts", None) or ())
    if not template or not counts:
        return None
    values = {name: rep.tie(rep.count(v, "detail", f"caution {wn.code} {name}")) for name, v in counts.items()}
    estimate_n = list(rep.estimate_n.values())
    for c in values.values():
        rep.page.ledger.link_by_value(c, estimate_n)
    shares: dict[str, Any] = {}

    def share(a, b):
        name = f"__share_{a}_{b}"
        shares[name] = Share(values[a], values[b], digits=0)
        return "{" + name + "}"

    text = fill_template(template.replace("{{", "\0").replace("}}", "\1"), {k: "{" + k + "}" for k in counts},
                         show=str, share=share)
    return Phrase(text.replace("\0", "{{").replace("\1", "}}"), {**values, **shares})


def limitations(rep: Report) -> None:
    R, page = rep.R, rep.page
    if not R.warnings:
        _p(page, "The run recorded no cautions. The limitations of the design itself are described under methods.")
        return
    items: list = []
    for wn in R.warnings:
        where = f" ({label(rep.C, wn.indicator)})" if wn.indicator else ""
        tail = f"{where} [{wn.code}]".replace("{", "{{").replace("}", "}}")
        typed = _warning_phrase(rep, wn)
        if typed is not None:
            items.append(Phrase(typed.template + tail, typed.values))
        else:
            items.append(None)
            page.untrusted_item(f"{wn.message}{where} [{wn.code}]", items, len(items) - 1)
    page.add(Callout("warning", "What the run flagged", [Bullets(items)]))


def _first_stage(rep: Report, group: str) -> str | None:
    for g, boxes in getattr(rep, "flow_layout", []):
        if g == group and boxes:
            return boxes[0][0].stage
    return None


def manifest(rep: Report) -> None:
    R, page = rep.R, rep.page
    m = R.manifest
    _p(page, f"evalkit {m.evalkit_version}, Python {m.python_version}, seed {m.seed}. Results schema {R.schema}. "
             "The same inputs and seed give a byte-identical results.json.")
    rows = []
    for i in m.inputs:
        n = i.get("rows")
        # a data file's rows are people (or records of them): a count like any other
        cell = rep.tie(rep.count(n, "normal", f"input {i.get('path')} rows")) if isinstance(n, int) else "-"
        rows.append([Col(i.get("path")), Col(i.get("role", "-")), Col(i.get("sha256", "-"), "sha256"),
                     Col(cell, "rows", True)])
        if isinstance(cell, Count) and i.get("role") == "data":
            firsts = [c for k, c in rep.flow.items() if len(k) == 2 and k[0] not in ("all", OUTCOME_GROUP) and k[1] == _first_stage(rep, k[0])]
            if len(firsts) > 1 and sum(c.value for c in firsts) == cell.value:
                page.ledger.sum(cell, firsts)
    page.table(["input", "role", "SHA-256", "rows"], rows, table_id="ek-inputs", print_columns=[0, 1, 3])
    # a SHA-256 is 64 characters that cannot wrap: printed in full, one line each, below the table
    hashes = [f"- {md_text(str(i.get('path')))}: `{i.get('sha256')}`" for i in m.inputs if i.get("sha256")]
    if hashes:
        page.add(PrintOnly([Markdown("\nSHA-256 of each input:\n\n" + "\n".join(hashes) + "\n")]))
    page.table(["package", "version"], [[Col(k), Col(v)] for k, v in sorted(m.dependencies.items())],
               table_id="ek-dependencies")
