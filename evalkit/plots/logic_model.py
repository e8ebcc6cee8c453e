"""A logic model (theory of change) drawn as a static SVG, straight from its nodes and links.

Nodes are placed in layers by the longest path from the activities (a cycle just stops growing),
each layer a column, left to right; the evaluated outcomes are highlighted. Works offline, in
HTML and in PDF; every label is XML-escaped, so a label holding markup is drawn as text.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Mapping, Sequence

PLAIN = {"fill": "#eef2f7", "stroke": "#6b7a90", "width": "1.2"}
EVALUATED = {"fill": "#fde68a", "stroke": "#b45309", "width": "3"}


def _layers(ids: Sequence[str], links: Sequence[tuple[str, str]]) -> dict[str, int]:
    layer = {n: 0 for n in ids}
    for _ in range(len(ids)):
        changed = False
        for a, b in links:
            if a != b and layer[b] < layer[a] + 1 and layer[a] + 1 < len(ids):
                layer[b] = layer[a] + 1
                changed = True
        if not changed:
            break
    return layer


def logic_model_svg(nodes: Sequence[Mapping], links: Sequence[Sequence[str]], highlighted: set[str],
                    *, max_chars: int = 24) -> str:
    """``nodes``: {"id", "label", "kind"}; ``links``: [cause, effect]; ``highlighted``: node ids."""
    ids = [str(n["id"]) for n in nodes]
    known = set(ids)
    edges = [(str(a), str(b)) for a, b in links if a in known and b in known]
    layer = _layers(ids, edges)
    font, line_h, pad, gap_major, gap_minor = 13, 16, 10, 60, 18
    boxes = {}
    for n in nodes:
        text = f"{str(n.get('kind') or '').capitalize()}: {n.get('label') or n['id']}"
        wrapped = textwrap.wrap(text.replace("\n", " "), max_chars) or [""]
        width = max(len(w) for w in wrapped) * font * 0.58 + 2 * pad
        boxes[str(n["id"])] = {"lines": wrapped, "w": max(width, 60), "h": len(wrapped) * line_h + 2 * pad}
    columns = [[i for i in ids if layer[i] == k] for k in range(max(layer.values(), default=0) + 1)]
    col_w = [max((boxes[i]["w"] for i in col), default=0) for col in columns]
    spans = [sum(boxes[i]["h"] for i in col) + gap_minor * (len(col) - 1) for col in columns]
    total = max(spans, default=0)
    pos = {}
    x = 10.0
    for k, col in enumerate(columns):
        y = 10 + (total - spans[k]) / 2
        for i in col:
            pos[i] = (x + (col_w[k] - boxes[i]["w"]) / 2, y)
            y += boxes[i]["h"] + gap_minor
        x += col_w[k] + gap_major
    width, height = x - gap_major + 10, total + 20
    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ek-diagram ek-logic-model" role="img" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
           f'style="max-width:100%;height:auto;font-family:system-ui,sans-serif">',
           '<defs><marker id="ek-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for a, b in edges:
        (ax, ay), (bx, by) = pos[a], pos[b]
        ba, bb = boxes[a], boxes[b]
        x1, y1 = (ax + ba["w"], ay + ba["h"] / 2) if bx >= ax else (ax, ay + ba["h"] / 2)
        x2, y2 = (bx, by + bb["h"] / 2) if bx >= ax else (bx + bb["w"], by + bb["h"] / 2)
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#555" '
                   'stroke-width="1.3" marker-end="url(#ek-arrow)"/>')
    for i in ids:
        style = EVALUATED if i in highlighted else PLAIN
        (x0, y0), b = pos[i], boxes[i]
        cls = "ek-node evaluated" if i in highlighted else "ek-node"
        out.append(f'<g class="{cls}" data-id="{esc(i, quote=True)}"><rect x="{x0:.1f}" y="{y0:.1f}" '
                   f'width="{b["w"]:.1f}" height="{b["h"]:.1f}" rx="4" fill="{style["fill"]}" '
                   f'stroke="{style["stroke"]}" stroke-width="{style["width"]}"/>')
        for k, line in enumerate(b["lines"]):
            ty = y0 + pad + (k + 0.8) * line_h
            out.append(f'<text x="{x0 + b["w"] / 2:.1f}" y="{ty:.1f}" font-size="{font}" text-anchor="middle" '
                       f'fill="#111">{esc(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
