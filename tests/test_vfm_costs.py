"""Costs: the block's validation (each bad input with its message), costs per participant and per
month against hand calculations, and the illustrative example costs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from evalkit.errors import SpecError
from evalkit.spec.yamlio import parse_yaml
from evalkit.vfm import costs as vc
from evalkit.vfm import results as vr
from evalkit.vfm.deflators import load_deflator_series, parse_price_year

# the shipped ONS YBGB quarters (2022 = 100) that the hand calculations below use
FY_2022_23 = (99.1 + 100.7 + 103.2 + 105.0) / 4
FY_2023_24 = (106.8 + 107.8 + 108.0 + 109.3) / 4
FY_2024_25 = (110.1 + 112.1 + 113.2 + 114.1) / 4

GOOD = textwrap.dedent("""\
    schema: evalkit.costs/v1
    interventions:
      demo:
        price_year: 2023-24
        source: Demo budget
        periods:
          - id: year-1
            start: 2023-04-01
            end: 2024-03-31
            participants: {started: 100, completed: 80}
            set_up: {training: 5000}
            running: {staff: 40000, venues: 3000, overheads: 2000}
            in_kind:
              - {category: venues, amount: 1000, provided_by: School rooms}
    """)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "costs.yml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        vc.load_costs_file(write(tmp_path, text))
    return [str(p) for p in info.value.problems if p.severity == "error"]


# ---------------------------------------------------------------------------- bad input


def test_negative_cost_is_one_line_with_its_key_path(tmp_path):
    text = GOOD.replace("staff: 40000", "staff: -500")
    assert problems_of(tmp_path, text) == [
        "costs.yml:12: error: interventions.demo.periods[0].running.staff: a cost cannot be negative "
        "(found -£500; expected an amount of 0 or more, in pounds; record income or savings apart, "
        "not as a negative cost)"]


def test_negative_in_kind_amount(tmp_path):
    text = GOOD.replace("amount: 1000", "amount: -1000")
    assert problems_of(tmp_path, text) == [
        "costs.yml:14: error: interventions.demo.periods[0].in_kind[0].amount: a cost cannot be negative "
        "(found -£1,000; expected the amount it would have cost to buy, 0 or more)"]


def test_missing_price_year(tmp_path):
    text = GOOD.replace("    price_year: 2023-24\n", "")
    assert problems_of(tmp_path, text) == [
        "costs.yml:3: error: interventions.demo.price_year: price year is missing: the costs must say which "
        "year's prices they are in (found nothing; expected price_year: a price year such as 2023-24 "
        "(financial year, April to March) or 2023 (calendar year))"]


def test_price_year_on_every_period_is_enough(tmp_path):
    text = GOOD.replace("    price_year: 2023-24\n", "").replace("end: 2024-03-31\n",
                                                                    "end: 2024-03-31\n        price_year: 2023\n")
    costs = vc.load_costs_file(write(tmp_path, text))["demo"]
    assert costs.periods[0].price_year == parse_price_year(2023)


@pytest.mark.parametrize("value, found", [
    ("2023/24", "'2023/24' uses '/'; write a financial year with a hyphen, e.g. 2023-24"),
    ("2023-25", "'2023-25' is not a financial year (the second part must be the year after the first)"),
    ("last year", "'last year' is not a year"),
])
def test_malformed_price_year(tmp_path, value, found):
    text = GOOD.replace("price_year: 2023-24", f"price_year: '{value}'")
    assert problems_of(tmp_path, text) == [
        f"costs.yml:4: error: interventions.demo.price_year: price year is not a year (found {found}; expected "
        f"a price year such as 2023-24 (financial year, April to March) or 2023 (calendar year))"]


def test_period_with_costs_and_no_participants(tmp_path):
    text = GOOD.replace("        participants: {started: 100, completed: 80}\n", "")
    assert problems_of(tmp_path, text) == [
        "costs.yml:7: error: interventions.demo.periods[0].participants: this period has costs but no "
        "participants, so no cost per participant can be given (found £51,000 of costs and no "
        "participants.started; expected participants.started: the number who started in the period, from the "
        "plan's data or the programme's records)"]


def test_period_with_costs_and_zero_started(tmp_path):
    text = GOOD.replace("{started: 100, completed: 80}", "{started: 0}")
    assert problems_of(tmp_path, text) == [
        "costs.yml:10: error: interventions.demo.periods[0].participants.started: this period has costs but no "
        "participants, so no cost per participant can be given (found £51,000 of costs and participants.started: "
        "0; expected participants.started: the number who started in the period, from the plan's data or the "
        "programme's records)"]


def test_unknown_category_lists_the_valid_choices(tmp_path):
    text = GOOD.replace("venues: 3000", "venue: 3000")
    assert problems_of(tmp_path, text) == [
        "costs.yml:12: error: interventions.demo.periods[0].running.venue: unknown key (found 'venue'; "
        "expected one of staff, training, venues, materials, travel, overheads)"]


def test_unknown_in_kind_category_lists_the_valid_choices(tmp_path):
    text = GOOD.replace("category: venues", "category: rooms")
    assert problems_of(tmp_path, text) == [
        "costs.yml:14: error: interventions.demo.periods[0].in_kind[0].category: invalid value (found 'rooms'; "
        "expected one of 'staff', 'training', 'venues', 'materials', 'travel', 'overheads')"]


def test_text_is_not_coerced_to_an_amount(tmp_path):
    text = GOOD.replace("staff: 40000", "staff: '40000'")
    assert problems_of(tmp_path, text) == [
        "costs.yml:12: error: interventions.demo.periods[0].running.staff: invalid value (found '40000'; "
        "expected a valid number)"]


def test_more_completed_than_started(tmp_path):
    text = GOOD.replace("{started: 100, completed: 80}", "{started: 100, completed: 120}")
    assert problems_of(tmp_path, text) == [
        "costs.yml:10: error: interventions.demo.periods[0].participants.completed: more participants "
        "completed than started (found completed 120, started 100; expected completed no more than started)"]


def test_period_ending_before_it_starts(tmp_path):
    text = GOOD.replace("end: 2024-03-31", "end: 2023-03-31")
    assert problems_of(tmp_path, text) == [
        "costs.yml:9: error: interventions.demo.periods[0].end: period ends before it starts (found start "
        "2023-04-01, end 2023-03-31; expected an end date on or after the start date)"]


def test_overlapping_and_duplicated_periods(tmp_path):
    second = textwrap.indent(textwrap.dedent("""\
        - id: year-1
          start: 2024-01-01
          end: 2024-12-31
          participants: {started: 10}
          running: {staff: 100}
        """), "      ")
    assert problems_of(tmp_path, GOOD + second) == [
        "costs.yml:15: error: interventions.demo.periods[1].id: period id is used twice (found 'year-1' (also "
        "periods[0]); expected each period id once)",
        "costs.yml:16: error: interventions.demo.periods[1].start: periods overlap, so costs and participants "
        "would be counted twice (found 'year-1' starts 2024-01-01, before 'year-1' ends (2024-03-31); expected "
        "periods that do not overlap)"]


def test_all_problems_are_reported_at_once(tmp_path):
    text = (GOOD.replace("    price_year: 2023-24\n", "").replace("staff: 40000", "staff: -1")
            .replace("{started: 100, completed: 80}", "{started: 0}"))
    assert len(problems_of(tmp_path, text)) == 3


def test_a_costs_block_inside_another_file_keeps_that_files_lines():
    text = textwrap.dedent("""\
        id: demo
        costs:
          price_year: 2023-24
          periods:
            - id: p
              start: 2023-04-01
              end: 2024-03-31
              participants: {started: 4}
              running: {staff: -3}
        """)
    doc = parse_yaml(text, "logic_models/demo.yml")
    costs, problems = vc.check_costs_mapping(doc.data["costs"], file=doc.file, lines=doc.lines)
    assert costs is None
    assert [str(p) for p in problems] == [
        "logic_models/demo.yml:9: error: costs.periods[0].running.staff: a cost cannot be negative (found -£3; "
        "expected an amount of 0 or more, in pounds; record income or savings apart, not as a negative cost)"]
    doc = parse_yaml(text.replace("staff: -3", "stafff: 3"), "logic_models/demo.yml")
    _, problems = vc.check_costs_mapping(doc.data["costs"], file=doc.file, lines=doc.lines)
    assert [str(p) for p in problems] == [
        "logic_models/demo.yml:9: error: costs.periods[0].running.stafff: unknown key (found 'stafff'; expected "
        "one of staff, training, venues, materials, travel, overheads)"]


def test_participants_can_come_from_the_data_instead():
    doc = parse_yaml(GOOD, "costs.yml")
    block = doc.data["interventions"]["demo"]
    del block["periods"][0]["participants"]
    costs, problems = vc.check_costs_mapping(block, file="costs.yml", participants={"year-1": (50, 40)})
    assert problems == []
    assert (costs.periods[0].started, costs.periods[0].completed) == (50, 40)


# ---------------------------------------------------------------------------- numbers


def test_cost_per_participant_by_hand(tmp_path):
    costs = vc.load_costs_file(write(tmp_path, GOOD))["demo"]
    s = vc.summarise_costs(costs, intervention="demo", analysis_year="2023-24")
    o = s.overall
    assert (o.cash_set_up, o.cash_running, o.in_kind_set_up, o.in_kind_running) == (5000, 45000, 0, 1000)
    assert (o.cash, o.in_kind, o.total) == (50000, 1000, 51000)
    assert o.per_started == 510.0  # 51,000 / 100
    assert o.per_completed == 637.5  # 51,000 / 80
    assert o.per_started_cash == 500.0  # 50,000 / 100
    assert o.per_started_running == 460.0  # (45,000 + 1,000) / 100
    assert s.uplifts[0].factor == 1.0


def test_cost_per_participant_uplifted_to_a_later_year(tmp_path):
    costs = vc.load_costs_file(write(tmp_path, GOOD))["demo"]
    s = vc.summarise_costs(costs, intervention="demo", analysis_year="2024-25")
    factor = FY_2024_25 / FY_2023_24
    assert s.uplifts[0].factor == pytest.approx(factor, rel=1e-15)
    assert s.overall.per_started == pytest.approx(510 * factor, rel=1e-12)
    assert s.overall.per_completed == pytest.approx(637.5 * factor, rel=1e-12)
    assert s.uplifts[0].from_how.startswith("financial year 2023-24: mean of 2023 Q2 to 2024 Q1")


def test_two_periods_in_different_price_years_by_hand(tmp_path):
    text = GOOD.replace("    price_year: 2023-24\n", "    price_year: 2023-24\n") + textwrap.indent(
        textwrap.dedent("""\
            - id: pilot
              start: 2022-09-01
              end: 2023-03-31
              price_year: 2022-23
              participants: {started: 20}
              running: {staff: 10000}
            """), "      ")
    costs = vc.load_costs_file(write(tmp_path, text))["demo"]
    assert [p.id for p in costs.periods] == ["pilot", "year-1"]  # in date order
    s = vc.summarise_costs(costs, intervention="demo", analysis_year="2023-24")
    pilot = 10000 * FY_2023_24 / FY_2022_23
    assert s.periods[0].total == pytest.approx(pilot, rel=1e-12)
    assert s.overall.total == pytest.approx(51000 + pilot, rel=1e-12)
    assert s.overall.started == 120
    assert s.overall.per_started == pytest.approx((51000 + pilot) / 120, rel=1e-12)
    assert s.overall.completed is None and s.overall.per_completed is None
    assert "no cost per completer" in s.overall.note
    assert s.overall.price_year == "mixed"


def test_monthly_costs_spread_running_costs_by_day(tmp_path):
    costs = vc.load_costs_file(write(tmp_path, GOOD))["demo"]
    months = vc.monthly_costs(costs, analysis_year="2023-24")
    assert [m.month for m in months][:2] == ["2023-04", "2023-05"] and len(months) == 12
    days = 366  # 1 April 2023 to 31 March 2024 includes 29 February 2024
    assert months[0].running_cash == pytest.approx(45000 / days * 30, rel=1e-12)
    assert months[10].running_cash == pytest.approx(45000 / days * 29, rel=1e-12)  # February 2024
    assert months[0].set_up == 5000 and all(m.set_up == 0 for m in months[1:])
    assert sum(m.running_cash for m in months) == pytest.approx(45000, rel=1e-12)
    assert sum(m.running_in_kind for m in months) == pytest.approx(1000, rel=1e-12)


def test_summary_does_not_depend_on_the_order_periods_are_written_in(tmp_path):
    extra = textwrap.indent(textwrap.dedent("""\
        - id: pilot
          start: 2022-09-01
          end: 2023-03-31
          participants: {started: 20, completed: 10}
          running: {staff: 10000}
        """), "      ")
    first = vc.load_costs_file(write(tmp_path, GOOD + extra))["demo"]
    lines = GOOD.splitlines(keepends=True)
    reordered = "".join(lines[:6]) + extra + "".join(lines[6:])
    second = vc.load_costs_file(write(tmp_path, reordered))["demo"]
    assert vc.summarise_costs(first, intervention="d", analysis_year="2023-24") == \
        vc.summarise_costs(second, intervention="d", analysis_year="2023-24")


def test_frames_have_one_row_per_period_and_line(tmp_path):
    costs = vc.load_costs_file(write(tmp_path, GOOD))["demo"]
    s = vc.summarise_costs(costs, intervention="demo", analysis_year="2023-24")
    frame = vr.cost_frame(s)
    assert list(frame["period"]) == ["year-1", "all"]
    assert frame.loc[1, "per_started"] == 510.0
    lines = vr.cost_lines_frame(s)
    assert len(lines) == 5 and lines["amount"].sum() == 51000
    assert set(lines["funding"]) == {"cash", "in_kind"}
    assert len(vr.month_frame(vc.monthly_costs(costs, analysis_year="2023-24"))) == 12
    plain = vr.as_plain(s)
    assert plain["overall"]["per_started"] == 510.0 and isinstance(plain["periods"], list)


def test_example_costs_validate_and_are_marked_illustrative():
    examples = vc.example_costs()
    assert sorted(examples) == ["ete", "mvp", "phoenix", "reach", "sport", "vip"]
    series = load_deflator_series()
    for name, costs in examples.items():
        assert costs.illustrative, name
        s = vc.summarise_costs(costs, intervention=name, analysis_year="2023-24", series=series)
        assert s.illustrative and s.overall.per_started > 0
    text = (vc.d.DATA / "example_costs.yml").read_text(encoding="utf-8")
    assert text.startswith("# ILLUSTRATIVE COSTS")
    reach = vc.summarise_costs(examples["reach"], intervention="reach", analysis_year="2023-24")
    pilot_2022 = (12000 + 6500 + 2000 + 98000 + 4000 + 1500 + 3200 + 15000) * FY_2023_24 / FY_2022_23
    year_2023 = 212000 + 3000 + 8000 + 4000 + 6500 + 31000 + 7500
    assert reach.overall.total == pytest.approx(pilot_2022 + year_2023, rel=1e-12)
    assert reach.overall.per_started == pytest.approx((pilot_2022 + year_2023) / (64 + 150), rel=1e-12)


def test_file_level_mistakes(tmp_path):
    assert problems_of(tmp_path, "schema: evalkit.costs/v1\nintervention: {}\n") == [
        "costs.yml:1: error: interventions: required key is missing (found nothing; expected a value for "
        "'interventions')",
        "costs.yml:2: error: intervention: unknown key (found 'intervention'; expected one of schema, note, "
        "interventions)"]
    assert problems_of(tmp_path, "schema: evalkit.costs/v2\ninterventions: {}\n") == [
        "costs.yml:1: error: schema: invalid value (found 'evalkit.costs/v2'; expected one of 'evalkit.costs/v1')"]
    assert problems_of(tmp_path, "") == [
        "costs.yml:1: error: (file): the file is empty (found no content; expected a YAML mapping)"]
    [bad] = problems_of(tmp_path, "schema: [\n")
    assert bad.startswith("costs.yml:2: error: (file): malformed YAML")
