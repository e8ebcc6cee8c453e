"""What the dashboard draws, from its typed model (:func:`evalkit.monitor.dashboard.dashboard_publication`).

Every tile, table and figure is a block of :mod:`evalkit.publish.document` holding typed values:
adding one is one call (``page.add(Tiles([...]))``, ``page.figure(BarSpec(...))``,
``page.table(...)``). Figures take typed values and draw ``value.plot()``: a hidden value is
``None`` (no bar, no marker at its true height); its marker has no RAG colour; each trace's
``meta.ek`` names the cells behind its points for the page scan.
"""

from __future__ import annotations

from evalkit.monitor.figure_parts import RagWord, _e, wrapped_title
from evalkit.publish.document import Col, Markdown, Para, Tile, Tiles
from evalkit.publish.markup import plot_meta
from evalkit.publish.values import Fixed, Gated, Phrase, phrase


def _layout(text: str) -> Markdown:
    return Markdown(f"\n{text}\n")


def build_page(page, model: dict, policy) -> None:
    page.add(_layout("# Programmes\n\n## Row {height=20%}"))
    from evalkit.publish.policy import PolicyKind

    rounded = (", nor has a rounded count whose band the rounded number does not tell (it would tell more than the "
               "rounding)" if policy.kind is PolicyKind.round else "")
    page.add(Para(phrase("Data up to {as_of}. Targets from the logic models; RAG: green on or better than target, "
                         "amber between target and the amber threshold, red beyond it; a suppressed value has no "
                         "RAG colour" + rounded + ".", as_of=Fixed(model["as_of"] or "no data yet")), "note"))
    tiles(page, model)
    from evalkit.monitor import interactive

    page.add(interactive.filter_block())
    hidden_areas = [i["label"] for i in model["indicators"]
                    if f"{i['intervention']}/{i['indicator']}" in (model.get("areas_not_shown") or [])]
    if hidden_areas:
        page.note(phrase("No area series for {what}: too many of their area-months are under {k}, so the area "
                         "filter shows them for the whole area only.", what=Fixed("; ".join(hidden_areas)),
                         k=Fixed(policy.threshold)))
    page.add(_layout("## Row"))
    for item in model["indicators"]:
        if not item["success_measure"]:
            page.add(_layout("::: {.ek-pair}"))  # the RAG trend and its XmR chart side by side
            page.figure(interactive.trend_spec(item, model))
            spc_chart(page, model, item)
            page.add(_layout(":::"))
    page.add(_layout("# Success measures\n\n## Row"))
    measures(page, model, policy)
    success(page, model, policy)
    page.add(_layout("# Breakdowns\n\n## Row"))
    breakdowns(page, model, policy)
    page.add(_layout("# Needs assessment\n\n## Row"))
    profile(page, model)
    page.add(_layout("# Data quality\n\n## Row"))
    quality(page, model)


def spc_chart(page, model: dict, item: dict) -> None:
    """The indicator's XmR chart (statistical process control) beside its RAG trend."""
    from evalkit.monitor.spc_dashboard import XmRSpec

    key = f"{item['intervention']}/{item['indicator']}"
    steps = (model.get("spc") or {}).get("step_changes", {}).get(key, [])
    page.figure(XmRSpec(item, steps, model.get("period_kind", "month")))


def _last(values):
    for v in reversed(values):
        if v is not None and getattr(v, "value", None) is not None:
            return v
    return values[-1] if values else None


def tiles(page, model: dict) -> None:
    out = []
    per_kind = model.get("period_kind", "month")
    for item in model["indicators"]:
        if item["success_measure"] or item["target"] is None:
            continue
        s = item["series"]
        value, rag, period = s["value"][-1], s["rag"][-1], s["period"][-1]
        target = item["target"]
        tgt = f"{target:.0%}" if item["measure"] == "proportion" else f"{target:g}"
        per = f" a {per_kind}" if item["measure"] == "count" else ""
        default = " (amber: toolkit default, within 10%)" if item["amber_default"] else ""
        word = RagWord(rag, value)
        out.append(Tile(value, above=[f"{item['intervention_name']} · {period[:7]}", item["label"]],
                        below=[Phrase("target " + f"{tgt}{per}{default} · ".replace("{", "{{").replace("}", "}}")
                                      + "{status}", {"status": word})], rag=rag))
    page.add(Tiles(out))


