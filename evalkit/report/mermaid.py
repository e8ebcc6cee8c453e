"""A small offline renderer for the Mermaid flowcharts evalkit writes (logic models, flows).

Quarto draws ``{mermaid}`` blocks itself with mermaid.js. The Pandoc path has no JavaScript
engine and no network, so it draws the subset of flowchart syntax evalkit uses as a static SVG:
``flowchart LR|TD``, nodes ``id["label"]`` / ``id(label)`` / ``id{label}``, edges ``a --> b``
(also ``---``, ``-.->``, ``==>``, with ``|text|``), ``classDef``, ``class a,b name``,
``a:::name`` and ``style a fill:...``. Anything else raises :class:`MermaidUnsupported`; the
caller then shows the source as a clearly labelled text fallback. Every label is XML-escaped,
so a label holding markup is drawn as text.
"""

from __future__ import annotations

import html
import re
import textwrap

__all__ = ["MermaidUnsupported", "mermaid_to_svg", "mermaid_text"]


class MermaidUnsupported(ValueError):
    """The diagram uses Mermaid syntax this renderer does not draw."""


_NODE = re.compile(r"([A-Za-z_][\w-]*)(?:(\[\(|\(\[|\[\[|\(\(|\[|\(|\{)(\"[^\"]*\"|[^\]\)\}]*)(\)\]|\]\)|\]\]|\)\)|\]|\)|\}))?(?::::([\w-]+))?")
_EDGE = re.compile(r"\s*(-->|---|-\.->|==>|-\.-|===)\s*(?:\|([^|]*)\|\s*)?")
_ENTITY = re.compile(r"#(\w+);")


