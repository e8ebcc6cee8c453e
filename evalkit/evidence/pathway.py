"""The EIF 10-step pathway: where each intervention stands, and what the next step needs.

The steps live in ``rules.yml`` (``pathway``) as an editable list, in the strategy's order
(6 efficacy, 7 effectiveness, 8 refine and monitor, 9 adapt and transport, 10 scale): only
step 1's name is confirmed in a public source, step 4's EIF name was not found
(``name_status: placeholder``), and the level each step aims at is evalkit's reading. The position is the furthest step any evaluation plan of the
intervention is at (its ``stage``); with no plans, a logic model means steps 1-2 are done.
What the next step needs is read from the rating, so it names concrete gaps (a comparison
group, baseline equivalence, a 12-month follow-up, an independent replication).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from evalkit.evidence.assess import CHECK_LABELS
from evalkit.evidence.rate import ProgrammeRating, level_rank
from evalkit.evidence.rules import Rules


def _step_words(step: dict[str, Any]) -> dict[str, Any]:
    return {"step": step["step"], "stage": step["stage"], "name": step["name"], "name_status": step["name_status"],
            "label": f"{step['step']}. {step['name']}" + ("" if step["name_status"] == "confirmed" else
                                                          " (name unconfirmed)" if step["name_status"] == "unconfirmed"
                                                          else " (name not found; placeholder)")}


def pathway_position(stages: Iterable[tuple], rating: ProgrammeRating, rules: Rules) -> dict[str, Any]:
    """Position on the pathway from (evaluation id, stage[, design]) of each plan, and what the next step needs."""
    steps = rules.value("pathway")
    by_stage = {s["stage"]: s for s in steps}
    stages = list(stages)
    designs = {t[0]: t[2] for t in stages if len(t) > 2}
    stages = [(t[0], t[1]) for t in stages if t[1] in by_stage]
    if stages:
        current = max((by_stage[st] for _e, st in stages), key=lambda s: s["step"])
        basis = "furthest stage of its evaluation plans: " + ", ".join(
            f"{e} ({by_stage[st]['step']})" for e, st in sorted(stages, key=lambda x: (by_stage[x[1]]["step"], x[0])))
    else:
        current = by_stage["develop_logic_model"]
        basis = "no evaluation plans; a logic model exists (steps 1-2)"
    nxt = next((s for s in steps if s["step"] == current["step"] + 1), None)
    needs = []
    aims = current["aims_at"]
    if not rating.applicable:
        return {"current": _step_words(current), "next": _step_words(nxt) if nxt else None, "aims_at": None,
                "behind": False, "basis": basis,
                "needs": ["none as a programme: a place-based strategy is not rated on the EIF pathway; keep its "
                          "success measures monitored and evaluated"],
                "rule": "pathway (toolkit default; step names partly unconfirmed); place_based_not_applicable"}
    behind = level_rank(rating.level.rstrip("+")) < level_rank(str(aims).rstrip("+"))
    if behind and stages:
        at_step = [e for e, st in stages if by_stage[st]["step"] == current["step"]]
        studies = [s for s in rating.studies if s.evaluation in at_step and s.counted]
        gaps = [f"{s.evaluation}: an {s.record_status} record, not counted until checked against the published study"
                for s in rating.studies if s.evaluation in at_step and not s.counted]
        target = "3" if level_rank(str(aims).rstrip("+")) >= level_rank("3") else "2"
        for s in studies:
            blocking = s.blocking.get(target, ())
            if blocking:
                gaps.append(f"{s.evaluation}: " + ", ".join(f"{CHECK_LABELS.get(c, c)} {s.check(c).status}"
                                                          for c in blocking))
        unrated = [u.evaluation for u in rating.unrated if u.evaluation in at_step]
        if unrated:
            gaps.append(f"results for {', '.join(unrated)}")
        needs.append(f"Finish step {current['step']}: it aims at Level {aims}, the rating is {rating.level}"
                     + (f" ({'; '.join(gaps)})" if gaps else ""))
    for s in rating.studies:
        if s.feasibility and s.stage == current["stage"] and s.feasibility.get("verdict"):
            needs.insert(0, f"feasibility ({s.evaluation}): {s.feasibility['verdict']}")
    causal = [s for s in rating.studies if s.check("causal_design").status == "passed"]
    level = rating.level.rstrip("+")
    planned = [e for e, d in designs.items() if d in rules.value("causal_designs")]
    if level in ("NL2", "2") and not causal and not planned:
        needs.append("a comparison group (matched comparison, difference-in-differences or RCT)")
    if level == "3" or level == "4":
        qualifying = [g.main for g in rating.study_groups if g.main.supports == "3"]
        months = rules.value("level4_follow_up_months")
        if len(qualifying) < rules.value("level4_min_studies"):
            needs.append("an independent replication: a second rigorous study, on a new sample, with a positive "
                         "child outcome")
        if not any((s.months_after_end or 0) >= months for s in qualifying):
            needs.append(f"a child outcome still improved {months} months or more after the programme ended")
        if not any(s.independent for s in qualifying):
            needs.append("an evaluation by an independent evaluator")
    if not (behind and stages) and nxt is not None:
        needs.append(current["next_needs"])
    return {
        "current": _step_words(current), "next": _step_words(nxt) if nxt else None, "aims_at": aims,
        "behind": bool(behind and stages), "basis": basis, "needs": list(dict.fromkeys(needs)),
        "rule": "pathway (toolkit default; step names partly unconfirmed)",
    }