def _variant(entry: dict, name: str = "all") -> dict | None:
    return next((v for v in entry["variants"] if v["variant"] == name), None)


def _esc(text: str) -> str:
    """Literal text for a Phrase template."""
    return str(text).replace("{", "{{").replace("}", "}}")


def measures(page, model: dict, policy) -> None:
    """The Home Office success measures, and the local-definition counts beside them."""
    ms = model.get("measures") or {}
    if not ms.get("measures"):
        return
    page.note(phrase("Home Office success measures ({version}); the local definition of serious violence is "
                     "{sv}. Counts for the years ending in the latest month; rates a year on the mid-year "
                     "population (homicide per 1,000,000, the others per 100,000). Measures named 'local "
                     "definition' count the partnership's own definition, not a Home Office measure.",
                     version=Fixed(ms.get("version")), sv=Fixed(ms.get("sv_definition") or "not set")))
    out = []
    for m in ms["measures"]:
        main = _variant(m)
        if main is None or not main["years"]:
            continue
        latest = main["years"][-1]
        per = f"{int(m['rate_per']):,}"
        below = []
        values = {"rate": latest["rate"] or Fixed("-")}
        template = "{rate} per " + per + " a year"
        if latest.get("change") is not None:
            template += "; {change} on the year before"
            values["change"] = latest["change"]
        below.append(Phrase(template, values))
        for v in m["variants"][1:]:
            if v["years"]:
                y = v["years"][-1]
                below.append(Phrase(_esc(v["words"]) + ": {n} ({rate} per " + per + ")",
                                    {"n": y["count"], "rate": y["rate"] or Fixed("-")}))
        its = m.get("its") or {}
        if its.get("level_change"):
            lc = its["level_change"]
            below.append(f"level change at {str(its['interruption'])[:7]}: rate ratio {lc['estimate']:.2f} "
                         f"({lc['ci_low']:.2f} to {lc['ci_high']:.2f})")
        out.append(Tile(latest["count"], above=[m["label"], f"year ending {latest['to']}"], below=below,
                        colour="#5d4037" if m["local_definition"] else "#37474f"))
    page.add(Tiles(out))
    its_info = ms.get("its") or {}
    if its_info.get("plan"):
        f = its_info.get("data_file") or {}
        state = {"current": "the same data as its report", "stale": "NOT the data its report was run on: run "
                 "`evalkit monitor export` and `evalkit run` again", "missing": "its data file is not written yet: "
                 "run `evalkit monitor export`"}.get(f.get("status"), "")
        page.note(phrase("Trends fitted as the time series plan {plan} fits them ({state}).",
                         plan=Fixed(its_info["plan"]), state=Fixed(state)))
    if its_info.get("note"):
        page.note(Phrase(_esc(its_info["note"])))
    from evalkit.monitor.spc_dashboard import MEASURE_PREFIX, XmRSpec, measure_items

    xmr_items = measure_items(model)
    steps = (model.get("spc") or {}).get("step_changes", {})
    for m in ms["measures"]:
        main = _variant(m)
        if main is None:
            continue
        key = MEASURE_PREFIX + m["id"]
        page.add(_layout("::: {.ek-pair}"))  # the measure's rates and its XmR chart side by side
        page.figure(MeasureSpec(m))
        page.figure(XmRSpec(xmr_items[key], steps.get(key, []), model.get("period_kind", "month")))
        page.add(_layout(":::"))
        cited = [f"[{c['key']}] {c['citation']}" if c.get("citation") else f"[{c['key']}]"
                 for c in m.get("sources") or []]
        note = m["definition"] + (" Definition as cited: " + "; ".join(cited) + "." if cited else "")
        its = m.get("its")
        if its:
            note += f" Trend: {its['method']}."
            if its.get("slope_change_per_year"):
                sc = its["slope_change_per_year"]
                note += (f" Slope change: {sc['estimate']:.2f} a year ({sc['ci_low']:.2f} to {sc['ci_high']:.2f}),"
                         " as a rate ratio.")
        if main.get("monthly") is None:
            note += (" Monthly counts are not shown: some months are under the disclosure threshold; totals of "
                     "whole years are.")
        page.add(Para(Phrase(_esc(note)), "note"))
        if main["latest_by_area"]:
            rows = [[Col(a["area"], "area"), Col(a["count"], "count"),
                     Col(a["rate"] if a["rate"] is not None else "-", "rate")] for a in main["latest_by_area"]]
            page.table([f"area (year ending {main['years'][-1]['to']})", "count", f"rate per {int(m['rate_per']):,}"],
                       rows, table_id=f"ek-measure-{m['id']}")


