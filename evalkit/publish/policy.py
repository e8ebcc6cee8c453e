"""The disclosure policy of a project: which counts are hidden, which are rounded, and where it is set.

Two policies (``disclosure.policy`` in the project's ``evalkit.yml``):

- ``suppress`` (the default): a count from 1 to ``threshold - 1`` is never shown (threshold 5 by
  default); other counts are shown exactly; zero is shown (it discloses no person).
- ``round``: in the style of NHS Digital's HES/ECDS rule: counts from 1 to ``threshold - 1`` are
  suppressed (threshold 8 by default, i.e. 1 to 7), every other count is rounded to the nearest
  ``round_to`` (5); rates and percentages are derived from the unrounded counts, and the page
  says so.

Under both, complementary suppression (:mod:`evalkit.publish.ledger`) hides further cells
wherever a hidden count could be worked out from linked published values.

``evalkit.yml`` (project root; only its ``disclosure:`` block is read here)::

    disclosure:
      policy: suppress      # suppress | round
      threshold: 5          # counts 1 .. threshold-1 are hidden (round: default 8)
      round_to: 5           # round only: counts are shown to the nearest round_to

When ``evalkit.yml`` sets nothing, ``monitoring/monitor.yml``'s older ``disclosure.min_count``
gives the threshold; when both are set they must agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from evalkit.errors import EvalkitError

PROJECT_FILE = "evalkit.yml"
MARK = "[c]"  # the ONS mark for a confidential cell


class DisclosureError(EvalkitError):
    """A published output would show (or let a reader work out) a count under the threshold."""


class PolicyKind(str, Enum):
    suppress = "suppress"
    round = "round"


DEFAULT_THRESHOLD = {PolicyKind.suppress: 5, PolicyKind.round: 8}


@dataclass(frozen=True)
class Policy:
    """What a publication may show of a count. Frozen; passed explicitly to every writer."""

    kind: PolicyKind = PolicyKind.suppress
    threshold: int = 5
    round_to: int = 5
    source: str = "evalkit's default"  # where the setting came from, named on the page
    mark: str = MARK

    def __post_init__(self):
        if not isinstance(self.kind, PolicyKind):
            try:
                object.__setattr__(self, "kind", PolicyKind(self.kind))
            except ValueError:
                raise DisclosureSettingError(f"disclosure policy: found {self.kind!r}; expected one of "
                                             f"{', '.join(k.value for k in PolicyKind)}") from None
        check_threshold(self.threshold, "disclosure threshold")

    # ---------------------------------------------------------------- what a count shows

    def small(self, n) -> bool:
        """A count the policy never shows: 1 .. threshold-1 (zero and missing are not small)."""
        if n is None:
            return False
        try:
            v = float(n)
        except (TypeError, ValueError):
            return False
        return not math.isnan(v) and 0 < v < self.threshold

    def shown(self, n: int) -> int:
        """The value a published (not hidden) count shows: exact, or rounded to ``round_to``."""
        n = int(n)
        if self.kind is PolicyKind.round and n:
            return int(math.floor(n / self.round_to + 0.5) * self.round_to)
        return n

    def interval(self, shown: int) -> tuple[float, float]:
        """What a reader knows of a count from what the page shows for it."""
        if self.kind is PolicyKind.round and shown:
            half = (self.round_to - 1) // 2 if self.round_to % 2 else self.round_to // 2
            return max(float(self.threshold), shown - half), float(shown + half)
        return float(shown), float(shown)

    @property
    def small_words(self) -> str:
        return f"fewer than {self.threshold}"

    # ---------------------------------------------------------------- the sentence on every page

    def describe(self) -> str:
        if self.kind is PolicyKind.round:
            return (f"Disclosure control (policy 'round', {self.source}): counts from 1 to {self.threshold - 1} are "
                    f"suppressed ({self.mark}) and every other count is rounded to the nearest {self.round_to}; rates "
                    "and percentages are calculated from the unrounded counts, so they may differ slightly from "
                    f"the rounded counts shown. Further cells are shown as {self.mark} where they would let a "
                    "suppressed count be worked out.")
        return (f"Disclosure control (policy 'suppress', {self.source}): counts from 1 to {self.threshold - 1} are "
                f"not shown ({self.mark}, or 'fewer than {self.threshold}' in the text), and further cells are shown "
                f"as {self.mark} where they would let such a count be worked out from totals, other cells, "
                "percentages or other pages. Zero is shown.")

    def to_json(self) -> dict:
        return {"policy": self.kind.value, "threshold": self.threshold, "round_to": self.round_to,
                "mark": self.mark, "source": self.source}

    @classmethod
    def from_json(cls, data: dict) -> "Policy":
        return cls(kind=PolicyKind(data.get("policy", "suppress")), threshold=int(data.get("threshold", 5)),
                   round_to=int(data.get("round_to", 5)), source=str(data.get("source", "page")),
                   mark=str(data.get("mark", MARK)))

    def with_threshold(self, threshold: int, source: str) -> "Policy":
        check_threshold(threshold, source)
        return replace(self, threshold=int(threshold), source=source)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_threshold(value, where: str) -> None:
    if not _whole(value) or value < 1:
        raise DisclosureSettingError(f"{where}: found {value!r}; expected a whole number of at least 1")


class DisclosureSettingError(EvalkitError):
    """The project's disclosure setting is not valid."""


