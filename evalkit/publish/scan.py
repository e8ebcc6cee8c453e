"""The page scan: read what is about to be published and check it, without trusting its writer.

:func:`scan_html` reads a rendered page back:

- every marked value (``data-ek-cell`` / ``data-ek-of`` / ``data-ek-status`` on spans, SVG text
  and table cells): no shown count under the threshold, counts rounded where the policy rounds,
  one cell shown one way only, no percentage, rate or statistic shown for a hidden count;
- figure data (plotly traces, whose ``meta.ek`` names the cell behind each point): a hidden point
  has no value (it is not drawn at its true height), no label and no RAG colour;
- tiles: a tile whose value is hidden carries no RAG band;
- numbers in the prose that read as counts ("3 of 40", "n = 3", "4 participants") and are not
  marked values: none under the threshold;
- the linked tables: from the page's disclosure map (``#ek-disclosure``: the sums and shares
  linking its cells, without values) and what the page shows, a reader's knowledge is rebuilt
  and every hidden cell is tested for exact recovery (:mod:`evalkit.publish.audit`): differences
  of rolling totals, totals minus parts, flow stages, percentage times denominator.

:func:`scan_publication` runs the last test over all pages of one publication together;
:func:`scan_pdf` reads a PDF's text (pypdf) and :func:`scan_export` a CSV, XLSX or JSON export.
Each returns a list of findings (empty when the output is safe).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.publish.audit import INF, Facts, exposed
from evalkit.publish.policy import DisclosureError, Policy, PolicyKind
from evalkit.publish.text import count_spans

_MARKED = re.compile(r"<(span|tspan|td)\b([^>]*\bclass=\"[^\"]*\bek-(count|share|rate|stat|derived)\b[^\"]*\"[^>]*)>"
                     r"(.*?)</\1>", re.S)
_ATTR = re.compile(r"([\w-]+)=\"([^\"]*)\"")
_NEWPLOT = re.compile(r'Plotly\.newPlot\(\s*"[^"]*",\s*')
_MAP = re.compile(r'<script type="application/json" id="ek-disclosure">(.*?)</script>', re.S)
_TILE = re.compile(r'<div class="ek-tile[^"]*"[^>]*data-ek-rag="([^"]*)"[^>]*>(.*?)</div>\s*(?=<div class="ek-tile|</div>)',
                   re.S)
RAG_HEX = {"#2e7d32", "#f9a825", "#c62828", "#1a7f37", "#c0392b"}
_HIDDEN = ("small", "withheld")


@dataclass
class PageView:
    """What one page shows: per cell its displays; shares and rates shown; its disclosure map."""

    name: str
    shown: dict[int, set[str]] = field(default_factory=dict)
    status: dict[int, set[str]] = field(default_factory=dict)
    shares: list[tuple[int, int, str]] = field(default_factory=list)
    rates: set[int] = field(default_factory=set)
    sums: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    latent: set[int] = field(default_factory=set)
    policy: Policy | None = None


def _visible_text(text: str) -> str:
    text = re.sub(r"<script\b.*?</script>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<style\b.*?</style>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return html.unescape(text)


def _number(text: str) -> int | None:
    t = html.unescape(re.sub(r"<[^>]+>", "", text)).strip().replace(",", "")
    return int(t) if t.isdigit() else None


def read_page(text: str, name: str = "page", policy: Policy | None = None) -> tuple[PageView, list[str]]:
    """The page's marked values and disclosure map, and the findings that need no arithmetic."""
    found: list[str] = []
    view = PageView(name)
    m = _MAP.search(text)
    if m:
        try:
            data = json.loads(m.group(1).replace("<\\/", "</"))
            view.policy = Policy.from_json(data.get("policy") or {})
            view.sums = [(int(t), tuple(int(p) for p in parts)) for t, parts in data.get("sums") or []]
            view.latent = {int(c) for c in data.get("latent") or []}
        except (ValueError, TypeError, KeyError) as exc:
            found.append(f"the page's disclosure map cannot be read ({exc})")
    pol = policy or view.policy or Policy()
    view.policy = pol
    for mm in _MARKED.finditer(text):
        attrs = dict(_ATTR.findall(mm.group(2)))
        kind, inner = mm.group(3), mm.group(4)
        status = attrs.get("data-ek-status", "")
        shown_text = html.unescape(re.sub(r"<[^>]+>", "", inner)).strip()
        number = _number(inner)
        if kind == "count":
            cell = attrs.get("data-ek-cell")
            if cell is None or not cell.isdigit():
                found.append(f"a count shown without its cell mark ({shown_text!r})")
                if number is not None and pol.small(number):
                    found.append(f"count {number} shown (threshold {pol.threshold})")
                continue
            cid = int(cell)
            view.status.setdefault(cid, set()).add(status)
            if status in _HIDDEN:
                if number is not None or re.search(r"\d", shown_text.replace(str(pol.threshold), "")):
                    found.append(f"cell {cid} is marked {status} but shows {shown_text!r}")
                continue
            if number is None:
                found.append(f"cell {cid} shows {shown_text!r}, not a whole number")
                continue
            view.shown.setdefault(cid, set()).add(shown_text)
            if pol.small(number):
                found.append(f"count {number} shown (cell {cid}; threshold {pol.threshold})")
            if pol.kind is PolicyKind.round and number % pol.round_to:
                found.append(f"count {number} shown unrounded (cell {cid}; policy round to {pol.round_to})")
        else:
            of = [int(c) for c in attrs.get("data-ek-of", "").split() if c.isdigit()]
            if status in _HIDDEN:
                if re.search(r"\d", shown_text):
                    found.append(f"a {kind} marked {status} shows {shown_text!r}")
                continue
            if kind == "share" and len(of) == 2 and shown_text.endswith("%"):
                view.shares.append((of[0], of[1], shown_text))
            if kind == "rate" and of:
                view.rates.add(of[0])
            view.status.setdefault(-1, set())
            for c in of:
                view.status.setdefault(c, set()).add(f"{kind}-shown")
    for cid, texts in view.shown.items():
        if len(texts) > 1:
            found.append(f"cell {cid} is shown as {' and '.join(sorted(texts))}")
        if view.status.get(cid, set()) & set(_HIDDEN):
            found.append(f"cell {cid} is hidden in one place and shown ({next(iter(texts))}) in another")
    for cid, statuses in view.status.items():
        if cid < 0:
            continue
        shown_kinds = {s[:-6] for s in statuses if s.endswith("-shown") and not s.startswith("figure")}
        # a statistic (mean, estimate, interval) describes a group: wrong only when the group is small;
        # a percentage, rate or difference reveals its counts: wrong whenever one is hidden
        bad = {k for k in shown_kinds if (k == "stat" and "small" in statuses)
               or (k != "stat" and statuses & set(_HIDDEN))}
        if bad:
            found.append(f"a {'/'.join(sorted(bad))} is shown for cell {cid}, whose count is hidden")
    found += _figures(text, view, pol)
    found += _tiles(text)
    found += scan_prose(_unmarked_text(text), pol)
    return view, found