def _its_traces(fig, its: dict | None) -> None:
    """The fitted segmented trend and, from the interruption on, the counterfactual (model output, no counts)."""
    if not its:
        return
    import plotly.graph_objects as go

    fig.add_trace(go.Scatter(x=its["period"], y=its["fitted_rate"], mode="lines", name="segmented trend (fitted)",
                             line={"color": "#1565c0"}))
    cut = str(its["interruption"])[:7]
    post = [i for i, p in enumerate(its["period"]) if str(p)[:7] >= cut]
    fig.add_trace(go.Scatter(x=[its["period"][i] for i in post], y=[its["counterfactual_rate"][i] for i in post],
                             mode="lines", name="counterfactual (no change)", line={"color": "#c62828", "dash": "dash"}))
    if post:
        fig.add_vline(x=its["period"][post[0]], line={"color": "#999", "dash": "dot"})


def _rate_layout(fig, label: str, per: int):
    title = wrapped_title(f"{label} (rate per {per:,} a month)")
    lines = title.count("<br>") + 1
    fig.update_layout(title={"text": title, "y": 0.98, "yanchor": "top"}, height=338 + 22 * lines,
                      margin={"l": 50, "r": 20, "t": 28 + 22 * lines, "b": 40}, legend={"orientation": "h"},
                      yaxis={"rangemode": "tozero"})
    return fig


class MeasureSpec:
    """A success measure: monthly rates (where published), each variant's yearly rate, the fitted trend."""

    def __init__(self, m):
        self.m = m

    def plotly(self, sink):
        import plotly.graph_objects as go

        m = self.m
        per = int(m["rate_per"])
        fig = go.Figure()
        main = _variant(m)
        monthly = main.get("monthly") if main else None
        if monthly:
            rates = [r if r is not None else Fixed(None) for r in monthly["rate"]]
            fig.add_trace(go.Scatter(x=monthly["period"], y=[r.plot() for r in rates], mode="markers",
                                     name=f"monthly rate per {per:,}", marker={"color": "#546e7a", "size": 5},
                                     meta=plot_meta(rates, sink)))
        for v in m["variants"]:
            rates = [y["rate"] if y["rate"] is not None else Fixed(None) for y in v["years"]]
            if not rates:
                continue
            fig.add_trace(go.Scatter(x=[y["to"] for y in v["years"]],
                                     y=[None if r.plot() is None else r.plot() / 12 for r in rates],
                                     mode="lines+markers", name=_e(f"{v['words']}: year's rate / 12"),
                                     line={"dash": "dot"}, meta=plot_meta(rates, sink)))
        _its_traces(fig, m.get("its"))
        return _rate_layout(fig, m["label"], per)

    def matplotlib(self):
        return None


