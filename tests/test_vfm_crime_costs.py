"""Costs of crime avoided: the shipped Home Office table, a partnership's own table (validated),
and the benefit, net benefit and benefit-cost ratio against hand calculations."""

from __future__ import annotations

import textwrap

import pytest

from evalkit.errors import SpecError
from evalkit.vfm import results as vr
from evalkit.vfm.crime_costs import default_valuation, load_crime_costs, monetise
from evalkit.vfm.effects import Effect
from evalkit.vfm.errors import VfmError

UPLIFT_2015_16_TO_2023_24 = ((106.8 + 107.8 + 108.0 + 109.3) / 4) / ((83.2 + 83.5 + 83.9 + 84.4) / 4)


def admissions(lo=-15.0, est=-9.0, hi=-3.0):
    return Effect("admission avoided", est, lo, hi, "total", "decrease", source="strategy: events prevented")


def test_shipped_table_is_cited_and_says_what_was_confirmed():
    t = load_crime_costs()
    assert t.label == "home-office-2018 v1.0.0"
    assert t.price_year.label == "2015-16"
    assert "Research Report 99" in t.title and "Table 1 (p. 15)" in t.source
    assert t.url == "https://www.gov.uk/government/publications/the-economic-and-social-costs-of-crime"
    assert set(t.components) == {"anticipation", "consequence", "response"}
    confirmed = {k: o.unit_cost for k, o in t.offences.items() if o.status == "secondary"}
    assert confirmed == {"violence_with_injury": 14050, "rape": 39360, "other_sexual_offences": 6520,
                         "robbery": 11320, "theft_of_vehicle": 10290, "theft_from_vehicle": 870,
                         "criminal_damage_arson": 8420, "criminal_damage_other": 1350, "cyber_crime": 550}
    assert t.offences["homicide"].unit_cost == 3217740 and t.offences["homicide"].status == "rounded_secondary"
    assert t.offences["homicide"].known_parts["police"] == 11960
    unconfirmed = sorted(k for k, o in t.offences.items() if o.unit_cost is None)
    assert unconfirmed == ["domestic_burglary", "theft_from_the_person", "violence_without_injury"]
    assert all(t.offences[k].status == "not_confirmed" for k in unconfirmed)


def test_benefit_net_benefit_and_bcr_by_hand():
    m = monetise(admissions(), offence="violence_with_injury", total_cost=120_000, analysis_year="2023-24",
                 valuation=default_valuation("knife_admissions").valuation)
    unit = 14050 * UPLIFT_2015_16_TO_2023_24  # £18,114.01 per violence-with-injury offence, 2023-24 prices
    assert m.uplift_factor == pytest.approx(UPLIFT_2015_16_TO_2023_24, rel=1e-15)
    assert m.unit_cost == pytest.approx(unit, rel=1e-14)
    assert (m.benefit, m.benefit_low, m.benefit_high) == pytest.approx((9 * unit, 3 * unit, 15 * unit), rel=1e-14)
    assert (m.net_benefit, m.net_benefit_low, m.net_benefit_high) == pytest.approx(
        (9 * unit - 120_000, 3 * unit - 120_000, 15 * unit - 120_000), rel=1e-14)
    assert (m.bcr, m.bcr_low, m.bcr_high) == pytest.approx((9 * unit / 120_000, 3 * unit / 120_000,
                                                           15 * unit / 120_000), rel=1e-14)
    assert round(m.bcr, 3) == 1.359
    assert m.note.startswith("the ratio's 95% interval includes 1: the benefits may be less than the costs")
    assert "admission for assault with a knife" in m.valuation
    assert any(c.startswith("response: costs in response to crime") for c in m.counted)
    assert any("fear of crime" in c for c in m.not_counted)
    assert any("displaced" in c for c in m.not_counted)


