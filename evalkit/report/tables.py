"""Tables for reports: one description, written as escaped HTML (HTML output) or as a pipe
table (Typst/PDF). Every text cell is escaped; counts carry the disclosure mark-up."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from evalkit.report.disclosure import Policy, count_html, count_text
from evalkit.report.figures import md_text
from evalkit.report.render import raw_block


@dataclass(frozen=True)
class Cell:
    text: str  # plain text as shown (already formatted)
    kind: str = "text"  # text | num | count
    field: str | None = None  # data-field attribute (tests read it)
    hidden: bool = False  # for counts: suppressed
    n: int | None = None  # for counts: the value


def txt(value, field: str | None = None) -> Cell:
    return Cell("" if value is None else str(value), "text", field)


def num(text: str, field: str | None = None) -> Cell:
    return Cell(text, "num", field)


def cnt(n: int | None, hidden: bool = False, field: str | None = None) -> Cell:
    return Cell("" if n is None else str(n), "count", field, hidden, n)


def _cell_html(c: Cell, policy: Policy, tag: str = "td") -> str:
    attrs = f' data-field="{html.escape(c.field)}"' if c.field else ""
    if c.kind == "count":
        return f'<{tag} class="num"{attrs}>{count_html(c.n, c.hidden, policy)}</{tag}>'
    cls = ' class="num"' if c.kind == "num" else ""
    return f"<{tag}{cls}{attrs}>{html.escape(c.text)}</{tag}>"


def table_html(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, policy: Policy = Policy(),
               table_id: str | None = None, row_attrs: Sequence[dict] | None = None) -> str:
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    out = [f'<table class="ek-table"{ident}>', "<thead><tr>" + "".join(
        f"<th>{html.escape(h)}</th>" for h in headers) + "</tr></thead>", "<tbody>"]
    for i, row in enumerate(rows):
        attrs = "".join(f' data-{html.escape(k)}="{html.escape(str(v))}"'
                        for k, v in ((row_attrs[i] if row_attrs else {}) or {}).items())
        out.append(f"<tr{attrs}>" + "".join(_cell_html(c, policy) for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def table_markdown(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, policy: Policy = Policy()) -> str:
    def show(c: Cell) -> str:
        text = count_text(c.n, c.hidden, policy) if c.kind == "count" else c.text
        return md_text(text)

    lines = ["| " + " | ".join(md_text(h) for h in headers) + " |",
             "|" + "|".join("---:" if rows and rows[0][j].kind != "text" else "---" for j in range(len(headers))) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(show(c) for c in row) + " |")
    return "\n" + "\n".join(lines) + "\n"


def table(headers, rows, *, to: str, policy: Policy = Policy(), table_id: str | None = None,
          row_attrs=None) -> str:
    if not rows:
        return ""
    if to == "html":
        return raw_block('<div class="ek-table-wrap">' + table_html(headers, rows, policy=policy, table_id=table_id,
                                                                    row_attrs=row_attrs) + "</div>")
    return table_markdown(headers, rows, policy=policy)