def success(page, model: dict, policy) -> None:
    from evalkit.monitor.its_disclosure import its_published

    out = []
    for item in model["indicators"]:
        if not item["success_measure"]:
            continue
        roll = model["success"].get(item["indicator"], {}).get("rolling") or {}
        n, rate, change = _last(roll.get("count") or []), _last(roll.get("rate") or []), _last(roll.get("change") or [])
        success_ = model["success"].get(item["indicator"], {})
        its = success_.get("its")  # shown only if its_published allows, once disclosure control has run
        per = int(item["rate_per"] or 100000)
        below = []
        values = {}
        template = "{rate} per " + f"{per:,}" + " a year"
        values["rate"] = rate if rate is not None else Fixed("-")
        if change is not None:
            template += "; {change} on the year before"
            values["change"] = change
        below.append(Phrase(template, values))
        if its and its.get("level_change"):
            lc = its["level_change"]
            gate = (lambda item=item, s=success_: its_published(item, s) is not None)
            below.append(Phrase(f"level change at {its['interruption'][:7]}: rate ratio {{lc}}",
                                {"lc": Gated(f"{lc['estimate']:.2f} ({lc['ci_low']:.2f} to {lc['ci_high']:.2f})", gate)}))
        period = (roll.get("period") or ["?"])[-1][:7]
        out.append(Tile(n if n is not None else Fixed("-"), above=[item["label"], f"year ending {period}"],
                        below=below, colour="#37474f"))
    page.add(Tiles(out))
    for item in model["indicators"]:
        if not item["success_measure"]:
            continue
        success_ = model["success"].get(item["indicator"], {})
        page.add(_layout("::: {.ek-pair}"))
        page.figure(SuccessSpec(item, success_))
        spc_chart(page, model, item)
        page.add(_layout(":::"))
        if item.get("monthly_hidden"):
            page.note(phrase("Most months have fewer than {k} {what}: the monthly counts are not shown, only the "
                             "totals of whole years ending with the latest month (totals for every month would let "
                             "each month be worked out).", k=Fixed(policy.threshold),
                             what=Fixed(item["label"].lower())))
        its = success_.get("its")
        if its:
            gate = (lambda item=item, s=success_: its_published(item, s) is not None)
            note = f"Trend: {its['method']}."
            values = {}
            if its.get("slope_change_per_year"):
                sc = its["slope_change_per_year"]
                note += " Slope change: {slope}, as a rate ratio."
                values["slope"] = Gated(f"{sc['estimate']:.2f} a year ({sc['ci_low']:.2f} to {sc['ci_high']:.2f})", gate)
            note += (" Months and year-ending totals that would show or give away a count under the disclosure "
                     "threshold are not plotted, and the fitted trend and its estimates are withheld ([c]) where, "
                     "beside the months and totals shown, they would let a suppressed month be worked out.")
            page.add(Para(Phrase(note, values), "note"))


class SuccessSpec:
    def __init__(self, item, success):
        self.item, self.success = item, success

    def plotly(self, sink):
        import plotly.graph_objects as go

        from evalkit.monitor.its_disclosure import its_published

        item, s, its = self.item, self.item["series"], its_published(self.item, self.success)
        per = int(item["rate_per"] or 100000)
        rates = [r if r is not None else Fixed(None) for r in s["rate"]]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=s["period"], y=[r.plot() for r in rates], mode="markers",
                                 name=f"monthly rate per {per:,}", marker={"color": "#546e7a", "size": 5},
                                 meta=plot_meta(rates, sink)))
        _its_traces(fig, its)
        roll = self.success.get("rolling") or {}
        if roll:
            yearly = [r if r is not None else Fixed(None) for r in roll["rate"]]
            annual = bool(item.get("monthly_hidden"))  # whole years only: join the yearly points
            fig.add_trace(go.Scatter(x=roll["period"], y=[None if r.plot() is None else r.plot() / 12 for r in yearly],
                                     mode="lines+markers" if annual else "lines", connectgaps=annual,
                                     name="year-ending rate / 12", line={"color": "#6a1b9a", "width": 1},
                                     meta=plot_meta(yearly, sink)))
        return _rate_layout(fig, item["label"], per)

    def matplotlib(self):
        return None


