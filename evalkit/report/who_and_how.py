"""Report sections "Who benefits" (subgroup effects) and "How it was delivered" (implementation).

Called from :func:`evalkit.report.sections.build_report`. As there, nothing here computes a
statistic or formats a count: each level's units are cells of the publication's ledger (the
levels of a subgroup column add up to the everyone row's count, so a small level cannot be
worked out by subtraction), every statistic of a level is a :class:`~evalkit.publish.values.Stat`
of its counts (hidden when a group is small), and text written by other code (the engine's
data-problem caveats) goes through the page's guard.

Links declared for the disclosure control:

- subgroups: each level's units per arm; the levels of one column = the everyone row's units per arm
  (with a latent rest where some units have no value); a pre/post level's units are the results
  table's cell of the same subgroup row (one cell, not two);
- delivery: the participants at each number of sessions = the participants listed; the shares
  reaching the full and the minimum dose are shares of those cells.
"""

from __future__ import annotations

from collections.abc import Mapping

from evalkit.publish.document import Col
from evalkit.publish.values import Count, Fixed, Stat
from evalkit.result_sections import given

# the design's main estimand in the results table, for the everyone row's counts
MAIN_OF = {"mean_change": ("mean_change", "change_in_proportion"), "att": ("att", "ate"), "ate": ("ate",),
           "did_att": ("did_att",), "itt": ("itt",)}
DESIGN_CAVEATS = ("subgroup_balance", "subgroup_parallel_trends", "subgroup_baseline", "no_causal_claim",
                  "subgroup_scale")
ALPHA = 0.05


def _sec(R, key: str):
    """The typed record of section ``key`` (evalkit.result_sections), None where the results hold none."""
    value = (R.sections or {}).get(key)
    return R.section(key) if isinstance(value, Mapping) and value else None


def _p(page, text: str, style: str = "") -> None:
    from evalkit.publish.document import Para
    from evalkit.publish.values import Phrase

    page.add(Para(Phrase(text.replace("{", "{{").replace("}", "}}")), style))


# --------------------------------------------------------------------------------------------
# who benefits


def who_benefits(rep, s) -> None:
    """One table per indicator: the effect in each subgroup level, its interval, the interaction test.

    ``s`` gives the report's shared helpers (``label``, ``estimand_words``, ``estimate_counts``):
    :mod:`evalkit.report.sections` passes itself, so this module does not import it back."""
    from evalkit.report import wording as w

    section = _sec(rep.R, "subgroups")
    if not section:
        return
    s.estimate_counts(rep)
    first = section.entry(next(iter(section)))
    pre_registered = bool(first.pre_registered)
    _p(rep.page, ("These subgroup analyses were pre-registered." if pre_registered else
                  "These subgroup analyses were not pre-registered: read them as exploratory, a question for the "
                  "next study rather than a finding.")
       + " The study was sized for the overall effect, not for subgroups: a difference between subgroups as "
       "large as the overall effect needs about four times the sample (Brookes et al. 2004), so 'no evidence of "
       "a difference' is not evidence of no difference.")
    caveats = {c.get("code"): c.get("message") for c in first.caveats or [] if isinstance(c, Mapping)}
    for code in DESIGN_CAVEATS:
        if caveats.get(code):
            _p(rep.page, str(caveats[code])[:1].upper() + str(caveats[code])[1:] + ".")
    for ind, entry in section.typed_entries():
        rep.page.heading(s.label(rep.C, ind), 4)
        _one_indicator(rep, ind, entry, s, w)


def _convention(text) -> str:
    """The covariance convention without its cluster count and degrees of freedom: the number of
    matched sets is the number of treated units matched, a count the page may withhold."""
    import re

    text = re.sub(r" \(\d+ clusters?\)", "", str(text or "-"))
    return re.sub(r"\bt\(\d+\)", "t(G-1)" if "cluster" in text else "t(N-K)", text)


def _everyone(rep, ind: str, estimand: str):
    """The results table's row of the everyone estimate this subgroup analysis splits."""
    wanted = MAIN_OF.get(estimand, (estimand,))
    for i, e in enumerate(rep.R.estimates):
        if e.indicator == ind and e.subgroup == "all" and e.estimand in wanted:
            return i, e
    return None, None