def _unmarked_text(text: str) -> str:
    return _visible_text(_MARKED.sub(" ", text))


def scan_prose(text: str, policy: Policy) -> list[str]:
    """Unmarked numbers that read as counts of people and are under the threshold."""
    out = []
    for start, end, value in count_spans(text):
        if policy.small(value):
            snippet = re.sub(r"\s+", " ", text[max(0, start - 25):end + 25]).strip()
            out.append(f"text '...{snippet}...' shows a count of {value}")
    return out


def _figures(text: str, view: PageView, pol: Policy) -> list[str]:
    found = []
    decoder = json.JSONDecoder()
    for m in _NEWPLOT.finditer(text):
        try:
            traces, _end = decoder.raw_decode(text, m.end())
        except json.JSONDecodeError:
            found.append("a figure's data cannot be read")
            continue
        for trace in traces if isinstance(traces, list) else []:
            if not isinstance(trace, dict):
                continue
            meta = trace.get("meta")
            points = meta.get("ek") if isinstance(meta, dict) else None
            if meta == "ek-counts":  # a trace of counts without its cells (older figure code): no small value
                axis = "x" if trace.get("orientation") == "h" else "y"
                for key in (axis, "text", "customdata"):
                    values = trace.get(key)
                    if isinstance(values, dict):
                        found.append(f"figure trace {trace.get('name')!r}: counts in a binary array cannot be checked")
                        continue
                    for v in values if isinstance(values, list) else []:
                        n = v if isinstance(v, (int, float)) and not isinstance(v, bool) else _number(str(v))
                        if n is not None and float(n).is_integer() and pol.small(n):
                            found.append(f"count {int(n)} in figure trace {trace.get('name')!r}")
                continue
            if points is None:
                continue
            axis = "x" if trace.get("orientation") == "h" else "y"
            values = trace.get(axis)
            if isinstance(values, dict):
                found.append(f"figure trace {trace.get('name')!r}: values in a binary array cannot be checked")
                continue
            labels = trace.get("text")
            colours = (trace.get("marker") or {}).get("color")
            for i, point in enumerate(points):
                if not point:
                    continue
                status = point.get("status")
                v = values[i] if isinstance(values, list) and i < len(values) else None
                for c in point.get("cells") or []:
                    view.status.setdefault(int(c), set()).add("figure-" + ("hidden" if status in _HIDDEN else "shown"))
                if status in _HIDDEN:
                    if v is not None:
                        found.append(f"figure trace {trace.get('name')!r}: a hidden point is drawn at {v}")
                    if isinstance(labels, list) and i < len(labels) and re.search(r"\d", str(labels[i] or "")):
                        found.append(f"figure trace {trace.get('name')!r}: a hidden point is labelled {labels[i]!r}")
                    if isinstance(colours, list) and i < len(colours) and str(colours[i]).lower() in RAG_HEX:
                        found.append(f"figure trace {trace.get('name')!r}: a hidden point has a RAG colour")
                elif point.get("kind") == "count" and isinstance(v, (int, float)) and pol.small(v):
                    found.append(f"figure trace {trace.get('name')!r}: count {v} drawn")
    return found