class BarSpec:
    """Bars of typed values (counts or rates); a hidden value has no bar."""

    def __init__(self, title, labels, values, *, horizontal=False, axis_title=None, series=None):
        self.title, self.labels, self.values = title, labels, values
        self.horizontal, self.axis_title = horizontal, axis_title
        self.series = series  # [(name, labels, values)] for grouped bars

    def plotly(self, sink):
        import plotly.graph_objects as go

        groups = self.series or [(self.title, self.labels, self.values)]
        fig = go.Figure()
        for name, labels, values in groups:
            y = [v.plot() if v is not None else None for v in values]
            labels = [_e(x) for x in labels]
            text = [v.table_text() if v is not None else "" for v in values]
            kw = dict(y=labels, x=y, orientation="h") if self.horizontal else dict(x=labels, y=y)
            fig.add_trace(go.Bar(name=_e(name), text=text, textposition="none", meta=plot_meta(values, sink),
                                 hovertemplate="%{" + ("y" if self.horizontal else "x") + "}: %{text}<extra></extra>",
                                 **kw))
        axis = {"title": self.axis_title} if self.axis_title else {}
        fig.update_layout(title=_e(self.title), height=320, margin={"l": 60, "r": 20, "t": 50, "b": 40},
                          barmode="group", **({"xaxis": axis} if self.horizontal else {"yaxis": axis}))
        if not self.series:
            fig.update_traces(marker={"color": "#455a64"})
        return fig

    def matplotlib(self):
        return None


def breakdowns(page, model: dict, policy) -> None:
    labels = {f"{i['intervention']}/{i['indicator']}": i for i in model["indicators"]}
    wrote = False
    for key, entry in model["breakdowns"].items():
        item = labels.get(key)
        if item is None:
            continue
        for breakdown in ("area", "age_band", "sex"):
            groups = entry.get(breakdown)
            if breakdown in entry.get("not_shown", ()):
                page.note(phrase("{what} by {by}: most groups have fewer than {k}, so the breakdown is not shown.",
                                 what=Fixed(item["label"]), by=Fixed(breakdown.replace("_", " ")),
                                 k=Fixed(policy.threshold)))
                wrote = True
                continue
            if not groups:
                continue
            title = f"{item['label']} by {breakdown.replace('_', ' ')}, {entry['from'][:7]} to {entry['to'][:7]}"
            use_rate = any(g["rate"] is not None for g in groups)
            values = [g["rate"] if use_rate else g["count"] for g in groups]
            what = f"rate per {int(item['rate_per']):,} a year" if use_rate else "count"
            page.figure(BarSpec(f"{title} ({what})", [g["group"] for g in groups], values, axis_title=what))
            wrote = True
    if not wrote:
        page.note("No breakdowns yet.")
    page.note(phrase("Groups with fewer than {k}, or that would let such a group be worked out from the total, "
                     "have no bar (disclosure control).", k=Fixed(policy.threshold)))


def profile(page, model: dict, *, health: bool = True) -> None:
    """The needs-assessment profile; ``health=False`` leaves the health picture to :func:`health_picture`."""
    prof = model.get("profile") or {}
    if not prof:
        page.note("No police records ingested yet.")
        return
    s = prof["summary"]
    page.note(Phrase(_esc(f"Police-recorded serious violence, {s['from']} to {s['to']}, local definition "
                          f"{s['mapping_version']}. Public place: the recorded location type; the night-time economy "
                          "share is of public-place serious violence. Residents: distinct (pseudonymised) people "
                          "living in the partnership area, each in the area of their latest record, as a share of "
                          "its population.")))
    tiles_ = [Tile(prof["total"], above=["Serious violence offences"]),
              Tile(prof["share_domestic"], above=["Domestic abuse"]),
              Tile(prof["share_knife"], above=["Knife or sharp object"]),
              Tile(prof["share_public_place"], above=["In a public place"]),
              Tile(prof["share_public_night_time_economy"], above=["Public-place violence in the night-time economy"]),
              Tile(Fixed(f"{s['peak_hour']:02d}:00" if s.get("peak_hour") is not None else "-"), above=["Peak hour"]),
              Tile(Fixed(s.get("peak_day") or "-"), above=["Peak day"])]
    for who, words in (("victim", "Residents who were a victim"), ("suspect", "Residents who were a suspect")):
        if f"share_residents_{who}" in prof:
            tiles_.append(Tile(prof[f"share_residents_{who}"], above=[f"{words} ({s.get('months') or 12} months)"]))
    page.add(Tiles(tiles_))

    def bars(items, title, horizontal=False, rates=False, axis_title=None):
        if not items:
            return
        values = [r if rates else c for _l, c, r in items]
        page.figure(BarSpec(title, [lab.replace("_", " ") for lab, _c, _r in items], values, horizontal=horizontal,
                            axis_title=axis_title))

    bars(prof.get("by_hour"), "Offences by hour of day")
    bars(prof.get("by_day"), "Offences by day of week")
    months = s.get("months") or 12
    per = "a year" if months == 12 else f"in the {months} months"  # the rate is of the window's offences
    bars(prof.get("by_area"), f"Offences {per} per 100,000 residents, by area of offence", horizontal=True, rates=True)
    for who in ("victim", "suspect"):
        bars(prof.get(f"{who}s_by_residence"), f"{who.capitalize()}s per 100,000 residents, by area of residence "
             "(distinct people)", horizontal=True, rates=True)
    bars(prof.get("by_category"), "Offences by category", horizontal=True)
    yoy = prof.get("year_on_year")
    if yoy:
        page.para(Phrase(_esc(f"Change on the previous 12 months ({s.get('previous_from') or ''} on), by category")))
        page.table(["category", "previous 12 months", "last 12 months", "change"],
                   [[Col(r["category"].replace("_", " "), "category"), Col(r["previous"], "previous"),
                     Col(r["count"], "count"), Col(r["change"], "change")] for r in yoy], table_id="ek-year-on-year")
    for what, a, b in (("Ages", "victim_ages", "suspect_ages"), ("Sex", "victim_sex", "suspect_sex")):
        v, sus = prof.get(a) or [], prof.get(b) or []
        if v or sus:
            page.figure(BarSpec(f"{what} of victims and suspects", [], [], series=[
                ("victims", [lab for lab, _c, _r in v], [c for _l, c, _r in v]),
                ("suspects", [lab for lab, _c, _r in sus], [c for _l, c, _r in sus])]))
    if health:
        health_picture(page, prof)


