"""Pages of a publication: blocks of typed content, written to one ``.qmd`` for every renderer.

A page is built from blocks (:meth:`Page.heading`, :meth:`Page.para`, :meth:`Page.table`,
:meth:`Page.figure`, :meth:`Page.tiles`, ...) holding typed values, never formatted counts. After
the publication's ledger is solved, :meth:`Page.qmd` writes the page as Pandoc Markdown with a
Quarto front matter: the HTML and the Typst (PDF) forms of a block that differ (an interactive
plotly figure and a static PNG; an HTML table and a pipe table) sit in
``::: {.content-visible when-format=...}`` divs, which Quarto reads natively and evalkit's Pandoc
filter reads the same way. The ``.qmd`` holds only published values, so whichever renderer
turns it into HTML or PDF cannot show an unchecked number.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.publish.markup import Sink, html_value, md
from evalkit.publish.text import md_text
from evalkit.publish.values import Phrase, Value

_TEMPLATES = Path(__file__).resolve().parent / "templates"
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["sendDataToCloud", "lasso2d", "select2d"]}


def templates():
    """The jinja2 environment of the publishing layer (autoescaped HTML; Markdown by hand)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=jinja2.select_autoescape(
        ["html.j2", "svg.j2"], default_for_string=False), keep_trailing_newline=True, trim_blocks=False)


def _ticks(text: str) -> str:
    import re

    return "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)


def raw(content: str, fmt: str = "html") -> str:
    ticks = _ticks(content)
    return f"\n{ticks}{{={fmt}}}\n{content}\n{ticks}\n"


def only(fmt: str, markdown: str) -> str:
    return f"\n::: {{.content-visible when-format=\"{fmt}\"}}\n{markdown}\n:::\n"


# --------------------------------------------------------------------------------------------
# blocks


@dataclass
class Col:
    """A table cell: text, or a typed value; ``field`` names it for readers (``data-field``)."""

    content: Any
    field: str | None = None
    numeric: bool = False


def _phrase(x) -> Phrase:
    if isinstance(x, Phrase):
        return x
    if isinstance(x, Value):
        return Phrase("{v}", {"v": x})
    return Phrase(str(x).replace("{", "{{").replace("}", "}}"))


@dataclass
class Writer:
    fmt: str  # html | typst
    sink: Sink
    assets: Path  # folder for static figures (typst)
    asset_ref: str  # how the page refers to that folder
    n_fig: int = 0
    n_tbl: int = 0
    plotly: bool = False

    def phrase(self, p: Phrase) -> str:
        out = []
        for part in p.parts():
            out.append(md_text(part) if isinstance(part, str) else md(part, self.sink))
        return "".join(out)


class Block:
    def markdown(self, w: Writer) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def values(self) -> Iterable[Value]:
        return ()


@dataclass
class Heading(Block):
    text: str
    level: int = 2
    anchor: str | None = None

    def markdown(self, w):
        ident = f" {{#{self.anchor}}}" if self.anchor else ""
        return f"\n{'#' * self.level} {md_text(self.text)}{ident}\n"


@dataclass
class Para(Block):
    phrase: Phrase
    style: str = ""  # "" | "note" (small italic)

    def markdown(self, w):
        text = w.phrase(self.phrase)
        if not text.strip():
            return ""
        return f"\n*{text}*\n" if self.style == "note" else f"\n{text}\n"


@dataclass
class Bullets(Block):
    items: list[Phrase]

    def markdown(self, w):
        return "\n" + "".join(f"- {w.phrase(i)}\n" for i in self.items) if self.items else ""


