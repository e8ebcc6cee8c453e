"""How a typed value is written into each output: Markdown, HTML, SVG; every one marked for the scan.

Every value carries its cells (``data-ek-cell``, ``data-ek-of``) and its decision
(``data-ek-status``), so :mod:`evalkit.publish.scan` can read the published page back, rebuild
what a reader knows and check it, without trusting the code that wrote it. The marks hold no
values, only cell numbers.
"""

from __future__ import annotations

import html

from evalkit.publish.text import md_text
from evalkit.publish.values import Count, Value


class Sink:
    """The cells a page shows (its disclosure map lists the links between them)."""

    def __init__(self):
        self.cells: set[int] = set()

    def add(self, value: Value) -> None:
        self.cells.update(value.cells())


def _attrs(v: Value) -> dict[str, str]:
    status = v.status
    if isinstance(v, Count):
        return {"class": "ek-count", "ek-cell": str(v.cell.id), "ek-status": status}
    of = " ".join(str(c) for c in v.cells())
    return {"class": f"ek-{v.kind}", "ek-of": of, "ek-status": status}


def md(v: Value, sink: Sink | None, *, prose: bool = True) -> str:
    """A bracketed span Pandoc turns into ``<span class=... data-ek-...>`` (plain text in Typst)."""
    if sink is not None:
        sink.add(v)
    text = v.text() if prose else v.table_text()
    a = _attrs(v)
    if not v.cells() and v.kind == "fixed":
        return md_text(text)
    extra = " ".join(f'{k}="{html.escape(val, quote=True)}"' for k, val in a.items() if k != "class")
    return f"[{md_text(text)}]{{.{a['class']} {extra}}}"


def html_value(v: Value, sink: Sink | None, *, prose: bool = False) -> str:
    if sink is not None:
        sink.add(v)
    text = v.text() if prose else v.table_text()
    a = _attrs(v)
    if not v.cells() and v.kind == "fixed":
        return html.escape(text)
    attrs = f'class="{a["class"]}"' + "".join(
        f' data-{k}="{html.escape(val, quote=True)}"' for k, val in a.items() if k != "class")
    return f"<span {attrs}>{html.escape(text)}</span>"


def svg_value(v: Value, sink: Sink | None, *, prose: bool = False) -> str:
    """A ``<tspan>`` for SVG text; ``prose``: a small count reads "fewer than 5", not the mark."""
    if sink is not None:
        sink.add(v)
    if prose:
        a = _attrs(v)
        attrs = f'class="{a["class"]}"' + "".join(
            f' data-{k}="{html.escape(val, quote=True)}"' for k, val in a.items() if k != "class")
        return f"<tspan {attrs}>{html.escape(v.text())}</tspan>"
    a = _attrs(v)
    attrs = f'class="{a["class"]}"' + "".join(
        f' data-{k}="{html.escape(val, quote=True)}"' for k, val in a.items() if k != "class")
    return f"<tspan {attrs}>{html.escape(v.table_text())}</tspan>"


def plot_meta(values, sink: Sink | None) -> dict:
    """The ``meta`` of a figure trace whose points are these values (the scan reads it)."""
    out = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        if sink is not None:
            sink.add(v)
        out.append({"cells": list(v.cells()), "status": v.status, "kind": v.kind})
    return {"ek": out}
