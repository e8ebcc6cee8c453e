"""Plain-text views of ratings and the portfolio, for the terminal (reports render the JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.evidence.rate import ProgrammeRating

STATUS_MARK = {"passed": "pass", "failed": "FAIL", "unknown": "?", "not_applicable": "n/a"}


def level_words(level: str, not_effective: bool, harm: bool) -> str:
    text = level if level == "NL2" else f"Level {level}"
    if not_effective:
        text += " + NE"
    if harm:
        text += " + HARM"
    return text


def rating_text(r: ProgrammeRating, *, checks: bool = False) -> str:
    flags = ("" if not r.not_effective else " + NE") + ("" if not r.harm else " + HARM")
    lines = [f"{r.intervention}: {r.name}: {r.level_words or level_words(r.level, r.not_effective, r.harm)}{flags}"
             f"  ({r.basis})"]
    path = r.extras.get("pathway")
    if path:
        nxt = f"; next: {path['next']['label']}" if path.get("next") else ""
        lines.append(f"  pathway: step {path['current']['label']}{nxt}")
        for need in path["needs"]:
            lines.append(f"    needs: {need}")
    for y in r.extras.get("yef", ()):
        lines.append(f"  {y['source']}: {y['words']}")
    lines.append("  why:")
    for i, line in enumerate(r.explanation, 1):
        lines.append(f"    {i}. {line}")
    if r.studies:
        lines.append("  studies:")
        sensitivity = {a.evaluation: g.main.evaluation for g in r.study_groups for a in g.sensitivity}
        for s in r.studies:
            supports = "supports NL2" if s.supports == "NL2" else f"supports Level {s.supports}"
            if not s.counted:
                supports = f"UNVERIFIED ({s.record_status}): not counted"
            elif s.evaluation in sensitivity:
                supports += f", a sensitivity analysis of {sensitivity[s.evaluation]}'s sample"
            elif not r.applicable:
                supports = "no level (place-based strategy)"
            lines.append(f"    {s.evaluation}: {s.design_words}{' (external)' if s.external else ''}, "
                         f"SMS {s.sms if s.sms is not None else 'n/a'}, {supports}, effect {s.effect}")
            if checks:
                for c in s.checks:
                    lines.append(f"      [{STATUS_MARK.get(c.status, c.status):>4}] {c.label}: {c.evidence}")
    return "\n".join(lines)


def _effect_words(h: Mapping[str, Any] | None) -> str:
    if not h:
        return "-"
    def f(x):
        return "?" if x is None else f"{x:.3g}"
    level = h.get("ci_level") or 0.95
    other = "" if abs(level - 0.95) < 1e-9 else f"{level * 100:g}% CI "  # the header says 95%
    ci = f" ({other}{f(h['ci_low'])} to {f(h['ci_high'])})" if h.get("ci_low") is not None else ""
    return f"{h['indicator']} {f(h['estimate'])}{ci} {h['units']}".strip()


def _cost_columns(row) -> tuple[str, str, str]:
    from evalkit.vfm.portfolio import cost_columns

    return cost_columns(row)


def portfolio_table(portfolio: Mapping[str, Any]) -> str:
    header = ("intervention", "self-assessed level", "NE", "pathway step", "studies", "reach",
              "headline effect (95% CI)", "evidence statements (YEF)", "cost per participant", "cost rating",
              "cost per outcome (95% CI)")
    rows = []
    for r in [*portfolio["interventions"], *portfolio.get("costs_only", [])]:
        if "level" not in r:  # costs declared, no evaluation rated yet
            rows.append((r["intervention"], "-", "", "-", "0", "-", "-", "-", *_cost_columns(r)))
            continue
        step = (r.get("pathway") or {}).get("current") or {}
        yef = r.get("yef") or []
        rows.append((
            r["intervention"], (r["level"] if r.get("applicable", True) else "n/a (place-based)")
            + (" HARM" if r.get("harm") else ""), "NE" if r["not_effective"] else "",
            f"{step.get('step', '?')}. {step.get('name', '')}" + ("*" if step.get("name_status") != "confirmed" else ""),
            str(r.get("n_studies", 0)) + (f" (+{r['n_unrated']} unrated)" if r.get("n_unrated") else "")
            + (f" (+{len(r['unverified'])} unverified)" if r.get("unverified") else ""),
            "-" if (r.get("reach") or {}).get("participants") is None else str(r["reach"]["participants"]),
            _effect_words(r.get("headline")),
            "; ".join(f"{y['approach']}: {y['impact']}" for y in yef) or "-",
            *_cost_columns(r.get("value_for_money")),
        ))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    out = ["  ".join(str(x).ljust(w) for x, w in zip(header, widths)).rstrip(),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in rows]
    out.append("Levels are self-assessed against the EIF evidence standards with evalkit; they are not EIF ratings. "
               "Studies: separate samples (re-analyses of one sample count once).")
    if any(r.get("value_for_money") for r in portfolio["interventions"]) or portfolio.get("costs_only"):
        out.append("Costs: full cost (cash and in kind) per participant who started, in the analysis year's prices; "
                   "cost rating 1 (low) to 5 (high) with toolkit default bands unless marked EIF; cost per outcome of "
                   "the headline study (docs/value-for-money.md).")
    out.append("* step name unconfirmed or a placeholder (EIF 10 steps, see rules.yml: pathway). "
               f"Rules {portfolio['rules']['version']}; NE = found not effective in a Level-3-quality study.")
    return "\n".join(out)