@dataclass
class Table(Block):
    headers: Sequence[str]
    rows: Sequence[Sequence[Col]]
    table_id: str | None = None
    row_attrs: Sequence[dict] | None = None
    print_columns: Sequence[int] | None = None  # the columns of the printed (PDF) table
    caption: str | None = None

    def markdown(self, w):
        if not self.rows:
            return ""
        if w.fmt == "html":
            rows = []
            for i, row in enumerate(self.rows):
                attrs = list(((self.row_attrs[i] if self.row_attrs else None) or {}).items())
                from markupsafe import Markup

                cells = [{"html": Markup(self._html(c, w)), "field": c.field,
                          "numeric": c.numeric or isinstance(c.content, Value)} for c in row]
                rows.append({"attrs": [(k, str(v)) for k, v in attrs], "cells": cells})
            out = raw(templates().get_template("table.html.j2").render(
                headers=self.headers, rows=rows, table_id=self.table_id).strip())
        else:
            keep = list(self.print_columns) if self.print_columns is not None else list(range(len(self.headers)))
            lines = ["| " + " | ".join(md_text(self.headers[j]) for j in keep) + " |",
                     "|" + "|".join("---:" if self._numeric(j) else "---" for j in keep) + "|"]
            for row in self.rows:
                lines.append("| " + " | ".join(self._md(row[j], w) for j in keep) + " |")
            out = "\n" + "\n".join(lines) + "\n"
        if self.caption:
            w.n_tbl += 1
            out = f"\n::: {{.ek-caption}}\nTable {w.n_tbl}: {md_text(self.caption)}\n:::\n" + out
        return out

    def _numeric(self, j: int) -> bool:
        return bool(self.rows) and (isinstance(self.rows[0][j].content, Value) or self.rows[0][j].numeric)

    @staticmethod
    def _html(c: Col, w: Writer) -> str:
        import html as h

        if isinstance(c.content, Value):
            return html_value(c.content, w.sink)
        if isinstance(c.content, Phrase):
            return "".join(_html_part(x, w) for x in c.content.parts())
        return h.escape("" if c.content is None else str(c.content))

    @staticmethod
    def _md(c: Col, w: Writer) -> str:
        if isinstance(c.content, Value):
            return md(c.content, w.sink, prose=False)
        if isinstance(c.content, Phrase):
            return w.phrase(c.content)
        return md_text("" if c.content is None else c.content)

    def values(self):
        return [c.content for row in self.rows for c in row if isinstance(c.content, Value)]


@dataclass
class Figure(Block):
    """A figure from a spec with ``plotly(sink)`` (interactive HTML) and ``matplotlib()`` (static PDF)."""

    spec: Any
    caption: str | None = None
    label: str | None = None

    def markdown(self, w):
        w.n_fig += 1
        if w.fmt == "html":
            fig = self.spec.plotly(w.sink)
            if fig is None:
                body = "\n*(No figure for this section: nothing to draw.)*\n"
            else:
                w.plotly = True
                div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"ek-plot-{w.n_fig}",
                                  config=PLOTLY_CONFIG, validate=True)
                body = raw(f'<div class="ek-plot">{div}</div>')
        else:
            fig = self.spec.matplotlib()
            if fig is None:
                body = "\n*(No figure for this section: nothing to draw.)*\n"
            else:
                body = _png(fig, w, f"figure-{w.n_fig}.png")
        cap = f"\n::: {{.ek-caption}}\nFigure {w.n_fig}: {md_text(self.caption)}\n:::\n" if self.caption else ""
        ident = f"#{self.label} " if self.label else ""
        return f"\n:::: {{{ident}.ek-fig}}\n{body}\n{cap}\n::::\n"


def _png(fig, w: Writer, name: str) -> str:
    import matplotlib.pyplot as plt

    w.assets.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(w.assets / name, format="png", dpi=160, bbox_inches="tight", metadata={"Software": None})
    finally:
        plt.close(fig)
    return f"\n![]({w.asset_ref}/{name}){{width=95%}}\n"


@dataclass
class Svg(Block):
    """A drawing built at render time (``build(sink) -> svg``): inline in HTML, a file for Typst."""

    build: Callable[[Sink], str]
    name: str
    css_class: str = "ek-diagram"

    def markdown(self, w):
        svg = self.build(w.sink)
        if w.fmt == "html":
            return raw(f'<figure class="{self.css_class}">{svg}</figure>')
        w.assets.mkdir(parents=True, exist_ok=True)
        (w.assets / f"{self.name}.svg").write_text(svg, encoding="utf-8")
        return f"\n![]({w.asset_ref}/{self.name}.svg){{width=90%}}\n"


@dataclass
class Callout(Block):
    kind: str
    title: str
    blocks: list[Block]

    def markdown(self, w):
        inner = "".join(b.markdown(w) for b in self.blocks)
        return f"\n::: {{.callout-{self.kind} title=\"{md_text(self.title)}\"}}\n{inner}\n:::\n"

    def values(self):
        return [v for b in self.blocks for v in b.values()]


@dataclass
class Details(Block):
    """Folded in HTML (``<details>``); shown plainly in print."""

    summary: str
    blocks: list[Block]

    def markdown(self, w):
        import html as h

        inner = "".join(b.markdown(w) for b in self.blocks)
        if w.fmt != "html":
            return inner
        return raw(f"<details><summary>{h.escape(self.summary)}</summary>") + inner + raw("</details>")

    def values(self):
        return [v for b in self.blocks for v in b.values()]


@dataclass
class Tile:
    """A headline tile: lines of text above and below one value; ``rag`` only for a shown value."""

    value: Value | str
    above: Sequence[Phrase | str] = ()
    below: Sequence[Phrase | str] = ()
    rag: str | None = None  # green | amber | red | None
    colour: str = "#455a64"


RAG_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", None: "#607d8b"}