def _one_indicator(rep, ind: str, entry, s, w) -> None:
    """``entry``: the indicator's evalkit.result_sections.SubgroupEntry."""
    page = rep.page
    effects = [e for e in entry.effects or [] if isinstance(e, Mapping)]
    tests = {t.get("subgroup"): t for t in entry.tests or [] if isinstance(t, Mapping)}
    comparative = any(e.get("n_treated") is not None for e in effects)
    row, everyone = _everyone(rep, ind, str(entry.estimand))
    cells: dict[tuple, Count] = {}

    def count(level_row, key, what):
        v = level_row.get(key)
        if not isinstance(v, int):
            return None
        if not comparative and row is not None:
            # pre/post: the same people as the results table's subgroup row: its cell, not a second one
            for j, e in enumerate(rep.R.estimates):
                if (e.indicator == ind and e.subgroup == level_row.get("label") and everyone is not None
                        and e.estimand == everyone.estimand and tuple(e.timepoints) == tuple(everyone.timepoints)):
                    c = rep.estimate_n.get((j, "n"))
                    if c is not None and c.value == v:
                        return c
        # the same level of the same design has the same people in every outcome's table (unless an
        # outcome is missing for some): one cell, so the audit protects one count, not one per table
        key = ("subgroups", rep.R.evaluation, level_row.get("label"), what, v)
        return rep.tie(rep.page.count(v, role="detail", label=f"{rep.R.evaluation}: subgroups "
                                      f"{level_row.get('label')} {what}", key=key))

    by_column: dict[str, list] = {}
    for e in effects:
        keys = ("n_treated", "n_comparison") if comparative else ("n",)
        for k in keys:
            c = count(e, k, k)
            if c is not None:
                cells[(e.get("label"), k)] = c
        by_column.setdefault(e.get("subgroup"), []).append(e)
    # each column's levels add up to the everyone row's units (a latent rest for those with no value)
    if row is not None:
        for k, tk in ((("n_treated", "t"), ("n_comparison", "c")) if comparative else (("n", "n"),)):
            total = rep.estimate_n.get((row, tk))
            for column, rows in by_column.items():
                parts = [cells.get((e.get("label"), k)) for e in rows]
                if total is None or not all(parts) or len(parts) < 2:
                    continue
                got = sum(p.value for p in parts)
                if got == total.value:
                    page.ledger.sum(total, parts)
                elif got < total.value:
                    rest = rep.count(total.value - got, "detail", f"subgroups {ind} {column}: no value recorded")
                    page.ledger.sum(total, [*parts, rest])

    fmt = lambda v: w.fmt(v)  # noqa: E731
    ratio = entry.scale == "ratio"
    headers = ["subgroup", "level"] + (["n took part", "n comparison"] if comparative else ["n"]) + [
        "estimate", "CI low", "CI high", "p (Holm)", "difference from reference", "interaction p (Holm)"]
    table_rows, attrs = [], []
    for column, rows in by_column.items():
        test = tests.get(column)
        words = (test or {}).get("label") or str(column).replace("_", " ")
        for e in rows:
            of = [cells.get((e.get("label"), k)) for k in (("n_treated", "n_comparison") if comparative else ("n",))]
            of = [c for c in of if c is not None]
            reported = bool(e.get("reported"))

            def stat(v, f=fmt, of=of, reported=reported):
                return Stat(v if reported else None, of, lambda x: "-" if x is None else f(x))

            diff = "reference" if e.get("is_reference") and reported else e.get("difference_vs_reference")
            table_rows.append([
                Col(words, "subgroup"), Col(str(e.get("level")), "level"),
                *[Col(c if c is not None else "-", "n", True) for c in of],
                Col(stat(e.get("estimate")), "estimate"), Col(stat(e.get("ci_low")), "ci_low"),
                Col(stat(e.get("ci_high")), "ci_high"), Col(stat(e.get("p_value_holm"), w.fmt_p), "p_value_holm"),
                Col(stat(diff, lambda x: x if isinstance(x, str) else fmt(x)), "difference"),
                Col(stat(e.get("interaction_p_value_holm"), w.fmt_p) if reported else Fixed("too few" if
                    e.get("reason") else "-"), "interaction")])
            attrs.append({"indicator": ind, "subgroup": str(e.get("label"))})
    page.table(headers, table_rows, table_id=f"ek-subgroups-{ind}", row_attrs=attrs)
    what = s.estimand_words(str(entry.estimand))
    _p(page, f"Estimate: {what}" + (" (ratio)" if ratio else "")
       + f" in each subgroup, {w.pct(entry.ci_level or 0.95)} "
       "confidence interval. p (Holm): adjusted across every subgroup estimate of this outcome; interaction p "
       "(Holm): the test that the effect is the same in every level of the subgroup, adjusted across the "
       f"subgroup columns. Standard errors: {_convention(entry.covariance)}. A level with fewer than "
       f"{entry.min_arm} units in an arm gets no estimate ('too few'); an estimate for fewer than "
       f"{page.ledger.policy.threshold} people is not shown.", style="note")
    # one sentence per subgroup column, from the interaction test
    for column, test in tests.items():
        rows = by_column.get(column) or []
        of = [cells.get((e.get("label"), k)) for e in rows if e.get("reported")
              for k in (("n_treated", "n_comparison") if comparative else ("n",))]
        p, ph = test.get("p_value"), test.get("p_value_holm")
        if p is None or any(c is not None and c.small for c in of):
            continue
        words = test.get("label") or str(column).replace("_", " ")
        if ph is not None and ph < ALPHA:
            verdict = (f"The effect differs by {words} (interaction test p = {w.fmt_p(p)}, {w.fmt_p(ph)} after Holm "
                       "across the subgroup columns); as an exploratory finding it needs confirming in a study "
                       "designed to test it.")
        elif p < ALPHA:
            verdict = (f"There is a hint that the effect differs by {words} (interaction test p = {w.fmt_p(p)}), "
                       f"but not after allowing for the {len(tests)} subgroup columns tested (Holm p = "
                       f"{w.fmt_p(ph)}).")
        else:
            det = [d for d in (e.get("detectable_difference") for e in rows) if isinstance(d, (int, float))]
            verdict = (f"No evidence that the effect differs by {words} (interaction test p = {w.fmt_p(p)})"
                       + (f"; this study could only have detected a difference of about {fmt(max(det))}"
                          + ("" if ratio else " in the outcome's units")
                          + (" (ratio of ratios)" if ratio else "") + " or more." if det else "."))
        _p(page, verdict)
    problems = [c for c in entry.caveats or [] if isinstance(c, Mapping)
                and c.get("code") not in ("subgroups_not_powered", "subgroups_exploratory", *DESIGN_CAVEATS)]
    for c in problems:
        page.untrusted_para(str(c.get("message")), style="note")


