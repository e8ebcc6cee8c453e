"""The cost rating (each band boundary, its label and source) and the sensitivity table (every
cell by hand)."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from evalkit.vfm import results as vr
from evalkit.vfm.cost_rating import load_cost_rules, rate_cost
from evalkit.vfm.costs import CostCategory, CostItem, CostPeriod, Costs, summarise_costs
from evalkit.vfm.deflators import parse_price_year
from evalkit.vfm.effects import Effect
from evalkit.vfm.errors import VfmError
from evalkit.vfm.sensitivity import sensitivity_table

FY_2023_24 = (106.8 + 107.8 + 108.0 + 109.3) / 4
FY_2024_25 = (110.1 + 112.1 + 113.2 + 114.1) / 4


def summary_for(per_participant: float, *, year: str = "2023-24", started: int = 100, completed=None):
    period = CostPeriod("p", dt.date(2023, 4, 1), dt.date(2024, 3, 31), parse_price_year(year), started, completed,
                        (CostItem(CostCategory.staff, per_participant * started, cash=True, one_off=False),))
    return summarise_costs(Costs((period,), None, False), intervention="demo", analysis_year=year)


@pytest.mark.parametrize("cost, rating, label", [
    (99.99, 1, "low cost"), (100.0, 1, "low cost"), (100.01, 2, "medium-low cost"), (500.0, 2, "medium-low cost"),
    (999.0, 3, "medium cost"), (1000.0, 3, "medium cost"), (2000.0, 4, "medium-high cost"),
    (2000.01, 5, "high cost"), (25_000.0, 5, "high cost"),
])
def test_each_band_boundary(cost, rating, label):
    r = rate_cost(summary_for(cost))
    assert (r.rating, r.label) == (rating, label)
    assert r.value == pytest.approx(cost, rel=1e-12)


def test_the_rating_says_its_bands_are_a_toolkit_default():
    r = rate_cost(summary_for(250))
    assert (r.published_by, r.status, r.rules_version) == ("toolkit_default", "unconfirmed", "1.0.0")
    assert r.source == "evalkit default; EIF's published bands were not found in any source we could read"
    assert r.note == ("£250 per participant who started in 2023-24 prices; bands are a toolkit default, not EIF's "
                      "published bands")


def test_costs_in_a_later_year_are_deflated_to_the_bands_year():
    # £2,050 in 2024-25 prices is £2,050 x D(2023-24) / D(2024-25) = £1,969.73 in the bands' 2023-24 prices
    r = rate_cost(summary_for(2050, year="2024-25"))
    assert r.value == pytest.approx(2050 * FY_2023_24 / FY_2024_25, rel=1e-12)
    assert r.rating == 4


def test_no_participants_no_rating():
    r = rate_cost(summary_for(100, started=0))
    assert r.rating is None and r.note == "not rated: no cost per participant who started (participants not recorded)"


def _rules(tmp_path, text):
    path = tmp_path / "rules.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_own_rules_per_completer(tmp_path):
    from evalkit.vfm.cost_rating import DEFAULT_RULES

    text = DEFAULT_RULES.read_text(encoding="utf-8").replace("value: per_participant_started",
                                                            "value: per_participant_completed")
    rules = load_cost_rules(_rules(tmp_path, text))
    r = rate_cost(summary_for(80, started=100, completed=10), rules=rules)  # £8,000 / 10 = £800 per completer
    assert (r.rating, r.value, r.basis) == (3, 800.0, "per_participant_completed")


@pytest.mark.parametrize("change, message", [
    (("up_to: 500", "up_to: 50"),
     "rules.yml: rules.cost_rating_bands.value: band 2's up_to must be a number above the band below (100); found "
     "50; expected {price_year: '2023-24', bands: [{rating: 1, label: low cost, up_to: 100}, ... {rating: 5, label: "
     "high cost, up_to: null}]}: ratings 1 to 5 in order, rising limits, the last null"),
    (("published_by: toolkit_default\n    status: unconfirmed\n    says: >\n      Rating 1",
      "published_by: YEF\n    status: unconfirmed\n    says: >\n      Rating 1"),
     "rules.yml: rules.cost_rating_bands.published_by: found 'YEF'; expected one of 'EIF', 'toolkit_default'"),
    (("value: per_participant_started", "value: per_head"),
     "rules.yml: rules.cost_rating_basis.value: found 'per_head'; expected one of 'per_participant_started', "
     "'per_participant_completed'"),
    (("schema: evalkit.cost-rules/v1", "schema: other"), "rules.yml: schema is 'other'; expected 'evalkit.cost-rules/v1'"),
])
def test_bad_rules_files(tmp_path, change, message):
    from evalkit.vfm.cost_rating import DEFAULT_RULES

    text = DEFAULT_RULES.read_text(encoding="utf-8")
    assert change[0] in text
    with pytest.raises(VfmError) as info:
        load_cost_rules(_rules(tmp_path, text.replace(*change, 1)))
    assert str(info.value).replace(str(tmp_path) + "/", "") == message


# ---------------------------------------------------------------------------- sensitivity


def test_sensitivity_table_by_hand():
    e = Effect("suspension avoided", -0.114, -0.173, -0.0553, "difference", "decrease", n=214)
    t = sensitivity_table(422_530, e, unit_value=5_000.0, analysis_year="2023-24")
    assert len(t.cells) == 9
    cell = {(c.cost_case, c.effect_case): c for c in t.cells}
    low_o, mid_o, high_o = 0.0553 * 214, 0.114 * 214, 0.173 * 214
    assert cell["central", "central"].cost_per_outcome == pytest.approx(422_530 / mid_o, rel=1e-14)
    assert cell["high", "low"].cost_per_outcome == pytest.approx(422_530 * 1.2 / low_o, rel=1e-14)
    assert cell["low", "high"].cost_per_outcome == pytest.approx(422_530 * 0.8 / high_o, rel=1e-14)
    assert cell["low", "high"].bcr == pytest.approx(high_o * 5000 / (422_530 * 0.8), rel=1e-14)
    assert cell["high", "central"].net_benefit == pytest.approx(mid_o * 5000 - 422_530 * 1.2, rel=1e-14)
    assert t.cost_factors_source == "toolkit default: costs 20% lower and 20% higher than declared"
    frame = vr.sensitivity_frame(t)
    assert frame.shape[0] == 9 and set(frame["cost_case"]) == {"low", "central", "high"}


def test_sensitivity_where_the_interval_includes_no_effect():
    e = Effect("suspension avoided", -0.03, -0.09, 0.03, "difference", "decrease", n=214)
    t = sensitivity_table(422_530, e)
    low = [c for c in t.cells if c.effect_case == "low"]
    assert all(c.cost_per_outcome is None for c in low)
    assert low[0].note == "no suspension avoided at this end: no cost per outcome"
    assert all(c.bcr is None for c in t.cells)  # no unit value given


def test_sensitivity_factors_need_a_source():
    e = Effect("x", -0.1, -0.2, -0.05, "difference", "decrease", n=10)
    with pytest.raises(VfmError) as info:
        sensitivity_table(1000, e, cost_high_factor=1.4)
    assert str(info.value) == ("say where non-default cost factors come from (factors_source), e.g. 'Green Book "
                               "optimism bias, 40% upper bound'")
    t = sensitivity_table(1000, e, cost_high_factor=1.4, factors_source="Green Book optimism bias, 40%")
    assert t.cells[-1].cost == 1400
    with pytest.raises(VfmError):
        sensitivity_table(1000, e, cost_low_factor=1.1, factors_source="x")
