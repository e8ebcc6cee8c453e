"""The dashboard's area and period filters: offline, in the one self-contained HTML file.

Nothing is fetched: plotly.js is inlined by the renderer, the filter script below is fixed text
written by evalkit (it holds no data), and the data it switches between are plotly traces the
page already carries, each with its cells (``meta.ek``) so the disclosure scan checks every
area's points like any other (a withheld area-month is a gap, never a value).

- **Area**: each programme indicator's trend has one hidden trace per area (the area's monthly
  counts, linked in the ledger to the month's total); choosing an area shows those traces and
  hides the whole-area ones. Indicators without area series keep the whole-area trace and say so.
- **Period**: from/to months set the time axis of every dated chart (trends, XmR charts,
  success measures). The XmR limits stay those of the whole series: the filter zooms, it does
  not recompute (limits recalculated only at declared step changes).
"""

from __future__ import annotations

from evalkit.monitor.figure_parts import NEUTRAL, TrendSpec, _e

FILTER_HTML = """<div id="ek-filters" class="ek-filters" role="group" aria-label="Filters">
<label>Area <select id="ek-area"><option value="">All areas</option></select></label>
<label>From <select id="ek-from"></select></label>
<label>To <select id="ek-to"></select></label>
<button type="button" id="ek-reset">Reset</button>
<span class="ek-filter-note" id="ek-filter-note">Area: a trend with an area series switches to it (without the whole
area's target); proportions, success measures and XmR charts stay whole-area. Period: every dated chart zooms to
the months chosen; XmR limits stay those of the whole series. The tiles show the latest month for the whole
area.</span>
</div>
<script>
(function () {
  function plots() { return Array.prototype.slice.call(document.querySelectorAll('.js-plotly-plot')); }
  function month(x) { return (typeof x === 'string' && /^\\d{4}-\\d{2}/.test(x)) ? x.slice(0, 7) : null; }
  function dated(gd) {
    return (gd.data || []).some(function (t) { return t.x && t.x.length && month(t.x[0]) !== null; });
  }
  function option(sel, value, text) {
    var o = document.createElement('option'); o.value = value; o.textContent = text; sel.appendChild(o);
  }
  function shift(m, days) {
    var d = new Date(m + '-01T00:00:00Z'); d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }
  var area, from, to, months = [];
  function apply() {
    var a = area.value, f = from.value, t = to.value;
    if (f > t) { var x = f; f = t; t = x; }
    plots().forEach(function (gd) {
      var vis = [], idx = [], any = false;
      (gd.data || []).forEach(function (tr, i) {
        var m = tr.meta || {};
        if (m.ek_area !== undefined) { vis.push(m.ek_area === a); idx.push(i); any = true; }
        else if (m.ek_all) { vis.push(a === '' || !m.ek_has_areas); idx.push(i); any = true; }
      });
      if (any) { window.Plotly.restyle(gd, {visible: vis}, idx); }
      if (dated(gd)) {
        var full = (f === months[0] && t === months[months.length - 1]);
        window.Plotly.relayout(gd, full ? {'xaxis.autorange': true} : {'xaxis.range': [shift(f, -15), shift(t, 15)]});
      }
    });
  }
  function init() {
    area = document.getElementById('ek-area'); from = document.getElementById('ek-from');
    to = document.getElementById('ek-to');
    if (!area || !window.Plotly) { return; }
    var areas = {}, seen = {};
    plots().forEach(function (gd) {
      (gd.data || []).forEach(function (tr) {
        if (tr.meta && tr.meta.ek_area !== undefined) { areas[tr.meta.ek_area] = 1; }
        (tr.x || []).forEach(function (x) { var m = month(x); if (m) { seen[m] = 1; } });
      });
      window.Plotly.Plots.resize(gd);  // laid out in their final width
    });
    Object.keys(areas).sort().forEach(function (a) { option(area, a, a); });
    months = Object.keys(seen).sort();
    months.forEach(function (m) { option(from, m, m); option(to, m, m); });
    if (!months.length) { return; }
    from.value = months[0]; to.value = months[months.length - 1];
    [area, from, to].forEach(function (s) { s.addEventListener('change', apply); });
    document.getElementById('ek-reset').addEventListener('click', function () {
      area.value = ''; from.value = months[0]; to.value = months[months.length - 1]; apply();
    });
  }
  if (document.readyState === 'complete') { init(); } else { window.addEventListener('load', init); }
})();
</script>"""


def filter_block():
    """The filter bar and its script, as a block of the page (HTML only; fixed text, no data)."""
    from evalkit.publish.document import Markdown, raw

    return Markdown(raw(FILTER_HTML))


class AreaTrendSpec(TrendSpec):
    """The RAG trend with one hidden trace per area, for the area filter."""

    def __init__(self, item: dict, areas: dict | None):
        super().__init__(item)
        self.areas = areas or {}

    def plotly(self, sink):
        import plotly.graph_objects as go

        from evalkit.publish.markup import plot_meta

        fig = super().plotly(sink)
        main = fig.data[0]
        meta = dict(main.meta or {})
        meta.update({"ek_all": True, "ek_has_areas": bool(self.areas)})
        main.meta = meta
        for trace in fig.data[1:]:  # the whole area's target lines: not an area's target
            trace.meta = {"ek_all": True, "ek_has_areas": bool(self.areas)}
        x = self.item["series"]["period"]
        for area, values in self.areas.items():
            y = [v.plot() if v is not None else None for v in values]
            m = plot_meta(values, sink)
            m["ek_area"] = area
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=_e(area), visible=False, meta=m,
                                     marker={"color": NEUTRAL, "size": 7}, line={"color": "#37474f"},
                                     connectgaps=False))
        return fig


def trend_spec(item: dict, model: dict):
    key = f"{item['intervention']}/{item['indicator']}"
    return AreaTrendSpec(item, (model.get("areas") or {}).get(key))