_KEYS = ("policy", "threshold", "round_to")


def project_policy(root: Path | str | None) -> Policy:
    """The project's policy: ``evalkit.yml`` ``disclosure:``, else monitor.yml's ``min_count``, else defaults."""
    if root is None:
        return Policy()
    root = Path(root)
    path = root / PROJECT_FILE
    policy, threshold_set = _read_project_file(path) if path.exists() else (None, False)
    legacy = _monitor_min_count(root)
    if legacy is not None:
        value, line = legacy
        check_threshold(value, f"monitoring/monitor.yml:{line}: disclosure.min_count")
    if policy is None:
        if legacy is None:
            return Policy()
        return Policy(threshold=legacy[0], source="monitoring/monitor.yml disclosure.min_count")
    if legacy is not None and threshold_set and legacy[0] != policy.threshold:
        raise DisclosureSettingError(
            f"monitoring/monitor.yml:{legacy[1]}: disclosure.min_count: found {legacy[0]!r}, but {PROJECT_FILE} sets "
            f"threshold {policy.threshold}; expected one setting (remove min_count, or make the two agree)")
    if legacy is not None and not threshold_set:
        policy = replace(policy, threshold=legacy[0])
    return policy


def _read_project_file(path: Path) -> tuple[Policy | None, bool]:
    from evalkit.spec.yamlio import read_yaml

    doc = read_yaml(path)
    if doc.problems:
        raise DisclosureSettingError(str(doc.problems[0]))
    data = doc.data
    if data is None:
        return None, False
    if not isinstance(data, dict):
        raise DisclosureSettingError(f"{path.name}:1: found {type(data).__name__}; expected a mapping of settings")
    block = data.get("disclosure")
    if block is None:
        return None, False
    line = doc.line_of(("disclosure",))
    if not isinstance(block, dict):
        raise DisclosureSettingError(f"{path.name}:{line}: disclosure: found {block!r}; expected a mapping with "
                                     f"{', '.join(_KEYS)}")
    unknown = [k for k in block if k not in _KEYS]
    if unknown:
        raise DisclosureSettingError(f"{path.name}:{doc.line_of(('disclosure', unknown[0]))}: disclosure."
                                     f"{unknown[0]}: unknown setting; expected one of {', '.join(_KEYS)}")
    raw_kind = block.get("policy", "suppress")
    try:
        kind = PolicyKind(raw_kind)
    except ValueError:
        raise DisclosureSettingError(
            f"{path.name}:{doc.line_of(('disclosure', 'policy'))}: disclosure.policy: found {raw_kind!r}; expected "
            f"one of {', '.join(k.value for k in PolicyKind)}") from None
    threshold = block.get("threshold", DEFAULT_THRESHOLD[kind])
    check_threshold(threshold, f"{path.name}:{doc.line_of(('disclosure', 'threshold'))}: disclosure.threshold")
    round_to = block.get("round_to", 5)
    if not _whole(round_to) or round_to < 2:
        raise DisclosureSettingError(f"{path.name}:{doc.line_of(('disclosure', 'round_to'))}: disclosure.round_to: "
                                     f"found {round_to!r}; expected a whole number of at least 2")
    return Policy(kind=kind, threshold=threshold, round_to=round_to, source=PROJECT_FILE), "threshold" in block


def _monitor_min_count(root: Path):
    path = root / "monitoring" / "monitor.yml"
    if not path.exists():
        return None
    from evalkit.spec.yamlio import read_yaml

    doc = read_yaml(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    block = data.get("disclosure")
    if isinstance(block, dict) and "min_count" in block:
        return block["min_count"], doc.line_of(("disclosure", "min_count"))
    return None
