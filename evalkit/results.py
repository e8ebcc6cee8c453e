"""Results as data: frozen records, one tidy frame, and a versioned JSON file.

Every design returns the same kinds of record (:class:`Estimate`, :class:`FlowStage`,
:class:`RunWarning`) plus design-specific ``sections`` (balance, reliable change, refutations,
...) held as plain JSON-able data. Summaries, plots, ratings and reports are functions of a
:class:`ResultSet`; nothing is bolted onto it. ``results.json`` is canonical JSON (sorted keys,
no time stamps) so that the same inputs give a byte-identical file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

SCHEMA = "evalkit.results/v2"
# v1 files hold the same records; v2 adds the typed sections (evalkit.result_sections) and the
# published JSON Schema (schemas/results-v2.json). Both are read.
READABLE_SCHEMAS = ("evalkit.results/v1", SCHEMA)
# ResultSet.to_frame(): its columns, and those that are numbers (floats, NaN where missing)
FRAME_COLUMNS = ("evaluation", "indicator", "subgroup", "design", "estimand", "comparison", "timepoints",
                 "n", "n_treated", "n_comparison", "estimate", "std_error", "ci_low", "ci_high", "ci_level",
                 "p_value", "p_value_holm", "effect_size_kind", "effect_size", "effect_size_ci_low",
                 "effect_size_ci_high", "direction_good", "primary", "units", "method")
FLOAT_COLUMNS = ("n_treated", "n_comparison", "estimate", "std_error", "ci_low", "ci_high", "ci_level", "p_value",
                 "p_value_holm", "effect_size", "effect_size_ci_low", "effect_size_ci_high")


@dataclass(frozen=True)
class EffectSize:
    kind: str  # hedges_g_av, d_z, d_av, risk_ratio, rate_ratio, odds_ratio, cohens_h, ...
    value: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Estimate:
    """One estimate for one indicator and one comparison (and subgroup, where asked)."""

    indicator: str
    design: str
    estimand: str  # mean_change, change_in_proportion, rate_ratio, att, ate, did, level_change, ...
    timepoints: tuple[str, ...]  # e.g. ("baseline", "exit")
    n: int  # units analysed
    estimate: float
    std_error: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    method: str  # e.g. "paired t-test", "WLS on matched sample, cluster-robust (pair) HC1"
    units: str  # what the estimate is measured in, e.g. "points", "proportion", "ratio"
    direction_good: bool | None  # is the estimate's direction the indicator's good direction?
    effect_size: EffectSize | None = None
    primary: bool = False
    subgroup: str = "all"  # "all", or "column=value"
    comparison: str = ""  # in words, e.g. "exit vs baseline"
    ci_level: float = 0.95
    p_value_holm: float | None = None
    n_treated: int | None = None
    n_comparison: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # further statistics, JSON-able


@dataclass(frozen=True)
class FlowStage:
    """Participant counts at one stage (CONSORT-style), per group where there are groups."""

    stage: str  # in_data, with_baseline, with_follow_up, analysed, matched, ...
    n: int
    group: str = "all"
    indicator: str | None = None
    note: str = ""


@dataclass(frozen=True)
class RunWarning:
    """Something a careful reader should know; reports write limitations from these.

    A warning that states counts of people carries them typed: ``template`` is the message with
    ``{name}`` fields (``{name:pct_of:other}`` for a percentage of two counts) and ``counts`` the
    numbers, so a published page writes the sentence from disclosure-controlled values
    (:mod:`evalkit.publish`); ``message`` is the same sentence with the plain numbers, for analysts.
    Build one with :meth:`counted`.
    """

    code: str  # e.g. few_pairs, high_attrition, regression_to_mean, no_causal_claim
    message: str
    indicator: str | None = None
    template: str = ""
    counts: tuple[tuple[str, int], ...] = ()  # (name, value) pairs; a mapping is accepted and sorted

    def __post_init__(self):
        if isinstance(self.counts, Mapping):  # hashable, in a canonical order
            object.__setattr__(self, "counts", tuple(sorted((str(k), int(v)) for k, v in self.counts.items())))

    @classmethod
    def counted(cls, code: str, template: str, indicator: str | None = None, **counts: int) -> "RunWarning":
        counts = {k: int(v) for k, v in counts.items()}
        return cls(code, fill_template(template, counts), indicator, template, counts)


def fill_template(template: str, counts: Mapping[str, Any], show=str, share=None) -> str:
    """``template`` with each ``{name}`` replaced by ``show(counts[name])`` and each
    ``{name:pct_of:other}`` by ``share(name, other)`` (default: the plain percentage)."""
    import string

    share = share or (lambda a, b: f"{counts[a] / counts[b]:.0%}" if counts[b] else "-")
    out = []
    for literal, name, spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if spec and spec.startswith("pct_of:"):
            out.append(share(name, spec.split(":", 1)[1]))
        else:
            out.append(show(counts[name]))
    return "".join(out)


@dataclass(frozen=True)
class Manifest:
    evalkit_version: str
    python_version: str
    dependencies: Mapping[str, str]
    seed: int
    inputs: tuple[Mapping[str, Any], ...]  # {path, sha256, rows, columns}
    options: Mapping[str, Any]


@dataclass(frozen=True)
class ResultSet:
    evaluation: str
    intervention: str
    title: str
    design: str
    estimates: tuple[Estimate, ...]
    flow: tuple[FlowStage, ...]
    warnings: tuple[RunWarning, ...]
    sections: Mapping[str, Any]
    manifest: Manifest
    schema: str = SCHEMA

    def to_frame(self):
        """The tidy table every report reads: one row per estimate.

        Numeric columns are floats with NaN where a value does not exist (``n`` is a whole
        number and ``direction_good`` a nullable boolean), so they sum, plot and compare as
        numbers; ``to_dict`` / ``results.json`` keep ``null`` instead.
        """
        import pandas as pd

        rows = []
        for e in self.estimates:
            row = {f.name: getattr(e, f.name) for f in fields(e) if f.name not in ("effect_size", "details")}
            row["timepoints"] = " -> ".join(e.timepoints)
            es = e.effect_size
            row.update(effect_size_kind=es.kind if es else None, effect_size=es.value if es else None,
                       effect_size_ci_low=es.ci_low if es else None, effect_size_ci_high=es.ci_high if es else None)
            row["evaluation"] = self.evaluation
            rows.append(row)
        for row in rows:
            for column in FLOAT_COLUMNS:
                row[column] = math.nan if row[column] is None else float(row[column])
        frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
        frame = frame.astype({c: "float64" for c in FLOAT_COLUMNS})
        frame["n"] = frame["n"].astype("int64")
        frame["primary"] = frame["primary"].astype("bool")
        frame["direction_good"] = frame["direction_good"].astype("boolean")
        return frame

    def summary(self) -> str:
        """The estimates as a text table with the study's header, methods and warnings."""
        from evalkit.describe import result_summary

        return result_summary(self)

    def _repr_html_(self) -> str:
        from evalkit.describe import result_html

        return result_html(self)

    def __repr__(self) -> str:
        return (f"<ResultSet {self.evaluation}: {self.design}, {len(self.estimates)} estimate(s), "
                f"{len(self.warnings)} warning(s); .summary() for the table>")

    def section(self, key: str):
        """The typed record of section ``key`` (:mod:`evalkit.result_sections`), or None if the design
        did not write it. An unknown key, or a field the record does not declare, is an error."""
        from evalkit.result_sections import section_record

        data = self.sections.get(key)
        if data is None:
            from evalkit.result_sections import section_types

            if key not in section_types():
                section_record(key, {})  # raises, naming the known sections
            return None
        return section_record(key, data)

    def flow_frame(self):
        import pandas as pd

        return pd.DataFrame([asdict(s) for s in self.flow], columns=["stage", "n", "group", "indicator", "note"])

    def to_dict(self) -> dict[str, Any]:
        return _plain({
            "schema": self.schema, "evaluation": self.evaluation, "intervention": self.intervention,
            "title": self.title, "design": self.design,
            "estimates": [asdict(e) for e in self.estimates], "flow": [asdict(s) for s in self.flow],
            "warnings": [_warning_dict(w) for w in self.warnings], "sections": self.sections,
            "manifest": asdict(self.manifest),
        })

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"

    def write(self, path: Path) -> Path:
        """Write atomically: a reader never sees half a results file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(self.to_json(), encoding="utf-8")
            tmp.replace(path)
        except BaseException:  # a full disk or a kill: no partial file left behind
            tmp.unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ResultSet":
        from evalkit.errors import EvalkitError

        if data.get("schema") not in READABLE_SCHEMAS:
            raise EvalkitError(f"results file has schema {data.get('schema')!r}; expected one of "
                               f"{', '.join(map(repr, READABLE_SCHEMAS))}")
        estimates = []
        for e in data["estimates"]:
            e = dict(e)
            e["timepoints"] = tuple(e["timepoints"])
            e["effect_size"] = EffectSize(**e["effect_size"]) if e.get("effect_size") else None
            estimates.append(Estimate(**e))
        manifest = dict(data["manifest"])
        manifest["inputs"] = tuple(manifest["inputs"])
        return cls(evaluation=data["evaluation"], intervention=data["intervention"], title=data["title"],
                   design=data["design"], estimates=tuple(estimates),
                   flow=tuple(FlowStage(**s) for s in data["flow"]),
                   warnings=tuple(RunWarning(**w) for w in data["warnings"]),
                   sections=data["sections"], manifest=Manifest(**manifest), schema=data["schema"])

    @classmethod
    def read(cls, path: Path) -> "ResultSet":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _warning_dict(w: RunWarning) -> dict:
    d = asdict(w)
    if not w.template and not w.counts:  # warnings without typed counts keep their v1 form
        d.pop("template")
        d.pop("counts")
    else:
        d["counts"] = dict(w.counts)
    return d


def _plain(value: Any) -> Any:
    """JSON-able, deterministic: tuples to lists, numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
            if isinstance(value, (bool, int)):
                return value
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


# ---------------------------------------------------------------------------- the JSON Schema


def results_json_schema() -> dict:
    """The JSON Schema of ``results.json`` (``evalkit.results/v2``), generated from the records."""
    from evalkit.result_sections import RESULTS_SCHEMA_ID, PerIndicator, record_schema, section_types, type_schema

    defs: dict = {}
    sections = {}
    for key, kind in section_types().items():
        if issubclass(kind, PerIndicator):
            entry = getattr(kind, "ENTRY", None)  # a typed entry where the section declares one
            sections[key] = {"type": "object", "description": " ".join(kind.__doc__.split()),
                             "additionalProperties": type_schema(entry, defs) if entry else {"type": "object"}}
        else:
            sections[key] = type_schema(kind, defs)
    top = record_schema(ResultSet, defs)
    top["properties"]["schema"] = {"const": SCHEMA}
    top["properties"]["sections"] = {"type": "object", "properties": sections, "additionalProperties": False}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": RESULTS_SCHEMA_ID,
            "title": "evalkit results (evalkit.results/v2)", **top, "$defs": dict(sorted(defs.items()))}


def results_schema_text() -> str:
    return json.dumps(results_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover - `python -m evalkit.results > schemas/results-v2.json`
    print(results_schema_text(), end="")