def _tiles(text: str) -> list[str]:
    found = []
    for m in _TILE.finditer(text):
        rag, inner = m.group(1), m.group(2)
        if rag not in ("none", "") and re.search(r'data-ek-status="(small|withheld)"', inner) \
                and re.search(r'class="val">\s*<span[^>]*data-ek-status="(small|withheld)"', inner):
            found.append(f"a tile whose value is hidden shows the RAG band {rag!r}")
    return found


def facts_of(views: Sequence[PageView], policy: Policy) -> tuple[Facts, set[int]]:
    """A reader's knowledge from the pages together, and the cells they hide."""
    f = Facts()
    hidden: set[int] = set()
    sums = set()
    for v in views:
        sums.update(v.sums)
    f.sums = sorted(sums)
    cells = set()
    for v in views:
        cells |= set(v.shown) | {c for c, s in v.status.items() if c >= 0}
    for c in cells:
        texts = set().union(*(v.shown.get(c, set()) for v in views))
        statuses = set().union(*(v.status.get(c, set()) for v in views))
        if texts:
            value = int(next(iter(texts)))
            if policy.kind is PolicyKind.round:
                # a rounded count: what the page shows of it. One a shown rate reveals is known exactly
                # to a reader, but its exact value is not on the page: the scan knows it as rounded (taking
                # the rounded number as exact made two breakdowns of one total contradict, and the
                # audit then called every hidden cell of them recoverable); the solver, which knows the
                # value, treats it as exact
                f.bound(c, *policy.interval(value))
            else:
                f.bound(c, value, value)
        elif "small" in statuses:
            f.bound(c, 1, policy.threshold - 1)
            hidden.add(c)
        elif "withheld" in statuses or "figure-hidden" in statuses:
            f.bound(c, 0, INF)
            hidden.add(c)
    for v in views:
        for num, den, text in v.shares:
            try:
                shown = float(text.rstrip("%")) / 100
            except ValueError:
                continue
            decimals = len(text.rstrip("%").split(".")[1]) if "." in text else 0
            half = 0.5 * 10 ** -(decimals + 2)
            f.ratios.append((num, den, max(0.0, shown - half), shown + half))
    return f, hidden


