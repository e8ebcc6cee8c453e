"""Price years and the GDP deflator: the shipped series is the ONS file converted, uplifts match
hand calculations, and bad years or bad series files give one clear message."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from evalkit.vfm.deflators import (DEFAULT_SERIES, PriceYear, load_deflator_series, parse_price_year, uplift)
from evalkit.vfm.errors import VfmError

REFERENCE = Path(__file__).parent / "reference" / "vfm"


def test_shipped_series_is_the_ons_download_converted():
    spec = importlib.util.spec_from_file_location("convert_ons_ybgb", REFERENCE / "convert_ons_ybgb.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raw = (REFERENCE / "ons_ybgb_release_2025-06-30.csv").read_text(encoding="utf-8")
    assert DEFAULT_SERIES.read_text(encoding="utf-8") == module.convert(raw)
    import hashlib

    assert hashlib.sha256((REFERENCE / "ons_ybgb_release_2025-06-30.csv").read_bytes()).hexdigest() == \
        "8f88b110d6a21cd46a81befaf231ed040fdec3edc6e2b477a74a5866e278f442"


def test_series_names_its_source_and_vintage():
    s = load_deflator_series()
    assert s.id == "ons-ybgb-2025-06"
    assert s.vintage == "ONS release of 30 June 2025"
    assert "ons.gov.uk" in s.source and "YBGB" in s.name
    assert s.meta["base"] == "2022 = 100"
    assert s.calendar[2022] == 100.0 and s.calendar[2015] == 83.5
    assert s.quarters[(2016, 1)] == 84.4


@pytest.mark.parametrize("text, expected", [
    (2023, PriceYear(2023, False)), ("2023", PriceYear(2023, False)),
    ("2015-16", PriceYear(2015, True)), ("1999-00", PriceYear(1999, True)),
])
def test_price_years(text, expected):
    year = parse_price_year(text)
    assert year == expected
    assert year.label == str(text)


def test_financial_year_is_the_mean_of_its_quarters():
    s = load_deflator_series()
    value, how = s.index(parse_price_year("2015-16"))
    assert value == (83.2 + 83.5 + 83.9 + 84.4) / 4
    assert how == "financial year 2015-16: mean of 2015 Q2 to 2016 Q1 (evalkit's derivation from the quarterly series)"
    assert s.index(parse_price_year(2015)) == (83.5, "calendar year 2015: row 2015")


def test_uplift_of_the_home_office_price_year_by_hand():
    u = uplift(load_deflator_series(), parse_price_year("2015-16"), parse_price_year("2023-24"))
    assert u.from_index == 83.75
    assert u.to_index == pytest.approx(107.975, abs=1e-12)
    assert u.factor == pytest.approx(107.975 / 83.75, rel=1e-15)  # 1.28925...
    assert round(14050 * u.factor, 2) == 18114.01  # violence with injury in 2023-24 prices


def test_a_year_outside_the_series_is_refused():
    with pytest.raises(VfmError) as info:
        uplift(load_deflator_series(), parse_price_year("2015-16"), parse_price_year("2025-26"))
    assert str(info.value) == (
        "deflator series ons-ybgb-2025-06 (ONS release of 30 June 2025) has no value for the financial year "
        "2025-26: it covers calendar years 1948 to 2024; quarters 1955 Q1 to 2025 Q1; use a year inside it or "
        "supply a later series (same format, see docs/value-for-money.md)")


HEADER = ("# schema: evalkit.deflator-series/v1\n# id: mine\n# name: My deflator\n# vintage: March 2026\n"
          "# source: HM Treasury GDP deflators, March 2026\n")


def _series(tmp_path, text):
    path = tmp_path / "series.csv"
    path.write_text(text, encoding="utf-8")
    return load_deflator_series(path)


def test_a_partnerships_series_with_financial_year_rows(tmp_path):
    s = _series(tmp_path, HEADER + "period,index\n2015-16,80.0\n2023-24,104.0\n")
    u = uplift(s, parse_price_year("2015-16"), parse_price_year("2023-24"))
    assert u.factor == 1.3 and u.from_how == "financial year 2015-16: row 2015-16"


@pytest.mark.parametrize("body, message", [
    ("period,index\n2015,abc\n", "series.csv:7: index 'abc' is not a number"),
    ("period,index\n2015,-1\n", "series.csv:7: index '-1' must be a positive number"),
    ("period,index\n2015,1\n2015,2\n", "series.csv:8: period '2015' appears twice"),
    ("period,index\nFY15,1\n", "series.csv:7: period 'FY15' is not a year (2015), a quarter (2015 Q2) or a "
                               "financial year (2015-16)"),
    ("year,value\n2015,1\n", "series.csv: the first row after the header must be 'period,index'"),
    ("period,index\n2015,1,2\n", "series.csv:7: expected two values, period and index; found 3"),
])
def test_bad_series_files(tmp_path, body, message):
    with pytest.raises(VfmError) as info:
        _series(tmp_path, HEADER + body)
    assert str(info.value) == message


def test_a_series_must_say_where_it_came_from(tmp_path):
    with pytest.raises(VfmError) as info:
        _series(tmp_path, "# schema: evalkit.deflator-series/v1\n# id: x\nperiod,index\n2015,1\n")
    assert str(info.value) == ("series.csv: header is missing name, vintage, source (lines such as '# source: ...'); "
                               "a deflator series must say what it is and where it came from")


def test_a_bad_analysis_year_is_one_message():
    from evalkit.vfm.costs import example_costs, summarise_costs

    with pytest.raises(VfmError) as info:
        summarise_costs(example_costs()["sport"], intervention="sport", analysis_year="2023/24")
    assert str(info.value) == ("analysis year: '2023/24' uses '/'; write a financial year with a hyphen, e.g. "
                               "2023-24; expected a price year such as 2023-24 (financial year, April to March) "
                               "or 2023 (calendar year)")
