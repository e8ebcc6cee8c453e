"""Skeleton YAML files written from the pydantic formats themselves, so they cannot drift.

:func:`emit` walks a raw model's fields in their declared order and writes one YAML line per
key: the value the caller gives, else a placeholder ``<...>`` for a required key (the user's
own words or column names go there), else the key commented out with its default, for the
user to switch on. Each line's comment is read off the field: an enum's or literal's valid
choices, and the field's description. :func:`logic_model_skeleton` and
:func:`evaluation_skeleton` choose the values: a design's data keys, its indicators' timepoints
(with the valid timepoint names), the sections it reads.

Placeholders are ``<text>`` values (or file names, ``data/<participants>.csv``); ``evalkit
validate`` reports each one left (:func:`evalkit.project.placeholders`).
"""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel

from evalkit.spec import raw as r
from evalkit.spec.designs import REGISTRY

COMMENT_COLUMN = 39  # comments start here (as in the example project's files) when the line allows


def placeholder(text: str) -> str:
    return f"<{text}>"


class Commented:
    """A value written commented out: an optional key shown with its default or an example."""

    def __init__(self, value: Any):
        self.value = value


@dataclass
class Line:
    indent: int
    text: str
    comment: str = ""
    commented: int | None = None  # commented out: the indent of its block's first key ("# " goes there)

    def render(self) -> str:
        if self.commented is None:
            body = " " * self.indent + self.text
        else:  # uncommenting (deleting "# ") gives the YAML back, indentation and all
            body = " " * self.commented + "# " + " " * (self.indent - self.commented) + self.text
        if not self.comment:
            return body
        pad = max(COMMENT_COLUMN - len(body), 2)
        return body + " " * pad + "# " + self.comment


def render(lines: list[Line], header: list[str]) -> str:
    return "\n".join([*(f"# {h}" if h else "#" for h in header), *(line.render() for line in lines)]) + "\n"


# ---------------------------------------------------------------------------- reading the models