def audit_views(views: Sequence[PageView], policy: Policy) -> list[str]:
    f, hidden = facts_of(views, policy)
    if not hidden:
        return []
    found = exposed(f, sorted(hidden))
    if not found:
        return []
    cells = ", ".join(str(c) for c in sorted(found)[:6]) + (" ..." if len(found) > 6 else "")
    return [f"{len(found)} hidden cell(s) ({cells}) can be worked out exactly from the linked published values "
            "(totals and their parts, rolling totals, flow stages or percentages)"]


def scan_html(text: str, policy: Policy | None = None, name: str = "page") -> list[str]:
    view, found = read_page(text, name, policy)
    return found + audit_views([view], view.policy or Policy())


def scan_publication(pages: Mapping[str, str], policy: Policy) -> list[str]:
    """Every page, then the linked-table test over all of them together (a total on one page and
    its parts on another are linked too)."""
    views, found = [], []
    for name, text in pages.items():
        view, f = read_page(text, name, policy)
        views.append(view)
        found += [f"{name}: {x}" for x in f]
    found += audit_views(views, policy)
    return found


# --------------------------------------------------------------------------------------------
# PDF and exports


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return text.replace("\u2212", "-").replace("\u00a0", " ").replace("\u202f", " ")


_TOC_LEADER = re.compile(r"(?:\.\s?){3,}\s*\d+")  # "Participant flow . . . . 2": a page number
_PAGE_NUMBER = re.compile(r"^\s*\d+\s*$", re.M)


def scan_pdf(path: Path, policy: Policy, html_twin: str | None = None) -> list[str]:
    """Counts in the PDF's text: none small; and no number the scanned HTML of the same document
    does not show (the PDF comes from the same values, so it may show no more)."""
    text = _PAGE_NUMBER.sub(" ", _TOC_LEADER.sub(" ", pdf_text(path)))
    found = [f"PDF: {f}" for f in scan_prose(text, policy)]
    if html_twin is not None:
        body = text
        allowed = set(re.findall(r"\d+", _visible_text(html_twin)))
        for m in _MARKED.finditer(html_twin):
            allowed.update(re.findall(r"\d+", m.group(4)))
        for start, end, value in count_spans(body):
            if str(value) not in allowed and f"{value:,}" not in allowed:
                found.append(f"PDF: the count {value} in '{body[max(0, start - 20):end + 20].strip()}' is not in the "
                             "HTML page it was made with")
    return found


UNTYPED_COUNT_KEYS = {"n", "count", "rows", "people", "total", "records", "persons"}