def _label(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"'):
        raw = raw[1:-1]
    # Mermaid entity codes (#quot; #lt; #35;) decode to the characters they stand for
    def repl(m):
        code = m.group(1)
        if code.isdigit():
            return chr(int(code))
        return html.unescape(f"&{code};")
    text = _ENTITY.sub(repl, raw)
    return text.replace("<br>", "\n").replace("<br/>", "\n")


def _parse_style(spec: str) -> dict[str, str]:
    out = {}
    for part in spec.split(","):
        if ":" in part:
            k, v = part.split(":", 1)
            out[k.strip()] = v.strip().rstrip(";")
    return out


def parse(source: str):
    lines = [ln.strip() for ln in source.strip().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("%%")]
    if not lines:
        raise MermaidUnsupported("empty diagram")
    head = lines[0].split()
    if head[0] not in ("flowchart", "graph"):
        raise MermaidUnsupported(f"only flowcharts are drawn offline, not {head[0]!r}")
    direction = head[1] if len(head) > 1 else "TD"
    if direction not in ("LR", "RL", "TD", "TB", "BT"):
        raise MermaidUnsupported(f"direction {direction!r}")
    nodes: dict[str, dict] = {}
    edges: list[tuple[str, str, str, str]] = []
    class_defs: dict[str, dict[str, str]] = {}

    def entry(nid: str) -> dict:
        return nodes.setdefault(nid, {"label": nid, "classes": [], "style": {}, "shape": "rect"})

    def node(m) -> str:
        nid, _o, lab, _c, cls = m.groups()
        n = entry(nid)
        if lab is not None and _o is not None:
            n["label"] = _label(lab)
            n["shape"] = {"(": "round", "{": "diamond", "([": "round", "((": "round"}.get(_o, "rect")
        if cls:
            n["classes"].append(cls)
        return nid

    for ln in lines[1:]:
        ln = ln.rstrip(";")
        if ln.startswith("classDef "):
            _, name, spec = ln.split(None, 2)
            class_defs[name] = _parse_style(spec)
            continue
        if ln.startswith("class "):
            _, ids, name = ln.split(None, 2)
            for nid in ids.split(","):
                entry(nid.strip())["classes"].append(name.strip())
            continue
        if ln.startswith("style "):
            _, nid, spec = ln.split(None, 2)
            entry(nid)["style"].update(_parse_style(spec))
            continue
        if ln.startswith("click"):
            continue  # never follow links or callbacks from a diagram
        if ln == "end" or ln.startswith(("subgraph", "direction", "linkStyle")):
            raise MermaidUnsupported(f"statement not drawn offline: {ln.split()[0]}")
        pos = 0
        m = _NODE.match(ln, pos)
        if not m:
            raise MermaidUnsupported(f"cannot read {ln!r}")
        prev = node(m)
        pos = m.end()
        while pos < len(ln):
            e = _EDGE.match(ln, pos)
            if not e:
                raise MermaidUnsupported(f"cannot read {ln!r}")
            pos = e.end()
            m = _NODE.match(ln, pos)
            if not m:
                raise MermaidUnsupported(f"cannot read {ln!r}")
            nxt = node(m)
            edges.append((prev, nxt, e.group(1), _label(e.group(2) or "")))
            prev, pos = nxt, m.end()
    return direction, nodes, edges, class_defs


def _layers(nodes, edges) -> dict[str, int]:
    layer = {n: 0 for n in nodes}
    for _ in range(len(nodes)):  # longest path from the sources; a cycle just stops growing
        changed = False
        for a, b, _k, _t in edges:
            if a != b and layer[b] < layer[a] + 1 and layer[a] + 1 < len(nodes):
                layer[b] = layer[a] + 1
                changed = True
        if not changed:
            break
    return layer


def _place_layers(columns, boxes, along: str, across: str) -> tuple[dict, float, float]:
    """Corners of the boxes as (along, across) when each layer is a column stacked across: every
    box centred in its layer, every layer centred across; and the drawing's extent both ways."""
    gap_major, gap_minor = 60, 18
    size = [max((boxes[n][along] for n in col), default=0) for col in columns]
    spans = [sum(boxes[n][across] for n in col) + gap_minor * (len(col) - 1) for col in columns]
    total = max(spans, default=0)
    pos = {}
    a = 10.0
    for k, col in enumerate(columns):
        b = 10 + (total - spans[k]) / 2
        for nid in col:
            pos[nid] = (a + (size[k] - boxes[nid][along]) / 2, b)
            b += boxes[nid][across] + gap_minor
        a += size[k] + gap_major
    return pos, a - gap_major + 10, total + 20


def mermaid_to_svg(source: str, *, max_chars: int = 24) -> str:
    """Draw a Mermaid flowchart as a standalone ``<svg>`` element (no scripts, no links)."""
    direction, nodes, edges, class_defs = parse(source)
    layer = _layers(nodes, edges)
    horizontal = direction in ("LR", "RL")
    font, line_h, pad = 13, 16, 10
    boxes = {}
    for nid, n in nodes.items():
        wrapped = []
        for para in n["label"].split("\n"):
            wrapped += textwrap.wrap(para, max_chars) or [""]
        width = max(len(w) for w in wrapped) * font * 0.58 + 2 * pad
        boxes[nid] = {"lines": wrapped, "w": max(width, 60), "h": len(wrapped) * line_h + 2 * pad}
    n_layers = max(layer.values(), default=0) + 1
    columns = [[nid for nid in nodes if layer[nid] == k] for k in range(n_layers)]
    # layers run along x (LR/RL) or y (TB/BT); the vertical layout is the horizontal one transposed
    along, across = ("w", "h") if horizontal else ("h", "w")
    place, extent_along, extent_across = _place_layers(columns, boxes, along, across)
    if horizontal:
        pos, width, height = place, extent_along, extent_across
        if direction == "RL":
            pos = {n: (width - p[0] - boxes[n]["w"], p[1]) for n, p in pos.items()}
    else:
        pos = {n: (p[1], p[0]) for n, p in place.items()}
        width, height = extent_across, extent_along
        if direction == "BT":
            pos = {n: (p[0], height - p[1] - boxes[n]["h"]) for n, p in pos.items()}

    def attr(v: str) -> str:
        return html.escape(str(v), quote=True)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ek-diagram" role="img" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
           f'style="max-width:100%;height:auto;font-family:system-ui,sans-serif">',
           '<defs><marker id="ek-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for a, b, kind, text in edges:
        ax, ay = pos[a]
        bx, by = pos[b]
        ba, bb = boxes[a], boxes[b]
        if horizontal:
            x1, y1 = (ax + ba["w"], ay + ba["h"] / 2) if bx >= ax else (ax, ay + ba["h"] / 2)
            x2, y2 = (bx, by + bb["h"] / 2) if bx >= ax else (bx + bb["w"], by + bb["h"] / 2)
        else:
            x1, y1 = (ax + ba["w"] / 2, ay + ba["h"]) if by >= ay else (ax + ba["w"] / 2, ay)
            x2, y2 = (bx + bb["w"] / 2, by) if by >= ay else (bx + bb["w"] / 2, by + bb["h"])
        dash = ' stroke-dasharray="4 3"' if "." in kind else ""
        thick = "2.5" if "=" in kind else "1.3"
        marker = ' marker-end="url(#ek-arrow)"' if kind.endswith(">") else ""
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#555" '
                   f'stroke-width="{thick}"{dash}{marker}/>')
        if text:
            out.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 4:.1f}" font-size="11" '
                       f'text-anchor="middle" fill="#333">{html.escape(text)}</text>')
    for nid, n in nodes.items():
        style = {"fill": "#eef2f7", "stroke": "#6b7a90", "stroke-width": "1.2px", "color": "#111"}
        for cls in n["classes"]:
            style.update(class_defs.get(cls, {}))
        style.update(n["style"])
        x, y = pos[nid]
        b = boxes[nid]
        classes = " ".join(["ek-node"] + [re.sub(r"[^\w-]", "", c) for c in n["classes"]])
        sw = re.sub(r"[^\d.]", "", style.get("stroke-width", "1.2")) or "1.2"
        common = f'fill="{attr(style["fill"])}" stroke="{attr(style["stroke"])}" stroke-width="{sw}"'
        if n["shape"] == "diamond":
            cx, cy = x + b["w"] / 2, y + b["h"] / 2
            shape = (f'<polygon points="{cx:.1f},{y - 6:.1f} {x + b["w"] + 6:.1f},{cy:.1f} {cx:.1f},'
                     f'{y + b["h"] + 6:.1f} {x - 6:.1f},{cy:.1f}" {common}/>')
        else:
            rx = 14 if n["shape"] == "round" else 4
            shape = f'<rect x="{x:.1f}" y="{y:.1f}" width="{b["w"]:.1f}" height="{b["h"]:.1f}" rx="{rx}" {common}/>'
        out.append(f'<g class="{attr(classes)}" data-id="{attr(nid)}">{shape}')
        for i, line in enumerate(b["lines"]):
            ty = y + pad + (i + 0.8) * line_h
            out.append(f'<text x="{x + b["w"] / 2:.1f}" y="{ty:.1f}" font-size="{font}" text-anchor="middle" '
                       f'fill="{attr(style.get("color", "#111"))}">{html.escape(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def mermaid_text(source: str) -> str:
    """The labelled text fallback: the diagram's source, said to be one."""
    return source.strip()