@dataclass
class Tiles(Block):
    tiles: Sequence[Tile]

    def markdown(self, w):
        from markupsafe import Markup

        def line(p):
            p = _phrase(p)
            return Markup("".join(_html_part(x, w) for x in p.parts()))

        rows = []
        for t in self.tiles:
            value = t.value
            hidden = isinstance(value, Value) and value.hidden
            # a hidden value has no RAG band: its colour would tell the band of the number
            rag = None if hidden else t.rag
            colour = RAG_COLOURS[None] if hidden else (RAG_COLOURS.get(rag, t.colour) if rag else t.colour)
            rows.append({"value": Markup(html_value(value, w.sink, prose=False)) if isinstance(value, Value)
                         else value, "above": [line(a) for a in t.above], "below": [line(b) for b in t.below],
                         "rag": rag or "none", "colour": colour})
        if w.fmt == "html":
            return raw(templates().get_template("tiles.html.j2").render(tiles=rows).strip())
        lines = []
        for t in self.tiles:
            value = w.phrase(_phrase(t.value))
            head = " · ".join(w.phrase(_phrase(a)) for a in t.above)
            tail = " · ".join(w.phrase(_phrase(b)) for b in t.below)
            lines.append(f"- {head}: **{value}** {tail}".rstrip())
        return "\n" + "\n".join(lines) + "\n"

    def values(self):
        return [t.value for t in self.tiles if isinstance(t.value, Value)]


def _html_part(part, w: Writer) -> str:
    import html as h

    return h.escape(part) if isinstance(part, str) else html_value(part, w.sink, prose=True)


@dataclass
class Markdown(Block):
    """Trusted, fixed Markdown written by evalkit itself (never data): e.g. a layout heading."""

    text: str

    def markdown(self, w):
        return self.text


# --------------------------------------------------------------------------------------------
# pages


@dataclass
class Page:
    """One document of a publication (a report, the portfolio page, the dashboard)."""

    path: str  # relative to the publication folder, without suffix: "reach-2023-matched/index"
    title: str
    subtitle: str | None = None
    formats: tuple[str, ...] = ("html",)
    dashboard: bool = False
    source: str = "results"
    blocks: list[Block] = field(default_factory=list)
    pending: list[Callable[[], None]] = field(default_factory=list)  # run before the ledger is solved
    sink: Sink = field(default_factory=Sink)
    counts: list = field(default_factory=list)  # every count declared for this page (for linking)

    # building
    def add(self, block: Block) -> Block:
        self.blocks.append(block)
        return block

    def heading(self, text: str, level: int = 2, anchor: str | None = None):
        return self.add(Heading(text, level, anchor))

    def para(self, template: str | Phrase, style: str = "", **values):
        p = template if isinstance(template, Phrase) else Phrase(template, values)
        return self.add(Para(p, style))

    def note(self, template: str | Phrase, **values):
        return self.para(template, "note", **values)

    def table(self, headers, rows, **kw):
        return self.add(Table(headers, rows, **kw))

    def figure(self, spec, caption: str | None = None, label: str | None = None):
        return self.add(Figure(spec, caption, label))

    # writing
    def qmd(self, policy, assets: Path, asset_ref: str, plotly_src: str | None,
            manifest: Callable[[set[int]], dict] | None) -> str:
        """The page as one ``.qmd``: front matter, then each block in every format it is rendered to."""
        parts = []
        writers = {fmt: Writer(fmt, self.sink, assets, asset_ref) for fmt in self.formats}
        for block in self.blocks:
            texts = {fmt: block.markdown(w) for fmt, w in writers.items()}
            distinct = set(texts.values())
            if len(distinct) == 1:
                parts.append(next(iter(distinct)))
            else:
                parts += [only(fmt, text) for fmt, text in texts.items() if text.strip()]
        body = "".join(parts)
        head = ""
        if "typst" in writers:  # Pandoc puts tables in figures, which Typst keeps on one page unless told
            head += raw("#show figure: set block(breakable: true)", "typst")
        if "html" in writers and writers["html"].plotly and plotly_src:
            head += raw(f'<script src="{plotly_src}"></script>')
        tail = ""
        if manifest is not None and "html" in writers:
            data = json.dumps(manifest(self.sink.cells), sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
            tail = raw(f'<script type="application/json" id="ek-disclosure">{data}</script>')
        return templates().get_template("document.qmd.j2").render(
            title=json.dumps(md_text(self.title), ensure_ascii=False),
            subtitle=json.dumps(md_text(self.subtitle), ensure_ascii=False) if self.subtitle else None,
            dashboard=self.dashboard, typst="typst" in self.formats, source=self.source,
            policy=f"policy {policy.kind.value}, threshold {policy.threshold}",
            body=(head + body + tail).strip() + "\n")


def data_uri_svg(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def svg_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()