# --------------------------------------------------------------------------------------------
# how it was delivered


def how_delivered(rep, s) -> None:
    """Fidelity, the dosage distribution, engagement over time and retention, and dose-response
    (an association, labelled as not causal), from the results section ``delivery``; ``s`` as for
    :func:`who_benefits`."""
    from evalkit.publish.values import Share
    from evalkit.report import wording as w

    d = _sec(rep.R, "delivery")
    if not d:
        return
    page = rep.page
    plan = d.plan or {}
    blueprint = f"The blueprint: {plan.get('planned_sessions')} sessions per participant"
    if plan.get("session_hours"):
        blueprint += f" of {w.fmt(plan['session_hours'], 2)} hour(s)"
    if plan.get("weeks"):
        blueprint += f" over {plan['weeks']} weeks"
    if plan.get("minimum_dose"):
        blueprint += f"; the programme counts {plan['minimum_dose']} sessions as its minimum dose"
    _p(page, blueprint + ". Session records: " + str(given(d, "sessions_file") or "-") + ".")

    def cnt(v, what, role="detail"):
        if not isinstance(v, (int, float)) or float(v) != int(v):
            return None
        return rep.tie(rep.count(int(v), role, f"delivery {what}"))

    fid = d.fidelity or {}
    dos = d.dosage or {}
    people = cnt(dos.get("participants"), "participants", "normal")
    page.heading("Fidelity: delivered as designed", 4)
    rows = []
    words = {"adherence": "checked sessions delivered as the blueprint says", "checked": "attended sessions with a "
             "fidelity check", "duration": "attended sessions of at least the planned length (less the tolerance)"}
    for key in ("adherence", "checked", "duration"):
        sh = fid.get(key)
        if not isinstance(sh, Mapping):
            continue
        num, den = cnt(sh.get("numerator"), f"fidelity {key} sessions"), cnt(sh.get("denominator"), f"fidelity {key} of")
        if num is None or den is None:
            continue
        ci = Stat((sh.get("ci_low"), sh.get("ci_high")) if sh.get("reported") else None, [num, den],
                  lambda v: "-" if v is None or v[0] is None else f"{100 * v[0]:.1f}% to {100 * v[1]:.1f}%")
        rows.append([Col(words[key], "measure"), Col(num, "sessions", True), Col(den, "of", True),
                     Col(Share(num, den), "share", True), Col(ci, "ci", True)])
    for comp in fid.get("components") or []:
        if isinstance(comp, Mapping):
            num, den = cnt(comp.get("numerator"), f"component {comp.get('name')}"), cnt(comp.get("denominator"), "of")
            if num is not None and den is not None:
                rows.append([Col(f"component: {comp.get('name')}", "measure"), Col(num, "sessions", True),
                             Col(den, "of", True), Col(Share(num, den), "share", True), Col(Fixed("-"), "ci", True)])
    if rows:
        page.table(["measure", "sessions", "of", "share", "95% CI"], rows, table_id="ek-delivery-fidelity")
        _p(page, f"Intervals are cluster-robust by {fid.get('cluster_by') or 'participant'} (sessions of one "
           "deliverer or participant are alike, so they are not independent).", style="note")
    if isinstance(fid.get("offered_vs_plan"), (int, float)):
        _p(page, f"On average each participant was offered {w.fmt(fid.get('offered_per_participant'), 1)} sessions, "
           f"{w.fmt_pct(fid['offered_vs_plan'])} of the {plan.get('planned_sessions')} planned.")
    for wn in fid.get("warnings") or []:
        if isinstance(wn, Mapping):
            page.untrusted_para(str(wn.get("message")), style="note")

    page.heading("Dosage: sessions received", 4)
    dist = [x for x in dos.get("distribution") or [] if isinstance(x, Mapping)]
    if dist and people is not None:
        parts = [cnt(x.get("participants"), f"received {x.get('sessions')} sessions") for x in dist]
        if all(p is not None for p in parts) and sum(p.value for p in parts) == people.value:
            page.ledger.sum(people, parts)
        of = [people]
        q = lambda v: "-" if v is None else w.fmt(v, 1)  # noqa: E731

        page.add(_para_values("Participants: {n}. Sessions attended: median {med} (quartiles {q1} to {q3}), "
                              "mean {mean}; R's default (type 7) quantiles.",
                              n=people, med=Stat(dos.get("median"), of, q), q1=Stat(dos.get("q1"), of, q),
                              q3=Stat(dos.get("q3"), of, q), mean=Stat(dos.get("mean"), of, q)))
        shares = []
        for key, what in (("full_dose", f"the full {plan.get('planned_sessions')} sessions"),
                          ("minimum_dose", f"the minimum dose ({plan.get('minimum_dose')} sessions)")):
            sh = dos.get(key)
            if isinstance(sh, Mapping):
                num = cnt(sh.get("numerator"), f"dosage {key}")
                if num is not None:
                    shares.append((what, num))
        for what, num in shares:
            page.add(_para_values("Received " + what.replace("{", "{{").replace("}", "}}") + ": {num} of {n} ({pct}).",
                                  num=num, n=people, pct=Share(num, people)))
        page.table(["sessions attended", "participants"], [[Col(str(x.get("sessions")), "sessions"),
                                                             Col(p, "participants", True)]
                                                            for x, p in zip(dist, parts) if p is not None],
                   table_id="ek-delivery-dosage")
        table = page.blocks.pop()
        from evalkit.publish.document import Details

        page.add(Details(f"Show the number of participants at each number of sessions ({len(dist)} rows)", [table]))

    eng = d.engagement or {}
    months = [m for m in eng.get("months") or [] if isinstance(m, Mapping)]
    if months:
        page.heading("Engagement over time", 4)
        rows, starters = [], []
        for m in months:
            c = {k: cnt(m.get(k), f"{m.get('month')} {k}") for k in ("sessions_offered", "sessions_attended",
                                                                      "active", "starters", "ended")}
            starters.append(c["starters"])
            rate = (Share(c["sessions_attended"], c["sessions_offered"], digits=0)
                    if c["sessions_offered"] is not None and c["sessions_offered"].value else Fixed("-"))
            rows.append([Col(str(m.get("month")), "month"), Col(c["sessions_offered"], "offered", True),
                         Col(c["sessions_attended"], "attended", True), Col(rate, "rate", True),
                         Col(c["active"], "active", True), Col(c["starters"], "starters", True),
                         Col(c["ended"], "ended", True)])
        started = cnt(sum(x.value for x in starters if x is not None), "starters all", "normal")
        if started is not None and all(x is not None for x in starters):
            page.ledger.sum(started, starters)
        page.table(["month", "sessions offered", "attended", "attendance", "participants attending", "first session",
                    "last session"], rows, table_id="ek-delivery-engagement")
        _p(page, "Last session: participants whose last attended session fell in that month (none can be known "
           f"to have ended in the last month the records cover, {eng.get('observed_until')}).", style="note")
    retention = [r for r in eng.get("retention") or [] if isinstance(r, Mapping)]
    if retention:
        rows = []
        for r in retention:
            obs, att = cnt(r.get("observed"), f"retention {r.get('programme_month')} followed"), \
                cnt(r.get("attending"), f"retention {r.get('programme_month')} attending")
            if obs is None or att is None:
                continue
            rows.append([Col(str(r.get("programme_month")), "month"), Col(obs, "followed", True),
                         Col(att, "attending", True), Col(Share(att, obs), "share", True)])
        page.table(["month of the programme", "participants followed that long", "still attending", "share"],
                   rows, table_id="ek-delivery-retention")
        _p(page, "Retention counts in each month only participants the records cover for the whole of that month, "
           "so recent starters do not look like drop-outs.", style="note")

    drs = given(d, "dose_response") or {}
    if drs:
        page.heading("Dose and response: an association, not an effect", 4)
    for ind, dr in drs.items():
        if not isinstance(dr, Mapping):
            continue
        n = cnt(dr.get("n"), f"dose-response {ind} n", "normal")
        slope = dr.get("slope") or {}
        fmt = lambda v: w.fmt(v)  # noqa: E731
        of = [n] if n is not None else []
        _p(page, "Participants choose how much they attend, and those who attend more differ in ways no adjustment "
           "removes: this is not a causal effect of the sessions, and it is not evidence for or against the "
           "programme.")
        page.add(_para_values(
            s.label(rep.C, ind).replace("{", "{{").replace("}", "}}") + " at " + str(dr.get("timepoint"))
            + ", per session attended" + (", adjusted for the baseline" if dr.get("adjusted_for") else "")
            + ": {est} (95% CI {lo} to {hi}; p = {p}; {n} participants). " + str(dr.get("label") or "")
            .replace("{", "{{").replace("}", "}}").capitalize() + ".",
            est=Stat(slope.get("estimate"), of, fmt), lo=Stat(slope.get("ci_low"), of, fmt),
            hi=Stat(slope.get("ci_high"), of, fmt), p=Stat(slope.get("p_value"), of, w.fmt_p),
            n=n if n is not None else Fixed("-")))
        bands = [b for b in dr.get("bands") or [] if isinstance(b, Mapping)]
        if bands:
            rows = []
            for b in bands:
                bn = cnt(b.get("n"), f"dose-response {ind} band {b.get('name')}")
                ob = [x for x in (bn, n) if x is not None]
                rows.append([Col(str(b.get("name")), "band"), Col(bn if bn is not None else "-", "n", True),
                             Col(Stat(b.get("estimate") if b.get("reported") else None, ob,
                                      lambda v: "-" if v is None else fmt(v)), "estimate", True),
                             Col(Stat((b.get("ci_low"), b.get("ci_high")) if b.get("reported") else None, ob,
                                      lambda v: "-" if v is None or v[0] is None else f"{fmt(v[0])} to {fmt(v[1])}"),
                                 "ci", True)])
            band_cells = [r[1].content for r in rows if isinstance(r[1].content, Count)]
            if n is not None and len(band_cells) == len(rows) and sum(c.value for c in band_cells) <= n.value:
                # the reference band's participants are the rest: a count the audit must know
                ref_n = rep.page.count(n.value - sum(c.value for c in band_cells), role="detail", latent=True,
                                       label=f"{rep.R.evaluation}: dose-response {ind} reference band")
                page.ledger.sum(n, [*band_cells, ref_n])
            page.table([f"sessions attended (against {dr.get('reference_band')})", "participants",
                        "difference (association)", "95% CI"], rows, table_id=f"ek-delivery-dose-{ind}")
        _p(page, f"Standard errors: {_convention(dr.get('covariance'))}.", style="note")


def _para_values(template: str, **values):
    from evalkit.publish.document import Para
    from evalkit.publish.values import Phrase

    return Para(Phrase(template, values))
