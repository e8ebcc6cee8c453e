"""What the dashboard draws, from the published (disclosure-controlled) dashboard data.

Called from the chunks of ``templates/dashboard.qmd``; each function returns Markdown with raw
HTML blocks (tiles, tables) and interactive plotly figures (plotly.js inlined once). Counts are
marked ``ek-count`` (HTML) or ``meta: ek-counts`` (figure traces) so the report's disclosure
scanner can check the rendered page.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

RAG_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", None: "#607d8b"}
CSS = """
<style>
.ek-tiles{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 16px}
.ek-tile{border-radius:8px;padding:10px 14px;min-width:190px;flex:1 1 190px;color:#fff;font-family:sans-serif}
.ek-tile .lbl{font-size:.8em;opacity:.9}.ek-tile .val{font-size:1.7em;font-weight:700;margin:4px 0}
.ek-tile .tgt{font-size:.8em}.ek-note{font-size:.85em;color:#455a64}
table.ek-table{border-collapse:collapse;font-size:.9em;margin:6px 0 14px}
table.ek-table td,table.ek-table th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}
.ek-suppressed{color:#888}
</style>
"""


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _raw(content: str) -> str:
    from evalkit.report.render import raw_block

    return raw_block(content)


def _e(text) -> str:
    return html.escape(str(text))


def _count(n, data) -> str:
    from evalkit.report.disclosure import Policy, count_html

    # a published count of None was suppressed by dashboard.publishable_values: show the mark
    return count_html(0 if n is None else int(n), n is None, Policy(threshold=data["disclosure"]["min_count"]))


def _fmt(value, measure: str, data, rate=None, rate_per=None) -> str:
    if measure == "proportion":
        return "[c]" if value is None else f"{value:.0%}"
    if measure == "mean":
        return "[c]" if value is None else f"{value:.1f}"
    text = _count(value, data)
    if rate is not None and rate_per:
        text += f' <span style="font-size:.55em">({rate:.2f} per {int(rate_per):,})</span>'
    return text


def _figure(fig) -> str:
    from evalkit.report.figures import figure_markdown

    return figure_markdown(fig, to="html")


def header(data: dict) -> str:
    return _raw(CSS + f'<p class="ek-note">Data up to {_e(data["as_of"])}. Counts from 1 to '
                      f'{data["disclosure"]["min_count"] - 1} are shown as [c] (suppressed), with other cells '
                      "suppressed where they would reveal one. Targets from the logic models; RAG: green on or better "
                      "than target, amber between target and the amber threshold, red beyond it.</p>")


def tiles(data: dict) -> str:
    out = ['<div class="ek-tiles">']
    for item in data["indicators"]:
        if item["success_measure"] or item["target"] is None:
            continue
        latest = item["latest"]
        colour = RAG_COLOURS.get(latest["rag"], RAG_COLOURS[None])
        target = item["target"]
        tgt = f"{target:.0%}" if item["measure"] == "proportion" else f"{target:g}"
        per = f" a {data.get('period_kind', 'month')}" if item["measure"] == "count" else ""
        default = " (amber: toolkit default, within 10%)" if item["amber_default"] else ""
        out.append(f'<div class="ek-tile" style="background:{colour}"><div class="lbl">{_e(item["intervention_name"])}'
                   f' &middot; {_e(latest["period"][:7])}</div><div class="lbl"><b>{_e(item["label"])}</b></div>'
                   f'<div class="val">{_fmt(latest["value"], item["measure"], data)}</div>'
                   f'<div class="tgt">target {tgt}{per}{default} &middot; {_e((latest["rag"] or "no status").upper())}'
                   "</div></div>")
    out.append("</div>")
    return _raw("".join(out))


def _trend_figure(item: dict, data: dict):
    import plotly.graph_objects as go

    s = item["series"]
    count = item["measure"] == "count"
    y = s["value"]
    fig = go.Figure()
    colours = [RAG_COLOURS.get(r, RAG_COLOURS[None]) for r in s["rag"]]
    fig.add_trace(go.Scatter(x=s["period"], y=y, mode="lines+markers", name=item["label"],
                             marker={"color": colours, "size": 9}, line={"color": "#37474f"},
                             meta="ek-counts" if count else None, connectgaps=False))
    if item["target"] is not None:
        fig.add_trace(go.Scatter(x=[s["period"][0], s["period"][-1]], y=[item["target"]] * 2, mode="lines",
                                 name="target", line={"color": RAG_COLOURS["green"], "dash": "dash"}))
        if item["amber"] is not None:
            fig.add_trace(go.Scatter(x=[s["period"][0], s["period"][-1]], y=[item["amber"]] * 2, mode="lines",
                                     name="amber from", line={"color": RAG_COLOURS["amber"], "dash": "dot"}))
    fig.update_layout(title=f"{item['intervention_name']}: {item['label']}", height=330,
                      margin={"l": 50, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h"},
                      yaxis={"tickformat": ".0%" if item["measure"] == "proportion" else None, "rangemode": "tozero"})
    return fig


def programme_trends(data: dict) -> str:
    return "\n".join(_figure(_trend_figure(i, data)) for i in data["indicators"] if not i["success_measure"])


def _variant(measure: dict, name: str = "all") -> dict | None:
    return next((v for v in measure["variants"] if v["variant"] == name), None)


def _rate(rate, per) -> str:
    return "[c]" if rate is None else f"{rate:.1f} per {int(per):,}"


def success_tiles(data: dict) -> str:
    """One tile per success measure: the latest year's count and rate, each variant beside it."""
    success = data["success"]
    out = [CSS, f'<p class="ek-note">Home Office success measures ({_e(success.get("version"))}); the local '
                f'definition of serious violence is {_e(success.get("sv_definition"))}. Counts for the year ending in '
                "the latest month; rates a year.</p>", '<div class="ek-tiles">']
    for m in success["measures"]:
        main = _variant(m)
        if main is None or not main["years"]:
            continue
        latest = main["years"][-1]
        prev = main["years"][-2] if len(main["years"]) > 1 else None
        change = ""
        if prev and latest["rate"] is not None and prev["rate"]:
            change = f"; {(latest['rate'] / prev['rate'] - 1):+.0%} on the year before"
        extra = []
        for v in m["variants"][1:]:
            if v["years"]:
                y = v["years"][-1]
                extra.append(f"{_e(v['words'])}: {_count(y['count'], data)} ({_rate(y['rate'], m['rate_per'])})")
        its = m.get("its") or {}
        level = ""
        if its.get("level_change"):
            lc = its["level_change"]
            level = (f"<br>level change at {_e(its['interruption'][:7])}: rate ratio {lc['estimate']:.2f} "
                     f"({lc['ci_low']:.2f} to {lc['ci_high']:.2f})")
        colour = "#5d4037" if m["local_definition"] else "#37474f"
        out.append(f'<div class="ek-tile" style="background:{colour}"><div class="lbl"><b>{_e(m["label"])}</b>'
                   f'</div><div class="lbl">year ending {_e(latest["to"][:7])}</div>'
                   f'<div class="val">{_count(latest["count"], data)}</div><div class="tgt">'
                   f'{_rate(latest["rate"], m["rate_per"])}{_e(change)}<br>{"<br>".join(extra)}{level}</div></div>')
    out.append("</div>")
    return _raw("".join(out))


def _success_figure(m: dict):
    import plotly.graph_objects as go

    per = int(m["rate_per"])
    fig = go.Figure()
    main = _variant(m)
    monthly = main.get("monthly") if main else None
    if monthly:
        fig.add_trace(go.Scatter(x=monthly["period"], y=monthly["rate"], mode="markers", name=f"monthly rate per {per:,}",
                                 marker={"color": "#546e7a", "size": 5}))
        fig.add_trace(go.Scatter(x=monthly["period"], y=[None if v is None else v / 12 for v in monthly["rolling_12m_rate"]],
                                 mode="lines", name="year-ending rate / 12", line={"color": "#6a1b9a", "width": 1}))
    for v in m["variants"]:
        pts = [y for y in v["years"] if y["rate"] is not None]
        if pts:
            fig.add_trace(go.Scatter(x=[y["to"] for y in pts], y=[y["rate"] / 12 for y in pts], mode="lines+markers",
                                     name=f"{v['words']}: year's rate / 12", line={"dash": "dot"}))
    its = m.get("its")
    if its:
        fig.add_trace(go.Scatter(x=its["period"], y=its["fitted_rate"], mode="lines", name="segmented trend (fitted)",
                                 line={"color": "#1565c0"}))
        cut = its["interruption"]
        post = [i for i, p in enumerate(its["period"]) if p >= cut]
        fig.add_trace(go.Scatter(x=[its["period"][i] for i in post], y=[its["counterfactual_rate"][i] for i in post],
                                 mode="lines", name="counterfactual (no change)", line={"color": "#c62828", "dash": "dash"}))
        fig.add_vline(x=cut, line={"color": "#999", "dash": "dot"})
    fig.update_layout(title=f"{m['label']} (rate per {per:,} a month)", height=360,
                      margin={"l": 50, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h"},
                      yaxis={"rangemode": "tozero"})
    return fig


def success_trends(data: dict) -> str:
    success = data["success"]
    parts = []
    its_info = success.get("its") or {}
    if its_info.get("plan"):
        f = its_info.get("data_file") or {}
        state = {"current": "the same data as its report", "stale": "NOT the data its report was run on: run "
                 "`evalkit monitor export` and `evalkit run` again", "missing": "its data file is not written yet: run "
                 "`evalkit monitor export`"}.get(f.get("status"), "")
        parts.append(_raw(f'<p class="ek-note">Trends fitted as the time series plan {_e(its_info["plan"])} fits them '
                          f"({_e(state)}).</p>"))
    if its_info.get("note"):
        parts.append(_raw(f'<p class="ek-note">{_e(its_info["note"])}</p>'))
    for m in success["measures"]:
        parts.append(_figure(_success_figure(m)))
        note = f"{_e(m['definition'])}"
        its = m.get("its")
        if its:
            note += f" Trend: {_e(its['method'])}."
            if its.get("slope_change_per_year"):
                sc = its["slope_change_per_year"]
                note += (f" Slope change: {sc['estimate']:.2f} a year ({sc['ci_low']:.2f} to {sc['ci_high']:.2f}),"
                         " as a rate ratio.")
        main = _variant(m)
        if main is not None and main.get("monthly") is None:
            note += " Monthly counts are not shown: some months are below the disclosure threshold; yearly totals are."
        parts.append(_raw(f'<p class="ek-note">{note}</p>'))
        if main and main["latest_by_area"]:
            rows = "".join(f"<tr><td>{_e(a['area'])}</td><td>{_count(a['count'], data)}</td>"
                           f"<td>{_rate(a['rate'], m['rate_per'])}</td></tr>" for a in main["latest_by_area"])
            parts.append(_raw(f'<table class="ek-table"><tr><th>area ({_e(main["years"][-1]["to"][:7])}, year)</th>'
                              f"<th>count</th><th>rate a year</th></tr>{rows}</table>"))
    return "\n".join(parts)


def _bar(title: str, x, y, *, counts: bool, horizontal: bool = False, ytitle: str | None = None):
    import plotly.graph_objects as go

    trace = go.Bar(y=x, x=y, orientation="h") if horizontal else go.Bar(x=x, y=y)
    trace.update(meta="ek-counts" if counts else None, marker={"color": "#455a64"}, name=title)
    fig = go.Figure(trace)
    fig.update_layout(title=title, height=320, margin={"l": 60, "r": 20, "t": 50, "b": 40},
                      yaxis={"title": ytitle} if ytitle and not horizontal else {},
                      xaxis={"title": ytitle} if ytitle and horizontal else {})
    return fig


def breakdowns(data: dict) -> str:
    parts = []
    labels = {f"{i['intervention']}/{i['indicator']}": i for i in data["indicators"]}
    for key, entry in data["breakdowns"].items():
        item = labels.get(key)
        if item is None:
            continue
        for breakdown in ("area", "age_band", "sex"):
            groups = entry.get(breakdown)
            if not groups:
                continue
            title = f"{item['label']} by {breakdown.replace('_', ' ')}, {entry['from'][:7]} to {entry['to'][:7]}"
            if all(g["n"] is None for g in groups):
                parts.append(_raw(f'<p class="ek-note"><b>{_e(title)}</b>: every group is suppressed (fewer than '
                                  f'{data["disclosure"]["min_count"]}, or would reveal one).</p>'))
                continue
            use_rate = any(g["rate"] is not None for g in groups)
            y = [g["rate"] if use_rate else g["n"] for g in groups]
            what = f"rate per {int(item['rate_per']):,} a year" if use_rate else "count"
            parts.append(_figure(_bar(f"{title} ({what})", [g["group"] for g in groups], y,
                                      counts=not use_rate, ytitle=what)))
    return "\n".join(parts) or _raw("<p>No breakdowns yet.</p>")


def _pct(v) -> str:
    return "[c]" if v is None else f"{v:.0%}"


def _change(v) -> str:
    return "[c]" if v is None else f"{v:+.0%}"


def _pct2(v) -> str:
    return "[c]" if v is None else f"{v:.2%}"


def _counts_bar(title: str, rows: list, key: str, *, horizontal: bool = False, label=None):
    return _figure(_bar(title, [label(r[key]) if label else r[key] for r in rows], [r["n"] for r in rows],
                        counts=True, horizontal=horizontal))


def _grouped(title: str, series: dict, key: str):
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(x=[r[key] for r in rows], y=[r["n"] for r in rows], name=name, meta="ek-counts")
                     for name, rows in series.items() if rows])
    fig.update_layout(title=title, barmode="group", height=320, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return _figure(fig)


def profile(data: dict) -> str:
    prof = data.get("profile") or {}
    if not prof:
        return _raw("<p>No police records ingested yet.</p>")
    s = prof["summary"]
    tiles_ = [("Serious violence offences", _count(s["serious_violence"], data)),
              ("Domestic abuse", _pct(s["share_domestic"])),
              ("Knife or sharp object", _pct(s["share_knife"])),
              ("In a public place", _pct(s["share_public_place"])),
              ("Public-place violence in the night-time economy", _pct(s["share_public_night_time_economy"])),
              ("Peak hour", "-" if s["peak_hour"] is None else f"{s['peak_hour']:02d}:00"),
              ("Peak day", _e(s["peak_day"] or "-"))]
    for who, words in (("victim", "Residents who were a victim"), ("suspect", "Residents who were a suspect")):
        if f"share_residents_{who}" in s:
            tiles_.append((f"{words} (12 months)", _pct2(s[f"share_residents_{who}"])))
    out = [_raw(CSS + f'<p class="ek-note">Police-recorded serious violence, {s["from"]} to {s["to"]}, local '
                      f'definition {_e(s["mapping_version"])}. Public place: the recorded location type; the night-time '
                      "economy share is of public-place serious violence. Residents: distinct (pseudonymised) people "
                      'living in the partnership area, as a share of its population.</p><div class="ek-tiles">'
                + "".join(f'<div class="ek-tile" style="background:#455a64"><div class="lbl">{_e(a)}</div>'
                          f'<div class="val">{b}</div></div>' for a, b in tiles_) + "</div>")]
    out.append(_counts_bar("Offences by hour of day", prof["by_hour"], "hour"))
    out.append(_counts_bar("Offences by day of week", prof["by_day"], "day_name"))
    out.append(_figure(_bar("Offences per 100,000 residents by area of offence", [r["area"] for r in prof["by_area"]],
                            [r.get("rate_per_100000") for r in prof["by_area"]], counts=False, horizontal=True)))
    for who in ("victim", "suspect"):
        rows = prof.get(f"{who}s_by_residence")
        if rows:
            out.append(_figure(_bar(f"{who.capitalize()}s per 100,000 residents by area of residence (distinct people)",
                                    [r["area"] for r in rows], [r.get("rate_per_100000") for r in rows], counts=False,
                                    horizontal=True)))
    out.append(_counts_bar("Offences by category", prof["by_category"], "sv_category", horizontal=True,
                           label=lambda c: str(c).replace("_", " ")))
    if prof.get("year_on_year"):
        rows = "".join(f"<tr><td>{_e(str(r['sv_category']).replace('_', ' '))}</td><td>{_count(r['n_previous'], data)}"
                       f"</td><td>{_count(r['n'], data)}</td><td>{_change(r['change'])}"
                       "</td></tr>" for r in prof["year_on_year"])
        out.append(_raw(f'<p><b>Change on the previous 12 months ({_e(s.get("previous_from") or "")} on), by category'
                        f'</b></p><table class="ek-table"><tr><th>category</th><th>previous 12 months</th>'
                        f"<th>last 12 months</th><th>change</th></tr>{rows}</table>"))
    out.append(_grouped("Ages of victims and suspects", {"victims": prof.get("victim_ages"),
                                                          "suspects": prof.get("suspect_ages")}, "age_band"))
    out.append(_grouped("Sex of victims and suspects", {"victims": prof.get("victim_sex"),
                                                         "suspects": prof.get("suspect_sex")}, "sex"))
    for sid, h in (prof.get("health") or {}).items():
        out.append(_raw(f'<p><b>{_e(h["label"])}</b>, {_e(h["from"])} to {_e(h["to"])}: {_count(h["n"], data)} '
                        "in all.</p>"))
        for name, key, title in (("by_category", "category", "by category"), ("by_cause", "cause", "by cause (ICD-10)"),
                                 ("sharp_by_place", "place", "assaults by sharp object, by place of occurrence"),
                                 ("by_weapon", "weapon", "by weapon"), ("by_location", "location", "by location"),
                                 ("by_hour", "hour", "by hour of day"), ("by_age", "age_band", "by age"),
                                 ("by_sex", "sex", "by sex"), ("by_area", "area", "by area")):
            if h.get(name):
                out.append(_counts_bar(f"{h['label']} {title}", h[name], key, horizontal=name in ("by_area",)))
    return "\n".join(out)


def quality(data: dict) -> str:
    rows = []
    for s in data["quality"]["sources"]:
        notes = []
        if s["missing"]:
            notes.append("missing " + ", ".join(s["missing"]))
        if s["late"]:
            notes.append("late " + ", ".join(s["late"]))
        if s["replacements"]:
            notes.append(f"{s['replacements']} extract(s) replaced by corrections")
        span = f"{s['first']} to {s['last']}" if s["first"] else "nothing ingested"
        status = "; ".join(notes) or "complete"
        colour = "#c62828" if s["missing"] or s["late"] else "#2e7d32"
        rows.append(f"<tr><td>{_e(s['label'])}</td><td>{s['extracts']}</td><td>{_e(span)}</td>"
                    f'<td style="color:{colour}">{_e(status)}</td></tr>')
    table = ('<table class="ek-table"><tr><th>source</th><th>extracts</th><th>periods</th><th>status</th></tr>'
             + "".join(rows) + "</table>")
    unmapped = data["quality"]["unmapped"]
    if unmapped:
        um = ("<p>Offence types in the police data that the serious violence mapping "
              f"({_e(data['mapping_version'])}) does not list; they are kept and counted as not serious violence "
              "until the mapping says otherwise:</p><table class=\"ek-table\"><tr><th>offence type</th><th>records</th>"
              "</tr>" + "".join(f"<tr><td>{_e(u['offence_type'])}</td><td>{_count(u['n'], data)}</td></tr>"
                                for u in unmapped) + "</table>")
    else:
        um = "<p>Every offence type is in the serious violence mapping.</p>"
    return _raw(CSS + f"<p>As of {_e(data['as_of'])}.</p>" + table + um)
