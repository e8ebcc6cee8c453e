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


def success_tiles(data: dict) -> str:
    out = [CSS, '<div class="ek-tiles">']
    for item in data["indicators"]:
        if not item["success_measure"]:
            continue
        roll = data["success"].get(item["indicator"], {}).get("rolling", {})
        n = (roll.get("n") or [None])[-1]
        rate = (roll.get("rate") or [None])[-1]
        prev_rate = roll["rate"][-13] if len(roll.get("rate", [])) >= 13 else None
        change = ""
        if rate is not None and prev_rate:
            change = f"{(rate / prev_rate - 1):+.0%} on the year before"
        its = data["success"].get(item["indicator"], {}).get("its")
        level = ""
        if its and its.get("level_change"):
            lc = its["level_change"]
            level = (f"<br>level change at {its['interruption'][:7]}: rate ratio {lc['estimate']:.2f} "
                     f"({lc['ci_low']:.2f} to {lc['ci_high']:.2f})")
        rate_text = "[c]" if rate is None else f"{rate:.1f} per {int(item['rate_per']):,}"
        out.append(f'<div class="ek-tile" style="background:#37474f"><div class="lbl"><b>{_e(item["label"])}</b>'
                   f'</div><div class="lbl">year ending {_e(roll.get("period", ["?"])[-1][:7])}</div>'
                   f'<div class="val">{_count(n, data)}</div><div class="tgt">{rate_text} a year; {_e(change)}'
                   f"{level}</div></div>")
    out.append("</div>")
    return _raw("".join(out))


def _success_figure(item: dict, success: dict):
    import plotly.graph_objects as go

    s = item["series"]
    its = success.get("its")
    per = int(item["rate_per"])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=s["period"], y=s["rate"], mode="markers", name=f"monthly rate per {per:,}",
                             marker={"color": "#546e7a", "size": 5}))
    if its:
        fig.add_trace(go.Scatter(x=its["period"], y=its["fitted_rate"], mode="lines", name="segmented trend (fitted)",
                                 line={"color": "#1565c0"}))
        cut = its["interruption"]
        post = [i for i, p in enumerate(its["period"]) if p >= cut]
        fig.add_trace(go.Scatter(x=[its["period"][i] for i in post], y=[its["counterfactual_rate"][i] for i in post],
                                 mode="lines", name="counterfactual (no change)", line={"color": "#c62828", "dash": "dash"}))
        fig.add_vline(x=cut, line={"color": "#999", "dash": "dot"})
    roll = success.get("rolling", {})
    if roll and any(v is not None for v in roll["rate"]):
        fig.add_trace(go.Scatter(x=roll["period"], y=[None if v is None else v / 12 for v in roll["rate"]],
                                 mode="lines", name="year-ending rate / 12", line={"color": "#6a1b9a", "width": 1}))
    fig.update_layout(title=f"{item['label']} (rate per {per:,} a month)", height=360,
                      margin={"l": 50, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h"},
                      yaxis={"rangemode": "tozero"})
    return fig


def success_trends(data: dict) -> str:
    parts = []
    for item in data["indicators"]:
        if not item["success_measure"]:
            continue
        success = data["success"].get(item["indicator"], {})
        parts.append(_figure(_success_figure(item, success)))
        its = success.get("its")
        if its:
            note = f"Trend: {_e(its['method'])}."
            if its.get("slope_change_per_year"):
                sc = its["slope_change_per_year"]
                note += (f" Slope change: {sc['estimate']:.2f} a year ({sc['ci_low']:.2f} to {sc['ci_high']:.2f}),"
                         " as a rate ratio.")
            note += " Months with fewer than the disclosure threshold are not plotted."
            parts.append(_raw(f'<p class="ek-note">{note}</p>'))
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


def profile(data: dict) -> str:
    prof = data.get("profile") or {}
    if not prof:
        return _raw("<p>No police records ingested yet.</p>")
    s = prof["summary"]
    tiles_ = [("Serious violence offences", _count(s["serious_violence"], data)),
              ("Domestic abuse", f"{s['share_domestic']:.0%}"),
              ("Night-time economy", f"{s['share_night_time_economy']:.0%}"),
              ("Knife or sharp object", f"{s['share_knife']:.0%}"),
              ("Peak hour", f"{s['peak_hour']:02d}:00"), ("Peak day", _e(s["peak_day"]))]
    out = [_raw(CSS + f'<p class="ek-note">Police-recorded serious violence, {s["from"]} to {s["to"]}, local '
                      f'definition {_e(s["mapping_version"])}.</p><div class="ek-tiles">'
                + "".join(f'<div class="ek-tile" style="background:#455a64"><div class="lbl">{_e(a)}</div>'
                          f'<div class="val">{b}</div></div>' for a, b in tiles_) + "</div>")]
    out.append(_figure(_bar("Offences by hour of day", [r["hour"] for r in prof["by_hour"]],
                            [r["n"] for r in prof["by_hour"]], counts=True)))
    out.append(_figure(_bar("Offences by day of week", [r["day_name"] for r in prof["by_day"]],
                            [r["n"] for r in prof["by_day"]], counts=True)))
    out.append(_figure(_bar("Rate per 100,000 by area", [r["area"] for r in prof["by_area"]],
                            [r.get("rate_per_100000") for r in prof["by_area"]], counts=False, horizontal=True)))
    out.append(_figure(_bar("Offences by category", [r["sv_category"].replace("_", " ") for r in prof["by_category"]],
                            [r["n"] for r in prof["by_category"]], counts=True, horizontal=True)))
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(x=[r["age_band"] for r in prof["victim_ages"]], y=[r["n"] for r in prof["victim_ages"]],
                            name="victims", meta="ek-counts"),
                     go.Bar(x=[r["age_band"] for r in prof["suspect_ages"]], y=[r["n"] for r in prof["suspect_ages"]],
                            name="suspects", meta="ek-counts")])
    fig.update_layout(title="Ages of victims and suspects", barmode="group", height=320,
                      margin={"l": 60, "r": 20, "t": 50, "b": 40})
    out.append(_figure(fig))
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
