"""Statistical disclosure control for everything a report publishes.

Rules (threshold ``k``, default 5, set with ``evalkit report --min-count``):

- **Primary suppression**: a count ``0 < n < k`` is never shown; the cell shows ``[c]``
  (the ONS mark for "confidential"). Zero is shown: it discloses no person.
- **Secondary suppression**: counts that add up (parts and their total, e.g. treated +
  comparison = all, improved + no change + deteriorated = analysed, next stage + lost =
  previous stage) form linear relations. While any relation has exactly one suppressed cell,
  the smallest other cell of that relation is suppressed too, so no suppressed count can be
  recovered by subtraction from one relation. Repeats until nothing changes.
- **The check**: every count a report shows is marked (``class="ek-count"`` in HTML and SVG,
  ``"meta": "ek-counts"`` on plotly traces). :func:`scan_html` reads the rendered file and
  lists every marked count under ``k`` plus any ``n = 3``-style phrase in the text;
  :func:`check_rendered` raises :class:`DisclosureError` so the render fails.

Person identifiers never reach a report: reports read only ``results.json`` and
``context.json`` (:func:`guard_path` refuses any path inside a ``private`` folder, where the
runner keeps person-level rows).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError

DEFAULT_THRESHOLD = 5
MARK = "[c]"


class DisclosureError(EvalkitError):
    """A rendered output shows a count below the disclosure threshold."""


@dataclass(frozen=True)
class Policy:
    threshold: int = DEFAULT_THRESHOLD
    mark: str = MARK

    def small(self, n) -> bool:
        return n is not None and 0 < int(n) < self.threshold


def policy_from(settings: Mapping | None) -> Policy:
    """The policy a report's ``context.json`` or ``index.json`` asks for (``disclosure.threshold``)."""
    return Policy(threshold=int(((settings or {}).get("disclosure") or {}).get("threshold", DEFAULT_THRESHOLD)))


def suppress(cells: Mapping[Hashable, int | None], relations: Iterable[tuple[Hashable, Sequence[Hashable]]] = (),
             policy: Policy = Policy(), prefer: str = "part", also: Iterable[Hashable] = ()) -> set[Hashable]:
    """The keys of ``cells`` to hide: primary (small) and secondary (recoverable by a relation).

    ``relations`` are ``(total_key, [part_keys])``; keys missing from ``cells`` are ignored.
    ``prefer``: which cell a relation gives up first, another ``part`` (keeps totals, as in a
    table's margins) or the ``total`` (keeps the parts, as in a flow diagram, where the last
    stage is the number analysed). ``also``: cells hidden for another reason (e.g. the same
    count is suppressed elsewhere in the report).
    """
    hidden = {k for k, n in cells.items() if policy.small(n)} | {k for k in also if k in cells}
    rels = []
    for total, parts in relations:
        members = [k for k in (total, *parts) if k in cells and cells[k] is not None]
        if len(members) >= 2:
            rels.append((total, members))
    changed = True
    while changed:
        changed = False
        for total, members in rels:
            inside = [k for k in members if k in hidden]
            if len(inside) != 1:
                continue
            others = [k for k in members if k not in hidden]
            if not others:
                continue
            if prefer == "total" and total in others:
                pick = total
            else:
                parts = [k for k in others if k != total] or others
                pick = min(parts, key=lambda k: (int(cells[k] or 0), str(k)))
            hidden.add(pick)
            changed = True
    return hidden


def count_html(n: int | None, hidden: bool, policy: Policy = Policy()) -> str:
    """A count as marked-up HTML for the scanner (suppressed counts show the mark)."""
    if n is None:
        return "-"
    if hidden or policy.small(n):
        return f'<span class="ek-count ek-suppressed" title="suppressed: fewer than {policy.threshold}">{policy.mark}</span>'
    return f'<span class="ek-count">{int(n)}</span>'


def count_text(n: int | None, hidden: bool, policy: Policy = Policy()) -> str:
    if n is None:
        return "-"
    return policy.mark if hidden or policy.small(n) else str(int(n))


def guard_path(path: Path) -> Path:
    """Refuse to read anything from a ``private`` folder into a report."""
    if "private" in Path(path).resolve().parts:
        raise DisclosureError(f"{path}: reports never read files from a 'private' folder (person-level rows)")
    return path


_COUNT_SPAN = re.compile(r'<(?:span|tspan|td|text)[^>]*class="[^"]*\bek-count\b[^"]*"[^>]*>([^<]*)<')
_NEWPLOT = re.compile(r'Plotly\.newPlot\(\s*"[^"]*",\s*')
_PHRASE = re.compile(r"(?<![\w.])(?:n|N)\s*=\s*(\d+)(?![\w.])|(?<![\w.])(\d+)\s+(?:participants|people|pupils|young people|"
                     r"children|cases|units|individuals|persons)\b")


def _visible_text(text: str) -> str:
    text = re.sub(r"<script\b.*?</script>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<style\b.*?</style>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return html.unescape(text)


def scan_html(text: str, policy: Policy = Policy()) -> list[str]:
    """Every small count a rendered HTML page shows (empty when the page is safe)."""
    found = []
    for m in _COUNT_SPAN.finditer(text):
        value = html.unescape(m.group(1)).strip().replace(",", "")
        if value.isdigit() and policy.small(int(value)):
            found.append(f"count {value} in a table, diagram or label")
    decoder = json.JSONDecoder()
    for m in _NEWPLOT.finditer(text):
        try:
            traces, _end = decoder.raw_decode(text, m.end())
        except json.JSONDecodeError:
            continue
        for trace in traces if isinstance(traces, list) else []:
            if not isinstance(trace, dict) or trace.get("meta") != "ek-counts":
                continue
            for key in ("x", "y", "text", "customdata"):
                values = trace.get(key)
                if isinstance(values, dict):  # a typed array: counts must be plain lists
                    found.append(f"figure trace {trace.get('name')!r}: counts in a binary array cannot be checked")
                    continue
                for v in values if isinstance(values, list) else []:
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() \
                            and policy.small(int(v)) and key != ("x" if trace.get("orientation") != "h" else "y"):
                        found.append(f"count {int(v)} in figure trace {trace.get('name')!r}")
                    elif isinstance(v, str) and v.strip().isdigit() and policy.small(int(v.strip())):
                        found.append(f"count {v.strip()} in a label of figure trace {trace.get('name')!r}")
    for m in _PHRASE.finditer(_visible_text(text)):
        value = m.group(1) or m.group(2)
        if policy.small(int(value)):
            found.append(f"text {m.group(0)!r}")
    return found


def check_rendered(path: Path, policy: Policy = Policy()) -> Path:
    """Fail (raise) if the rendered HTML file shows a count under the threshold."""
    found = scan_html(Path(path).read_text(encoding="utf-8"), policy)
    if found:
        listed = "; ".join(dict.fromkeys(found))
        raise DisclosureError(f"{path}: disclosure check failed (threshold {policy.threshold}): {listed}")
    return path
