"""Text: Markdown escaping, and the guard for prose written elsewhere (warnings, evidence notes).

Prose that evalkit writes from typed values (:func:`evalkit.publish.values.phrase`) is safe by
construction. Prose written by other code as plain strings (a run warning from an older results
file, an evidence check's note, a rating's explanation) may hold counts; :func:`untrusted`
turns such a string into a :class:`~evalkit.publish.values.Phrase` before the ledger is solved:

- every number that reads as a count of people ("3 of 40", "n = 3", "12 participants",
  "only 4 pairs", "treated 620") becomes a count in the ledger, tied (by value) to the page's
  other counts, so it is hidden wherever the same count is hidden and small ones read
  "fewer than 5";
- a percentage in the same sentence as such a count (or, failing that, any percentage that with
  some count on the page as its denominator implies a small count) is hidden when it would give
  a small count away.
"""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~^$@\"'&:])")


def md_text(value: Any) -> str:
    """Text shown literally by a Markdown reader: markup, links and HTML become plain text."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


_PEOPLE = (r"(?:participants?|people|persons?|pupils?|young people|children|child|cases?|units?|individuals?|"
           r"pairs?|complete pairs?|members?|attenders?|referrals?|records?|respondents?|victims?|suspects?|"
           r"students?|patients?|offenders?|families|households?|treated units?|comparison units?|"
           r"participant\(s\)|case\(s\)|pair\(s\)|unit\(s\)|person\(s\)|record\(s\))")
_COUNT_PATTERNS = [
    re.compile(r"(?<![\w.,/:-])(\d{1,3}(?:,\d{3})+|\d+)(?=\s+(?:of|out of)\s+(?:the\s+)?\d)"),  # "3 of 40"
    re.compile(r"(?<=\bof\s)(?:the\s+)?(\d{1,3}(?:,\d{3})+|\d+)(?![\w.%])"),  # "of 40", "of the 40"
    re.compile(r"(?<![\w.])[nN]\s*=\s*(\d{1,3}(?:,\d{3})+|\d+)(?![\w.])"),  # "n = 3"
    re.compile(r"(?<![\w.,/:-])(\d{1,3}(?:,\d{3})+|\d+)\s+(?:[a-z-]+\s+)?" + _PEOPLE + r"(?![\w])", re.I),  # "12 participants"
    re.compile(r"\b(?:only|just|treated|comparison|control|arm|group)\s+(\d{1,3}(?:,\d{3})+|\d+)(?![\w.%])", re.I),
]
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?%")


def count_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, end, value) of each number in ``text`` that reads as a count of people."""
    spans: dict[int, tuple[int, int, int]] = {}
    for pattern in _COUNT_PATTERNS:
        for m in pattern.finditer(text):
            digits = m.group(1)
            start = m.start(1)
            try:
                value = int(digits.replace(",", ""))
            except ValueError:
                continue
            if 1900 <= value <= 2100 and "," not in digits and len(digits) == 4:
                continue  # a year
            spans.setdefault(start, (start, start + len(digits), value))
    return sorted(spans.values())


def untrusted(text: str, ledger, page_counts, *, role: str = "detail"):
    """A :class:`Phrase` from a plain string holding numbers typed by someone else (see the module doc)."""
    from evalkit.publish.values import Derived, Fixed, Phrase

    text = str(text)
    values: dict[str, Any] = {}
    pieces: list[str] = []
    pos = 0
    found = []
    for start, end, value in count_spans(text):
        name = f"n{len(values)}"
        count = ledger.count(value, role=role, label=f"count in the text {text[:40]!r}")
        ledger.link_by_value(count, page_counts)
        values[name] = count
        found.append(count)
        pieces.append(_escape_braces(text[pos:start]) + "{" + name + "}")
        pos = end
    pieces.append(_escape_braces(text[pos:]))
    template = "".join(pieces)
    # percentages: hidden when, with a count of the same sentence (or of the page) as denominator,
    # they would give a small count away
    out_pieces, pos2 = [], 0
    for m in _PERCENT.finditer(template):
        p = float(m.group(1)) / 100
        denominators = found or [c for c in page_counts if c is not None]
        risky = [d for d in denominators if _implies_small(p, d, ledger.policy, m.group(1))]
        name = f"p{len(values)}"
        values[name] = Derived(m.group(0), [Fixed(1)] + [_Guard(d, ledger.policy, p, m.group(1)) for d in risky])
        out_pieces.append(template[pos2:m.start()] + "{" + name + "}")
        pos2 = m.end()
    out_pieces.append(template[pos2:])
    return Phrase("".join(out_pieces), values)


def _escape_braces(s: str) -> str:
    return s.replace("{", "{{").replace("}", "}}")


def _implies_small(p: float, den, policy, shown: str) -> bool:
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    half = 0.5 * 10 ** -(decimals + 2)
    lo, hi = (p - half) * den.value, (p + half) * den.value
    for k in range(max(1, int(lo)), int(hi) + 2):
        if lo - 1e-9 <= k <= hi + 1e-9 and (policy.small(k) or policy.small(den.value - k)):
            return True
    return False


class _Guard:
    """Hides a percentage of untrusted text whenever its would-be denominator is shown."""

    def __init__(self, den, policy, p, shown):
        self.den = den

    @property
    def hidden(self) -> bool:
        return True  # the percentage would reveal a small count with this denominator

    def cells(self):
        return self.den.cells()