def health_picture(page, prof: dict) -> None:
    """The profile's ambulance, A&E and hospital admission parts."""
    def bars(items, title, horizontal=False):
        if items:
            page.figure(BarSpec(title, [lab.replace("_", " ") for lab, _c, _r in items], [c for _l, c, _r in items],
                                horizontal=horizontal))

    for h in (prof.get("health") or {}).values():
        page.para(Phrase(_esc(f"{h['label']}, {h['from']} to {h['to']}: ") + "{n} in all.", {"n": h["total"]}))
        for name, title in (("by_category", "by category"), ("by_cause", "by cause (ICD-10)"),
                            ("sharp_by_place", "assaults by sharp object, by place of occurrence"),
                            ("by_weapon", "by weapon"), ("by_location", "by location"), ("by_hour", "by hour of day"),
                            ("by_age", "by age"), ("by_sex", "by sex"), ("by_area", "by area")):
            bars(h.get(name), f"{h['label']} {title}", horizontal=name in ("by_area", "by_cause", "sharp_by_place",
                                                                            "by_location", "by_weapon"))


def quality(page, model: dict) -> None:
    rows = []
    for s in model["quality"]["sources"]:
        notes = []
        if s["missing"]:
            notes.append("missing " + ", ".join(s["missing"]))
        if s["late"]:
            notes.append("late " + ", ".join(s["late"]))
        if s["replacements"]:
            notes.append(f"{s['replacements']} extract(s) replaced by corrections")
        span = f"{s['first']} to {s['last']}" if s["first"] else "nothing ingested"
        rows.append([Col(s["label"]), Col(str(s["extracts"]), numeric=True), Col(span),
                     Col("; ".join(notes) or "complete")])
    page.para("As of {as_of}.", as_of=Fixed(model["as_of"] or "no data yet"))
    page.table(["source", "extracts", "periods", "status"], rows, table_id="ek-sources")
    unmapped = model["quality"]["unmapped"]
    if unmapped:
        page.para(Phrase(("Offence types in the police data that the serious violence mapping "
                          f"({model['mapping_version']}) does not list; they are kept and counted as not serious "
                          "violence until the mapping says otherwise:").replace("{", "{{").replace("}", "}}")))
        page.table(["offence type", "records"], [[Col(t), Col(c, "records")] for t, c in unmapped],
                   table_id="ek-unmapped")
    else:
        page.para("Every offence type is in the serious violence mapping.")