def _unwrap(annotation):
    """The annotation without Annotated and Optional."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _model_of(annotation) -> type[BaseModel] | None:
    a = _unwrap(annotation)
    return a if isinstance(a, type) and issubclass(a, BaseModel) else None


def _item_model(annotation) -> type[BaseModel] | None:
    a = _unwrap(annotation)
    if typing.get_origin(a) is list:
        return _model_of(typing.get_args(a)[0])
    return None


def choices(annotation) -> list[str]:
    """The valid values of an enum or literal field (or of its items), else nothing."""
    a = _unwrap(annotation)
    if typing.get_origin(a) in (list, tuple):
        args = [x for x in typing.get_args(a) if x is not Ellipsis]
        return choices(args[0]) if args else []
    if typing.get_origin(a) is typing.Literal:
        return [str(v) for v in typing.get_args(a)]
    if isinstance(a, type) and issubclass(a, Enum):
        return [str(m.value) for m in a]
    if a is bool:
        return ["true", "false"]
    return []


def field_comment(model: type[BaseModel], name: str, extra: str = "") -> str:
    field = model.model_fields[name]
    text = extra or field.description or ""  # the caller's words replace the generic description
    options = choices(field.annotation)
    if options and options != ["true", "false"] or (options and not text):
        text = (text + ": " if text else "") + " | ".join(options)
    return text


def scalar(value: Any) -> str:
    """One YAML value in flow style, quoted only where YAML needs it."""
    import yaml

    if isinstance(value, Enum):
        value = value.value
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True, sort_keys=False)
    return text.strip().removesuffix("...").strip()


# ---------------------------------------------------------------------------- writing


def emit(model: type[BaseModel], values: dict[str, Any], indent: int = 0, commented: int | None = None,
         comments: dict[str, str] | None = None, item: bool = False) -> list[Line]:
    """The lines of one mapping of ``model``: ``values`` where given (a :class:`Commented` value is
    written commented out), a placeholder for every other required key; other keys are left out.
    ``comments`` add the caller's words to a key's comment; ``item`` writes it as a list item."""
    comments = comments or {}
    lines: list[Line] = []
    for name, field in model.model_fields.items():
        if name in values:
            value = values[name]
        elif field.is_required():
            value = placeholder(name.replace("_", " "))
        else:
            continue
        off = commented
        if isinstance(value, Commented):
            value = value.value
            off = indent if commented is None else commented
        lines += _key(model, name, value, indent, off, comments.get(name, ""))
    if item and lines:  # "- " before the first key; the others line up under it
        first = lines[0]
        lines[0] = Line(first.indent, "- " + first.text, first.comment, first.commented)
        for line in lines[1:]:
            line.indent += 2
    return lines


def _key(model, name: str, value: Any, indent: int, commented: int | None, extra: str) -> list[Line]:
    field = model.model_fields[name]
    comment = field_comment(model, name, extra)
    sub, item = _model_of(field.annotation), _item_model(field.annotation)
    if sub is not None and isinstance(value, dict):
        return [Line(indent, f"{name}:", comment, commented)] + emit(sub, value, indent + 2, commented)
    if item is not None and isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        lines = [Line(indent, f"{name}:", comment, commented)]
        for v in value:
            lines += emit(item, v, indent + 2, commented, item=True)
        return lines
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):  # links: one pair a line
        return [Line(indent, f"{name}:", comment, commented)] + [
            Line(indent + 2, f"- {scalar(v)}", "", commented) for v in value]
    if isinstance(value, dict) and value and _is_mapping(field.annotation):
        lines = [Line(indent, f"{name}:", comment, commented)]
        lines += _mapping(value, indent + 2, commented)
        return lines
    return [Line(indent, f"{name}: {scalar(value)}", comment, commented)]


def _mapping(value: dict, indent: int, commented: int | None) -> list[Line]:
    """A plain mapping (indicator -> column, indicator -> {timepoint: column}) in block style;
    a value may be (value, comment) or :class:`Commented`."""
    lines = []
    for key, v in value.items():
        note, off = "", commented
        if isinstance(v, tuple):
            v, note = v
        if isinstance(v, Commented):
            v, off = v.value, indent if commented is None else commented
        if isinstance(v, dict):
            lines.append(Line(indent, f"{key}:", note, off))
            lines += _mapping(v, indent + 2, off)
        else:
            lines.append(Line(indent, f"{key}: {scalar(v)}", note, off))
    return lines


def _is_mapping(annotation) -> bool:
    return typing.get_origin(_unwrap(annotation)) is dict


# ---------------------------------------------------------------------------- logic models

# a placeholder's words, by key: what the user writes there
WORDS = {
    "name": "the intervention's name", "summary": "one sentence on what it does and for whom",
    "problem": "the problem it addresses, in a sentence or two", "description": "who it is for, in words",
    "title": "what this study asks, in a line",
}


def logic_model_skeleton(model_id: str) -> str:
    """A logic model with every required key, a minimal theory of change that validates once the
    placeholders are written, and the optional keys commented out."""
    node = {"activity": ("activity-1", "what the programme does"),
            "output": ("output-1", "what it delivers, e.g. sessions attended"),
            "outcome": ("outcome-1", "what changes for the people it serves")}
    values = {
        "id": model_id,
        "name": placeholder(WORDS["name"]),
        "summary": placeholder(WORDS["summary"]),
        "prevention": r.Prevention.secondary,
        "population": {"description": placeholder(WORDS["description"]), "age": [10, 17],
                       "area": Commented(placeholder("where it runs"))},
        "problem": placeholder(WORDS["problem"]),
        "evidence": Commented([{"source": "YEF Toolkit", "approach": placeholder("the approach, e.g. Mentoring"),
                                "impact": r.YefImpact.moderate, "retrieved": dt.date(2024, 3, 1)}]),
        "theory_of_change": {
            "activities": [{"id": node["activity"][0], "label": placeholder(node["activity"][1])}],
            "outputs": [{"id": node["output"][0], "label": placeholder(node["output"][1])}],
            "outcomes": [{"id": node["outcome"][0], "label": placeholder(node["outcome"][1]),
                          "horizon": r.Horizon.short}],
            "impact": Commented([{"id": "impact-1", "label": placeholder("the long-term change")}]),
            "links": [[node["activity"][0], node["output"][0]], [node["output"][0], node["outcome"][0]]],
            "assumptions": Commented([placeholder("what must hold for the links to work")]),
        },
        "indicators": [{
            "id": "indicator_1", "label": placeholder("what is measured, in words"), "measures": node["outcome"][0],
            "type": r.IndicatorType.score, "direction": r.Direction.increase, "source": r.Source.survey,
            "instrument": Commented({"name": placeholder("the questionnaire"), "range": [0, 40], "validated": True,
                                     "reliability": 0.8}),
            "target": Commented({"value": placeholder("the target value"), "per": r.Period.month}),
            "rate_per": Commented(100000), "child_outcome": Commented(True),
        }],
    }
    lines = emit(r.LogicModelFile, values, comments={
        "id": "the file's id: evaluation plans name it", "indicators": "at least one",
        "theory_of_change": "ids: lowercase letters, digits, '-' or '_'"})
    header = ["yaml-language-server: $schema=../schemas/logic_model.schema.json",
              f"A logic model: the theory of change of '{model_id}' and the indicators that measure it.",
              "Write your own words in place of every <...>, rename the ids as you like (links and",
              "indicators use them), and uncomment what you need. Then: evalkit validate"]
    return render(lines, header)


# ---------------------------------------------------------------------------- evaluation plans

# the pathway step a study of each design usually is (the user may change it)
DESIGN_STAGE = {
    r.Design.pre_post: r.Stage.pilot_for_outcomes,
    r.Design.matched_comparison: r.Stage.test_for_efficacy,
    r.Design.difference_in_differences: r.Stage.test_for_efficacy,
    r.Design.interrupted_time_series: r.Stage.refine_and_monitor,
    r.Design.rct: r.Stage.test_for_efficacy,
    r.Design.feasibility: r.Stage.test_feasibility,
    r.Design.comparison_areas: r.Stage.refine_and_monitor,
}
LONG_FORM = {d for d, e in REGISTRY.items() if e.long_form}  # one row per unit per period
AREA_DESIGNS = {r.Design.interrupted_time_series, r.Design.comparison_areas}  # counts in areas, with populations
# what the data file holds, in the user's words, per design
DATA_WORDS = {
    r.Design.pre_post: "one row per participant, each measure at each timepoint in its own column",
    r.Design.matched_comparison: "participants in one file and the comparison pool in another, same columns "
                                 "(or both in one file with a 0/1 treatment column)",
    r.Design.difference_in_differences: "one row per unit per period (long form)",
    r.Design.interrupted_time_series: "one row per area per month (long form), with the population",
    r.Design.rct: "one row per randomised unit, the arm as a 0/1 column",
    r.Design.feasibility: "one row per referral (case records)",
    r.Design.comparison_areas: "one row per area per month (long form): the treated area and every comparison "
                               "area, with the population",
}


def _timepoint_names() -> str:
    return "timepoints: " + " | ".join(r.TIMEPOINT_NAMES) + " (e.g. follow_up_12m)"


def pick_indicators(design: r.Design, indicators: dict | None, wanted: list[str] | None = None) -> list[str]:
    """The indicator ids a skeleton measures: ``wanted``, else the logic model's first that
    measures an outcome or impact (a count for a time series), else a placeholder."""
    if wanted:
        return list(wanted)
    if not indicators:
        return [placeholder("indicator id")]
    ids = [i for i, ind in indicators.items() if ind.measures.kind in ("outcome", "impact")] or list(indicators)
    if design is r.Design.interrupted_time_series:  # a segmented regression of counts
        ids = [i for i in ids if indicators[i].type is r.IndicatorType.count] or ids
    if design is r.Design.comparison_areas:  # rates of counts in areas: a count with its rate_per first
        counts = [i for i in ids if indicators[i].type is r.IndicatorType.count]
        ids = [i for i in counts if indicators[i].rate_per] or counts or ids
    return ids[:1]


def evaluation_skeleton(plan_id: str, design: r.Design | str, intervention: str,
                        indicators: dict | None = None, outcomes: list[str] | None = None) -> str:
    """An evaluation plan for ``design`` with every key that design needs.

    ``indicators`` are the intervention's (id -> resolved Indicator) when its logic model is in
    the project: the skeleton then uses real indicator ids (``outcomes``, else one chosen by
    :func:`pick_indicators`); else placeholders.
    """
    design = r.Design(design)
    chosen = pick_indicators(design, indicators, outcomes)
    primary = chosen[0]
    note = ("indicators of the logic model: " + ", ".join(indicators) if indicators
            else "an indicator id of the intervention's logic model")
    long_form = design in LONG_FORM
    data: dict[str, Any] = {"path": "data/" + placeholder("file") + ".csv", "id": placeholder("unit id column")}
    data_notes = {"path": DATA_WORDS[design],
                  "treatment": {r.Design.rct: "the randomised arm: 1 intervention, 0 control (analysed as randomised)",
                                r.Design.difference_in_differences: "1 in the periods a unit is under the "
                                                                    "intervention, else 0"}.get(design, ""),
                  "period": "dates such as 2023-04 or 2023-04-01"
                            + (" (or whole-number periods)" if design is r.Design.difference_in_differences else ""),
                  "population": "the population at risk in each area and month (the rates' denominator)"}
    if design is r.Design.matched_comparison:
        data["path"] = "data/" + placeholder("participants") + ".csv"
        data["comparison"] = "data/" + placeholder("comparison pool") + ".csv"
        data["treatment"] = Commented(placeholder("0/1 column, instead of comparison, when one file has both"))
    elif design in (r.Design.difference_in_differences, r.Design.rct):
        data["treatment"] = placeholder("0/1 treatment column")
    if long_form:
        data["period"] = placeholder("period column")
    if design in AREA_DESIGNS:
        data["id"] = placeholder("area column")
        data["population"] = placeholder("population column")
    data["sheet"] = Commented(placeholder("worksheet, for .xlsx"))

    values: dict[str, Any] = {
        "id": plan_id, "intervention": intervention, "title": placeholder(WORDS["title"]),
        "stage": DESIGN_STAGE[design], "design": design,
        "evaluator": {"name": placeholder("who evaluates"), "independent": False},
        "data": data,
    }
    comments = {"intervention": "a logic model id", "primary_outcome": note,
                "follow_up_months": "months from the start to the primary outcome's measure"}
    if long_form:
        values["outcomes"] = {i: placeholder(f"column of {i}" if indicators else "outcome column") for i in chosen}
        comments["outcomes"] = "indicator -> column; " + note
    else:
        follow = {r.Design.pre_post: "exit", r.Design.feasibility: "follow_up_6m"}.get(design, "follow_up_12m")
        named = bool(indicators)
        # pre/post needs the baseline; a comparison design uses it when there is one (adjusted for)
        needs_baseline = design in (r.Design.pre_post, r.Design.feasibility)
        values["timepoints"] = {}
        for i in chosen:
            base = placeholder(f"{i} at baseline" if named else "baseline column")
            values["timepoints"][i] = {
                "baseline": (base if needs_baseline else Commented(base),
                             "required for pre/post" if design is r.Design.pre_post else "optional"),
                follow: (placeholder(f"{i} at {follow}" if named else f"{follow} column"),
                         "rename to when it was measured" if follow != "exit" else "or follow_up_<months>m")}
        comments["timepoints"] = "indicator -> {timepoint: column}; " + _timepoint_names()
    if design is r.Design.matched_comparison:
        values["covariates"] = [placeholder("baseline column"), placeholder("another")]
        comments["covariates"] = "baseline characteristics to match on, as columns"
        # every matching option at its default; the common ones switched on, a caliper of 0.2 SD
        main = ("method", "distance", "ratio", "caliper", "replace", "exact", "estimand")
        defaults = {name: f.get_default(call_default_factory=True) for name, f in r.Matching.model_fields.items()}
        values["matching"] = {name: v if name in main else Commented(v) for name, v in defaults.items()}
        values["matching"].update(caliper=0.2, score_column=Commented(placeholder("score column")),
                                  trim=Commented(0.01))
    elif design is r.Design.comparison_areas:  # the only top-level option it reads (no subgroups, cluster, weights)
        values["covariates"] = Commented([placeholder("area characteristic column")])
        comments["covariates"] = "area characteristics, extra predictors of the synthetic control"
    else:
        values["covariates"] = Commented([placeholder("baseline column")])
    if design is not r.Design.comparison_areas:
        values["subgroups"] = Commented([placeholder("column to split results by")])
        values["cluster"] = Commented(placeholder("cluster column, e.g. school"))
        values["weights"] = Commented(placeholder("column of analysis weights"))
    if design is r.Design.interrupted_time_series:
        values["time_series"] = {"interruption": placeholder("YYYY-MM-DD"), "model": r.CountModel.negative_binomial,
                                 "seasonality": r.Seasonality.month, "control": Commented(placeholder("column"))}
    if design is r.Design.difference_in_differences:
        values["did"] = Commented({"comparison": r.DidComparison.never_treated,
                                   "event_window": {"leads": 12, "lags": 12}, "min_cell_units": 10})
    if design is r.Design.feasibility:
        values["feasibility"] = _feasibility_values(primary)
    if design is r.Design.comparison_areas:
        values["comparison_areas"] = _comparison_areas_values(chosen, bool(indicators))
    values["primary_outcome"] = primary
    values["follow_up_months"] = placeholder("months")
    values["seed"] = r.EvaluationFile.model_fields["seed"].default
    lines = emit(r.EvaluationFile, values, comments=comments)
    _note_data(lines, data_notes)
    header = ["yaml-language-server: $schema=../schemas/evaluation.schema.json",
              f"An evaluation plan: one study of '{intervention}' (design: {design.value}).",
              "Write your own words and column names in place of every <...>, put the data file beside",
              "this plan (paths are relative to it), and uncomment what you need. Then: evalkit validate"]
    return render(lines, header)


def _note_data(lines: list[Line], notes: dict[str, str]) -> None:
    """Say what this design's data keys hold (the keys' own descriptions are generic)."""
    inside = False
    for line in lines:
        if line.indent == 0:
            inside = line.text == "data:"
            continue
        key = line.text.split(":", 1)[0]
        if inside and line.indent == 2 and notes.get(key):
            line.comment = notes.pop(key)


def _comparison_areas_values(chosen: list[str], named: bool) -> dict:
    """The comparison-area options: the start-month column to fill in, the method and second estimate
    at their defaults, and every other option commented out at its default (or an example)."""
    fields = r.ComparisonAreas.model_fields
    out: dict[str, Any] = {
        "treated_from": placeholder("start month column"),
        "treated_area": Commented(placeholder("the treated area, as in the area column")),
        "exclude": Commented([placeholder("an area with a comparable programme")]),
        "method": fields["method"].default, "second_estimate": fields["second_estimate"].default,
        "did_weighting": Commented(fields["did_weighting"].default),
        "under_25": Commented({"population": placeholder("under-25 population column"),
                               "outcomes": {i: placeholder(f"under-25 column of {i}" if named else "under-25 column")
                                            for i in chosen}}),
    }
    for name in ("level", "placebo_in_time_months", "min_donors", "min_pre_periods"):
        out[name] = Commented(fields[name].default)
    return out


def _feasibility_values(primary: str) -> dict:
    flags = {"eligible", "consented", "started", "completed"}
    cases = {name: (placeholder("referral date column") if name == "referral_date" else
                    Commented(placeholder("0/1 column") if name in flags else placeholder("column")))
             for name in r.CaseColumns.model_fields}
    return {
        "cases": cases,
        "sessions": Commented({"path": "data/" + placeholder("sessions") + ".csv", "id": placeholder("case id column"),
                               "date": placeholder("session date column")}),
        "recruitment": Commented({"start": placeholder("YYYY-MM-DD"), "end": placeholder("YYYY-MM-DD")}),
        "targets": {"referrals": placeholder("referrals planned in the recruitment window")},
        "criteria": [{"metric": r.FeasibilityMetric.referrals_vs_target, "green": 1.0, "amber": 0.75},
                     {"metric": r.FeasibilityMetric.follow_up_completeness, "indicator": primary,
                      "green": 0.8, "amber": 0.6}],
        "rule": r.ProgressionRule.any_red_stops,
    }
