"""Pieces every dashboard figure shares: RAG colours, the RAG word, escaped and wrapped titles, the trend.

Their own module so that the page builder (:mod:`evalkit.monitor.charts`), the offline filters
(:mod:`evalkit.monitor.interactive`) and the XmR charts (:mod:`evalkit.monitor.spc_dashboard`)
import them without importing each other.
"""

from __future__ import annotations

import html
import textwrap

from evalkit.publish.markup import plot_meta
from evalkit.publish.values import Derived

RAG_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", None: "#607d8b"}
NEUTRAL = "#90a4ae"


class RagWord(Derived):
    """The RAG status of a value, in words: withheld with its value (the band would tell the value)."""

    def __init__(self, rag: str | None, value):
        super().__init__((rag or "no status").upper(), [value])

    def mark(self) -> str:
        return "status not shown (value suppressed)"


def _e(text) -> str:
    return html.escape(str(text))


def wrapped_title(text: str, width: int = 42) -> str:
    """A figure title escaped and broken into lines (plotly does not wrap titles; a long one runs off)."""
    return "<br>".join(_e(line) for line in textwrap.wrap(str(text), width)) or _e(text)


class TrendSpec:
    """A programme indicator month by month, markers coloured by RAG (none for a hidden value)."""

    def __init__(self, item: dict):
        self.item = item

    def plotly(self, sink):
        import plotly.graph_objects as go

        item, s = self.item, self.item["series"]
        y = [v.plot() if v is not None else None for v in s["value"]]
        colours = [NEUTRAL if (v is None or v.hidden) else RAG_COLOURS.get(r, RAG_COLOURS[None])
                   for v, r in zip(s["value"], s["rag"])]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=s["period"], y=y, mode="lines+markers", name=_e(item["label"]),
                                 marker={"color": colours, "size": 9}, line={"color": "#37474f"},
                                 meta=plot_meta(s["value"], sink), connectgaps=False))
        if item["target"] is not None:
            fig.add_trace(go.Scatter(x=[s["period"][0], s["period"][-1]], y=[item["target"]] * 2, mode="lines",
                                     name="target", line={"color": RAG_COLOURS["green"], "dash": "dash"}))
            if item["amber"] is not None:
                fig.add_trace(go.Scatter(x=[s["period"][0], s["period"][-1]], y=[item["amber"]] * 2, mode="lines",
                                         name="amber from", line={"color": RAG_COLOURS["amber"], "dash": "dot"}))
        title = wrapped_title(f"{item['intervention_name']}: {item['label']}")
        lines = title.count("<br>") + 1
        fig.update_layout(title={"text": title, "y": 0.98, "yanchor": "top"}, height=310 + 22 * lines,
                          margin={"l": 50, "r": 20, "t": 28 + 22 * lines, "b": 40}, legend={"orientation": "h"},
                          yaxis={"tickformat": ".0%" if item["measure"] == "proportion" else None,
                                 "rangemode": "tozero"})
        return fig

    def matplotlib(self):
        return None