def scan_export(path: Path, policy: Policy, count_columns: Sequence[str] = ()) -> list[str]:
    """A published export: typed values (``{"value", "status"}``) in JSON; in CSV/XLSX the
    ``count_columns`` hold no small number; no text cell starts a spreadsheet formula."""
    path = Path(path)
    found = []
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))

        def walk(node, where):
            if isinstance(node, dict):
                for k, v in node.items():  # a count by its name but not a typed value: never checked
                    if k in UNTYPED_COUNT_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool):
                        found.append(f"{path.name}: {where}.{k} is a count ({v!r}) outside disclosure control")
                if "status" in node and "value" in node:
                    v, s = node["value"], node["status"]
                    if s in _HIDDEN and v is not None:
                        found.append(f"{path.name}: {where} is {s} but holds {v!r}")
                    if s not in _HIDDEN and isinstance(v, (int, float)) and node.get("kind") == "count" \
                            and policy.small(v):
                        found.append(f"{path.name}: {where} holds the count {v}")
                for k, v in node.items():
                    walk(v, f"{where}.{k}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{where}[{i}]")
        walk(data, "$")
        return found
    from evalkit.publish.export import read_rows

    header, rows = read_rows(path)
    idx = [header.index(c) for c in count_columns if c in header]
    for r, row in enumerate(rows, start=2):
        for j, cell in enumerate(row):
            if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _numeric(cell):
                found.append(f"{path.name}: row {r}, column {header[j]!r} starts a spreadsheet formula")
        for j in idx:
            v = row[j] if j < len(row) else None
            try:
                n = float(v)
            except (TypeError, ValueError):
                continue
            if policy.small(n):
                found.append(f"{path.name}: row {r}, column {header[j]!r} holds the count {v}")
    return found


def _numeric(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# the other files a page publishes: its .qmd source and its figure files (for the PDF and Quarto)

_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # Pandoc's backslash escapes: "2\.00" is "2.00"
_RAW_BLOCK = re.compile(r"^```\{=\w+\}\n.*?^```[ \t]*$", re.S | re.M)
_PNG_TEXT = {b"tEXt", b"zTXt", b"iTXt", b"eXIf"}
SCANNED_ASSETS = (".qmd", ".svg", ".png")  # what scan_asset reads; any other file type in a page is refused


def scan_source(text: str, policy: Policy, name: str = "source") -> list[str]:
    """A page's ``.qmd``: the same marks and prose rules as its HTML (its disclosure map is checked
    with the HTML, so the linked-table audit is not run twice). Pandoc escapes are read as text."""
    parts, pos = [], 0
    for m in _RAW_BLOCK.finditer(text):  # raw HTML/Typst blocks are not Markdown: read them as they are
        parts += [_MD_ESCAPE.sub(r"\1", text[pos:m.start()]), m.group(0)]
        pos = m.end()
    parts.append(_MD_ESCAPE.sub(r"\1", text[pos:]))
    view, found = read_page(_MAP.sub("", "".join(parts)), name, policy)
    return found


def scan_png(path: Path) -> list[str]:
    """A figure image: a PNG, with no text chunks (nothing but pixels; a chunk could carry any text)."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return [f"{Path(path).name}: not a PNG image"]
    found, i = [], 8
    while i + 8 <= len(data):
        length = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        if kind in _PNG_TEXT:
            found.append(f"{Path(path).name}: holds a {kind.decode()} text chunk")
        i += 12 + length
    return found


def scan_asset(path: Path, policy: Policy) -> list[str]:
    """One file a page publishes beside its HTML and PDF, read back by its type."""
    path = Path(path)
    if path.suffix == ".png":
        return scan_png(path)
    if path.suffix == ".svg":  # SVG text and its marked tspans, as in the HTML
        return [f"{path.name}: {f}" for f in read_page(path.read_text(encoding="utf-8"), path.name, policy)[1]]
    if path.suffix == ".qmd":
        return [f"{path.name}: {f}" for f in scan_source(path.read_text(encoding="utf-8"), policy, path.name)]
    return [f"{path.name}: a {path.suffix or 'suffix-less'} file the scan cannot read (expected one of "
            f"{', '.join(SCANNED_ASSETS)})"]


def check(found: Iterable[str], what: str, policy: Policy) -> None:
    found = list(dict.fromkeys(found))
    if found:
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise DisclosureError(f"{what}: disclosure check failed (policy {policy.kind.value}, threshold "
                              f"{policy.threshold}): " + "; ".join(found[:5]) + more)
