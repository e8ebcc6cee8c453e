"""CONSORT-style participant flow as a static SVG (works offline, in HTML and in PDF).

The report layer decides what each count shows (a number, or ``[c]`` when suppressed) and hands
each as SVG mark-up (:func:`evalkit.publish.markup.svg_value`: a ``<tspan>`` carrying its cell for
the disclosure scan); this module only draws.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    title: str
    count: str  # SVG mark-up of the count, e.g. "n = <tspan ...>254</tspan>" (already escaped and marked)
    side_title: str | None = None  # the people lost between this box and the next
    side_count: str | None = None  # SVG mark-up


def flow_svg(columns: Sequence[tuple[str, Sequence[Box]]]) -> str:
    box_w, box_h, side_w, side_h, gap_y, gap_x = 210, 50, 170, 40, 56, 40
    col_w = box_w + side_w + 30
    n_rows = max((len(boxes) for _t, boxes in columns), default=0)
    has_title = any(t for t, _b in columns)
    top = 34 if has_title else 8
    width = len(columns) * col_w + (len(columns) - 1) * gap_x + 20
    height = top + n_rows * (box_h + gap_y) + 10
    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ek-flow" role="img" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" style="max-width:100%;height:auto;font-family:system-ui,sans-serif">',
           '<defs><marker id="ek-flow-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for c, (title, boxes) in enumerate(columns):
        x0 = 10 + c * (col_w + gap_x)
        if title:
            out.append(f'<text x="{x0 + box_w / 2}" y="20" font-size="14" font-weight="bold" '
                       f'text-anchor="middle">{esc(title)}</text>')
        for r, box in enumerate(boxes):
            y = top + r * (box_h + gap_y)
            out.append(f'<rect x="{x0}" y="{y}" width="{box_w}" height="{box_h}" rx="4" fill="#eef2f7" stroke="#6b7a90"/>')
            out.append(f'<text x="{x0 + box_w / 2}" y="{y + 20}" font-size="12.5" text-anchor="middle">{esc(box.title)}</text>')
            out.append(f'<text x="{x0 + box_w / 2}" y="{y + 38}" font-size="13" font-weight="bold" text-anchor="middle">'
                       f'{box.count}</text>')
            if r + 1 < len(boxes):
                out.append(f'<line x1="{x0 + box_w / 2}" y1="{y + box_h}" x2="{x0 + box_w / 2}" '
                           f'y2="{y + box_h + gap_y}" stroke="#555" marker-end="url(#ek-flow-arrow)"/>')
            if box.side_title is not None:
                sy = y + box_h + (gap_y - side_h) / 2
                sx = x0 + box_w + 30
                out.append(f'<line x1="{x0 + box_w / 2}" y1="{sy + side_h / 2}" x2="{sx}" y2="{sy + side_h / 2}" '
                           f'stroke="#555" marker-end="url(#ek-flow-arrow)"/>')
                out.append(f'<rect x="{sx}" y="{sy}" width="{side_w}" height="{side_h}" rx="3" fill="#fff7ed" '
                           f'stroke="#d9822b"/>')
                out.append(f'<text x="{sx + side_w / 2}" y="{sy + 16}" font-size="11.5" text-anchor="middle">'
                           f'{esc(box.side_title)}</text>')
                out.append(f'<text x="{sx + side_w / 2}" y="{sy + 32}" font-size="12" text-anchor="middle">'
                           f'{box.side_count or "-"}</text>')
    out.append("</svg>")
    return "\n".join(out)