def test_homicides_avoided_with_a_rate_ratio():
    e = Effect("homicide avoided", 0.8, 0.55, 1.15, "ratio", "decrease", baseline_events=10)
    m = monetise(e, offence="homicide", total_cost=2_000_000, analysis_year="2023-24")
    unit = 3217740 * UPLIFT_2015_16_TO_2023_24
    assert m.events.central == pytest.approx(2.0, rel=1e-12)  # 10 x (1 - 0.8)
    assert (m.benefit_low, m.benefit_high) == pytest.approx((-1.5 * unit, 4.5 * unit), rel=1e-12)
    assert m.note.startswith("the benefit's 95% interval includes no benefit")
    assert "rounded_secondary" in m.note


def test_cost_uncertainty_uses_fieller_for_the_ratio():
    from evalkit.vfm.ratio import fieller_roots

    e = admissions()
    m = monetise(e, offence="violence_with_injury", total_cost=120_000, analysis_year="2023-24",
                 cost_std_error=15_000)
    unit = m.unit_cost
    se_b = (15 - 3) / (2 * 1.959963984540054) * unit
    lo, hi, bounded = fieller_roots(9 * unit, se_b ** 2, 120_000, 15_000 ** 2, 1.959963984540054)
    assert bounded and (m.bcr_low, m.bcr_high) == pytest.approx((lo, hi), rel=1e-12)
    half = 1.959963984540054 * (se_b ** 2 + 15_000 ** 2) ** 0.5
    assert (m.net_benefit_low, m.net_benefit_high) == pytest.approx((9 * unit - 120_000 - half,
                                                                    9 * unit - 120_000 + half), rel=1e-12)


def test_monte_carlo_benefits_are_seeded():
    kw = dict(offence="violence_with_injury", total_cost=120_000, analysis_year="2023-24", method="monte_carlo",
              seed=7, cost_low=100_000, cost_high=160_000)
    a, b = monetise(admissions(), **kw), monetise(admissions(), **kw)
    assert a == b and a.draws == 20_000
    assert a.bcr_low < a.bcr < a.bcr_high


def test_an_unconfirmed_figure_is_refused():
    with pytest.raises(VfmError) as info:
        monetise(admissions(), offence="domestic_burglary", total_cost=1, analysis_year="2023-24")
    assert str(info.value) == (
        "crime costs table home-office-2018 v1.0.0: Domestic burglary has no confirmed unit cost (status "
        "not_confirmed), so evalkit will not value it; supply your own table with the figure (same format, see "
        "docs/value-for-money.md)")
    with pytest.raises(VfmError) as info:
        monetise(admissions(), offence="knife_crime", total_cost=1, analysis_year="2023-24")
    assert str(info.value).startswith("crime costs table home-office-2018 v1.0.0: no offence 'knife_crime'; "
                                      "expected one of homicide, violence_with_injury")


def test_default_valuations_of_the_success_measures():
    assert default_valuation("homicides").offence == "homicide"
    assert default_valuation("knife_sv").published_by == "toolkit_default"
    with pytest.raises(VfmError) as info:
        default_valuation("burglaries")
    assert str(info.value) == ("no default valuation for 'burglaries'; expected one of knife_admissions, knife_sv, "
                               "homicides, or name the offence to value it with")


OWN = textwrap.dedent("""\
    schema: evalkit.crime-costs/v1
    id: llr-2024
    version: "2024.1"
    title: Local unit costs
    source: Partnership finance team, 2024
    price_year: 2023-24
    components:
      response: police and criminal justice costs
    offences:
      violence_with_injury:
        label: Violence with injury
        unit_cost: 5000
        status: published
        components: [response]
    """)


def test_a_partnerships_own_table(tmp_path):
    path = tmp_path / "costs.yml"
    path.write_text(OWN, encoding="utf-8")
    table = load_crime_costs(path)
    m = monetise(admissions(), offence="violence_with_injury", total_cost=30_000, analysis_year="2023-24",
                 table=table)
    assert m.unit_cost == 5000 and m.benefit == 45_000 and m.bcr == 1.5
    assert m.counted == ("response: police and criminal justice costs",)
    assert m.table == "llr-2024 v2024.1"
    assert m.note == "the ratio's 95% interval includes 1: the benefits may be less than the costs"


