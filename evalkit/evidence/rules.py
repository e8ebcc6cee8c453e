"""The evidence rules: one versioned YAML file (``rules.yml``), read and checked once.

Every rule carries ``published_by`` (``EIF`` or ``toolkit_default``) so a rating can say which
kind of rule it rests on. Code reads rules only through :class:`Rules`, never by hard-coded
numbers, so changing a threshold is an edit to the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.evidence.errors import EvidenceError

RULES_SCHEMA = "evalkit.evidence-rules/v1"
DEFAULT_RULES = Path(__file__).with_name("rules.yml")
PUBLISHED_BY = ("EIF", "toolkit_default")
STATUSES = ("confirmed", "unconfirmed")
RULE_KEYS = {"value", "published_by", "status", "says", "source"}
# the rules the code reads; a rules file missing one is rejected at load time
REQUIRED = (
    "level_scale", "child_outcome_required", "level2_preliminary", "level3_rigorous", "level4_min_studies",
    "level4_follow_up_months", "not_effective_flag", "harm_sets_not_effective", "significance_alpha",
    "holm_adjusted_p", "positive_on", "causal_designs", "min_n_per_arm", "baseline_equivalence_bands",
    "baseline_equivalence_required", "wwc_attrition_boundary", "attrition_boundary_kind",
    "high_attrition_needs_equivalence", "self_assessment", "place_based_not_applicable", "unrated_record_status",
    "one_sample_one_study", "follow_up_counts_from",
    "administrative_records_valid", "intention_to_treat_rct", "robustness_must_not_fail",
    "parallel_trends_alpha", "level2_must_pass", "level3_must_pass", "level3_must_not_fail", "plus",
    "maryland_sms", "pathway",
)


@dataclass(frozen=True)
class Rule:
    id: str
    value: Any
    published_by: str  # EIF | toolkit_default
    status: str  # confirmed | unconfirmed
    says: str
    source: str


@dataclass(frozen=True)
class Rules:
    version: str
    path: str
    rules: Mapping[str, Rule]

    def __getitem__(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def value(self, rule_id: str) -> Any:
        return self.rules[rule_id].value

    def cite(self, rule_ids) -> dict[str, list[str]]:
        """Rule ids grouped by who published them: {"EIF": [...], "toolkit_default": [...]}."""
        out: dict[str, list[str]] = {k: [] for k in PUBLISHED_BY}
        for rid in dict.fromkeys(rule_ids):
            out[self.rules[rid].published_by].append(rid)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "file": self.path,
                "rules": {r.id: {"value": r.value, "published_by": r.published_by, "status": r.status,
                                 "says": r.says, "source": r.source} for r in self.rules.values()}}


def load_rules(path: Path | str | None = None) -> Rules:
    """Read and check a rules file (default: the one shipped with evalkit)."""
    import yaml

    path = Path(path) if path is not None else DEFAULT_RULES
    shown = path.name if path == DEFAULT_RULES else str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvidenceError(f"{shown}: no such rules file") from None
    except yaml.YAMLError as exc:
        raise EvidenceError(f"{shown}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise EvidenceError(f"{shown}: expected a mapping with schema, version and rules")
    if data.get("schema") != RULES_SCHEMA:
        raise EvidenceError(f"{shown}: schema is {data.get('schema')!r}; expected {RULES_SCHEMA!r}")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise EvidenceError(f"{shown}: version: expected a version string such as \"1.0.0\", found {version!r}")
    raw = data.get("rules")
    if not isinstance(raw, dict):
        raise EvidenceError(f"{shown}: rules: expected a mapping of rule id -> rule")
    rules = {}
    for rid, body in raw.items():
        where = f"{shown}: rules.{rid}"
        if not isinstance(body, dict):
            raise EvidenceError(f"{where}: expected a mapping with {', '.join(sorted(RULE_KEYS))}")
        unknown = set(body) - RULE_KEYS
        if unknown:
            raise EvidenceError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                                f"expected only {', '.join(sorted(RULE_KEYS))}")
        if body.get("published_by") not in PUBLISHED_BY:
            raise EvidenceError(f"{where}.published_by: found {body.get('published_by')!r}; expected one of "
                                f"{', '.join(repr(p) for p in PUBLISHED_BY)}")
        if body.get("status") not in STATUSES:
            raise EvidenceError(f"{where}.status: found {body.get('status')!r}; expected one of "
                                f"{', '.join(repr(s) for s in STATUSES)}")
        for key in ("says", "source"):
            if not isinstance(body.get(key), str) or not body[key].strip():
                raise EvidenceError(f"{where}.{key}: expected a sentence, found {body.get(key)!r}")
        if "value" not in body:
            raise EvidenceError(f"{where}.value: missing (use null for 'not known yet')")
        rules[rid] = Rule(id=rid, value=body["value"], published_by=body["published_by"], status=body["status"],
                          says=" ".join(body["says"].split()), source=body["source"].strip())
    missing = [r for r in REQUIRED if r not in rules]
    if missing:
        raise EvidenceError(f"{shown}: rules missing: {', '.join(missing)}")
    _check_values(shown, rules)
    return Rules(version=version, path=shown, rules=rules)


def _check_values(shown: str, rules: Mapping[str, Rule]) -> None:
    def bad(rid, expected):
        raise EvidenceError(f"{shown}: rules.{rid}.value: found {rules[rid].value!r}; expected {expected}")

    alpha = rules["significance_alpha"].value
    if not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        bad("significance_alpha", "a number between 0 and 1")
    for rid in ("min_n_per_arm", "level4_min_studies", "level4_follow_up_months"):
        v = rules[rid].value
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            bad(rid, "a whole number >= 0")
    bands = rules["baseline_equivalence_bands"].value
    if not (isinstance(bands, dict) and set(bands) == {"no_adjustment_max", "with_adjustment_max"}
            and all(isinstance(v, (int, float)) and v >= 0 for v in bands.values())
            and bands["no_adjustment_max"] <= bands["with_adjustment_max"]):
        bad("baseline_equivalence_bands", "{no_adjustment_max: 0.05, with_adjustment_max: 0.25}")
    boundary = rules["wwc_attrition_boundary"].value

    def pct(v, none_ok):
        return (v is None and none_ok) or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 100)

    ok = isinstance(boundary, list) and boundary and all(
        isinstance(row, dict) and set(row) == {"overall", "cautious", "optimistic"} and pct(row["overall"], False)
        and pct(row["cautious"], True) and pct(row["optimistic"], True) for row in boundary)
    if ok:
        overall = [row["overall"] for row in boundary]
        ok = overall == sorted(overall) and len(set(overall)) == len(overall)
    if not ok:
        bad("wwc_attrition_boundary", "rows of {overall, cautious, optimistic} in percent (0-100; null where no "
                                      "differential attrition is low), overall rising")
    if rules["attrition_boundary_kind"].value not in ("cautious", "optimistic", "liberal"):
        bad("attrition_boundary_kind", "'cautious' or 'optimistic'")
    if not isinstance(rules["unrated_record_status"].value, list):
        bad("unrated_record_status", "a list such as [unverified, illustrative]")
    if rules["follow_up_counts_from"].value not in ("programme_end", "start"):
        bad("follow_up_counts_from", "'programme_end' or 'start'")
    if rules["positive_on"].value not in ("any_child_outcome", "primary"):
        bad("positive_on", "'any_child_outcome' or 'primary'")
    plus = rules["plus"].value
    if not (isinstance(plus, dict) and set(plus) == {"enabled", "extra_studies", "independent_evaluator"}):
        bad("plus", "{enabled: false, extra_studies: 1, independent_evaluator: true}")
    if rules["level_scale"].value != ["NL2", "2", "2+", "3", "3+", "4", "4+"]:
        bad("level_scale", "[NL2, '2', '2+', '3', '3+', '4', '4+'] (the EIF scale; it is not configurable)")
    steps = rules["pathway"].value
    if not (isinstance(steps, list) and [s.get("step") for s in steps if isinstance(s, dict)] == list(range(1, 11))):
        bad("pathway", "ten steps numbered 1 to 10, each with stage, name, name_status, aims_at, next_needs")