@pytest.mark.parametrize("change, message", [
    (("unit_cost: 5000", "unit_cost: -5"),
     "costs.yml:12: error: offences.violence_with_injury.unit_cost: a unit cost cannot be negative (found -5; "
     "expected pounds per crime, 0 or more)"),
    (("status: published", "status: guessed"),
     "costs.yml:13: error: offences.violence_with_injury.status: invalid value (found 'guessed'; expected one of "
     "'published', 'secondary', 'rounded_secondary', 'not_confirmed')"),
    (("components: [response]", "components: [consequence]"),
     "costs.yml:14: error: offences.violence_with_injury.components: component not described in the table's "
     "components (found consequence; expected components described under the top-level 'components' key)"),
    (("price_year: 2023-24", "price_year: 2023/24"),
     "costs.yml:6: error: price_year: price year is not a year (found '2023/24' uses '/'; write a financial year "
     "with a hyphen, e.g. 2023-24; expected a price year such as 2023-24 (financial year, April to March) or 2023 "
     "(calendar year))"),
    (("unit_cost: 5000", "unit_cost: null"),
     "costs.yml:12: error: offences.violence_with_injury.unit_cost: unit cost is missing (found null; expected the "
     "cost per crime in pounds (or status: not_confirmed))"),
    (("    label: Violence with injury\n", "    label: Violence with injury\n    cost: 1\n"),
     "costs.yml:12: error: offences.violence_with_injury.cost: unknown key (found 'cost'; expected one of label, "
     "unit_cost, status, components, known_parts, note)"),
])
def test_a_partnerships_table_is_validated(tmp_path, change, message):
    path = tmp_path / "costs.yml"
    path.write_text(OWN.replace(*change), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_crime_costs(path)
    assert [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems] == [message]


def test_monetised_frame():
    m = monetise(admissions(), offence="violence_with_injury", total_cost=120_000, analysis_year="2023-24")
    frame = vr.monetised_frame([m])
    assert frame.loc[0, "outcomes_central"] == 9.0 and frame.loc[0, "offence"] == "violence_with_injury"
    assert "fear of crime" in frame.loc[0, "not_counted"]


def test_table_frame_lists_every_offence_with_its_status():
    from evalkit.vfm.crime_costs import table_frame

    frame = table_frame(load_crime_costs())
    assert len(frame) == 13 and frame["unit_cost"].isna().sum() == 3
    assert frame.set_index("offence").loc["robbery", "unit_cost"] == 11320


def test_every_record_is_plain_json():
    import json

    from evalkit.vfm.cost_rating import rate_cost
    from evalkit.vfm.costs import example_costs, monthly_costs, summarise_costs
    from evalkit.vfm.ratio import cost_per_outcome
    from evalkit.vfm.sensitivity import sensitivity_table

    costs = example_costs()["vip"]
    summary = summarise_costs(costs, intervention="vip", analysis_year="2023-24")
    e = admissions()
    records = [summary, *monthly_costs(costs, analysis_year="2023-24"), rate_cost(summary),
               cost_per_outcome(100_000, e), cost_per_outcome(100_000, admissions(-10, -2, 4)),
               cost_per_outcome(100_000, e, method="monte_carlo", seed=1, thresholds=(20_000,)),
               monetise(e, offence="robbery", total_cost=50_000, analysis_year="2023-24"),
               sensitivity_table(100_000, e, unit_value=1000.0)]
    for rec in records:
        text = json.dumps(vr.as_plain(rec), allow_nan=False, sort_keys=True)
        assert json.loads(text)
    assert len(vr.rating_frame([rate_cost(summary)])) == 1
