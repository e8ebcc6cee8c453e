"""Indicator values on a small extract equal values worked out by hand; the same Ibis
expressions compile for a second engine (PostgreSQL, Spark)."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from conftest import copy_monitoring_project

from evalkit.monitor.config import load_monitoring
from evalkit.monitor.indicators import compute_indicators, expressions, plans
from evalkit.monitor.ingest import ingest
from evalkit.monitor.keys import KEY_ENV
from evalkit.monitor.profile import needs_profile, profile_expressions
from evalkit.project import load_project
from evalkit.store import open_store


POLICE = """crime_ref,occurred_at,offence_type,knife_flag,domestic_flag,area,victim_id,victim_age,victim_sex,suspect_id,suspect_age
C1,2024-01-05 21:30:00,Assault with injury,true,false,A,P1,20,M,S1,19
C2,2024-01-06 01:15:00,Robbery of personal property,yes,no,A,P2,22,F,,
C3,2024-01-10 14:00:00,Murder,1,1,B,P3,30,M,S3,35
C4,2024-01-12 10:00:00,Shoplifting,false,false,A,,,,,
C5,2024-01-20 23:00:00,Possession of article with blade or point,true,false,B,,,,S5,17
C6,2024-02-02 22:00:00,Common assault,false,true,B,P6,40,F,S6,41
C7,2024-02-03 03:00:00,Wounding with intent to do grievous bodily harm,true,false,A,P7,19,M,S7,18
C8,2024-02-14 12:00:00,Manslaughter,false,false,A,P8,50,M,S8,60
"""
POPULATIONS = """year,area,age_band,sex,population
2024,A,18-24,M,30000
2024,A,18-24,F,20000
2024,B,25-34,M,25000
2024,B,25-34,F,25000
"""
REFERRALS = """referral_id,person_id,programme,referral_date,referral_source,engaged,area,age,sex
R1,Y1,vip,2024-01-03,A&E,true,A,17,M
R2,Y2,vip,2024-01-09,A&E,true,B,19,M
R3,Y3,vip,2024-01-21,police,false,A,21,F
R4,Y4,reach,2024-01-11,school,true,A,13,M
R5,Y5,reach,2024-01-30,school,false,B,14,F
"""
WELLBEING_SOURCE = """id: wellbeing
label: Wellbeing surveys
kind: programme
date_column: survey_date
key: [response_id]
breakdowns: {area: area}
columns:
  response_id: {type: string}
  survey_date: {type: date, format: "%d/%m/%Y"}
  swemwbs: {type: number}
  area: {type: string}
"""
WELLBEING = """response_id,survey_date,swemwbs,area
W1,03/01/2024,20,A
W2,15/01/2024,25,A
W3,20/01/2024,27,B
W4,02/02/2024,30,B
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, "h" * 40)
        root = tmp_path_factory.mktemp("small") / "project"
        copy_monitoring_project(root)
        (root / "monitoring" / "sources" / "wellbeing.yml").write_text(WELLBEING_SOURCE)
        # this small extract has no ete or phoenix referrals: say that they may be absent
        ind = root / "monitoring" / "indicators.yml"
        ind.write_text(ind.read_text().replace("where: {programme: ete, engaged: true}}",
                                               "where: {programme: ete, engaged: true}, allow_absent: true}")
                       .replace("where: {programme: phoenix, engaged: true}}",
                                "where: {programme: phoenix, engaged: true}, allow_absent: true}"))
        with open(root / "monitoring" / "indicators.yml", "a") as fh:
            fh.write("  - {intervention: sport, indicator: swemwbs, source: wellbeing, date: survey_date, value: swemwbs}\n")
        files = root / "files"
        files.mkdir()
        mon = load_monitoring(root)
        store = open_store(root / ".evalkit" / "evalkit.duckdb")
        for source, text in (("populations", POPULATIONS), ("police", POLICE), ("programme_referrals", REFERRALS),
                             ("wellbeing", WELLBEING)):
            (files / f"{source}.csv").write_text(text)
            ingest(store, mon, source, files / f"{source}.csv")
        project = load_project(root, check_data=False)
        values = compute_indicators(store, mon, project)
        yield root, mon, store, project, values
        store.close()


def _get(values, indicator, period, breakdown="all", group="all", column="value"):
    rows = values[(values.indicator == indicator) & (values.period == pd.Timestamp(period).date())
                  & (values.breakdown == breakdown) & (values.group == group)]
    assert len(rows) == 1, f"{indicator} {period} {breakdown}={group}: {len(rows)} rows"
    return rows[column].iat[0]


def test_knife_serious_violence_counts_and_rates(small):
    *_, values = small
    # January: C1 (assault with injury), C2 (robbery), C3 (murder) have a knife; C5 is unmapped, C4 not SV
    assert _get(values, "knife_sv", "2024-01-01") == 3
    assert _get(values, "knife_sv", "2024-01-01", column="rate") == pytest.approx(3 / 100_000 * 100_000)
    assert _get(values, "knife_sv", "2024-01-01", "area", "A", "rate") == pytest.approx(2 / 50_000 * 100_000)
    assert _get(values, "knife_sv", "2024-01-01", "area", "B", "rate") == pytest.approx(1 / 50_000 * 100_000)
    assert _get(values, "knife_sv", "2024-01-01", "sex", "M", "rate") == pytest.approx(2 / 55_000 * 100_000)
    assert _get(values, "knife_sv", "2024-01-01", "sex", "F", "rate") == pytest.approx(1 / 45_000 * 100_000)
    assert _get(values, "knife_sv", "2024-01-01", "age_band", "18-24") == 2
    assert _get(values, "knife_sv", "2024-01-01", "age_band", "25-34", "rate") == pytest.approx(2.0)
    # February: only C7; area B had none, and a month with none is a zero, not a gap
    assert _get(values, "knife_sv", "2024-02-01") == 1
    assert _get(values, "knife_sv", "2024-02-01", "area", "B") == 0
    assert _get(values, "knife_sv", "2024-02-01", "area", "B", "rate") == 0


def test_homicides_per_million(small):
    *_, values = small
    for month in ("2024-01-01", "2024-02-01"):  # C3 murder, C8 manslaughter
        assert _get(values, "homicides", month) == 1
        assert _get(values, "homicides", month, column="rate") == pytest.approx(1 / 100_000 * 1_000_000)
        assert _get(values, "homicides", month, column="rate_per") == 1_000_000


def test_counts_proportions_targets_and_rag(small):
    *_, values = small
    # vip: target 90 a quarter (30 a month), amber from 70 a quarter (23.3 a month); 3 referrals: red
    assert _get(values, "vip_referrals", "2024-01-01") == 3
    assert _get(values, "vip_referrals", "2024-01-01", column="target") == pytest.approx(30)
    assert _get(values, "vip_referrals", "2024-01-01", column="amber") == pytest.approx(70 / 3)
    assert _get(values, "vip_referrals", "2024-01-01", column="rag") == "red"
    # engaged 2 of 3 = 66.7% against 60% (amber from 45%): green
    assert _get(values, "vip_engaged", "2024-01-01") == pytest.approx(2 / 3)
    assert _get(values, "vip_engaged", "2024-01-01", column="denominator") == 3
    assert _get(values, "vip_engaged", "2024-01-01", column="rag") == "green"
    assert _get(values, "vip_engaged", "2024-01-01", "area", "A") == pytest.approx(1 / 2)
    # reach: 120 a quarter, no amber given: the toolkit default is within 10% (36 a month)
    assert _get(values, "referrals", "2024-01-01") == 2
    assert _get(values, "referrals", "2024-01-01", column="amber") == pytest.approx(36)


def test_means(small):
    *_, values = small
    assert _get(values, "swemwbs", "2024-01-01") == pytest.approx((20 + 25 + 27) / 3)
    assert _get(values, "swemwbs", "2024-01-01", "area", "A") == pytest.approx(22.5)
    assert _get(values, "swemwbs", "2024-02-01") == pytest.approx(30)


def test_quarters(small):
    root, mon, store, project, _ = small
    q = compute_indicators(store, mon, project, period_kind="quarter", save=False)
    assert _get(q, "knife_sv", "2024-01-01") == 4
    assert _get(q, "knife_sv", "2024-01-01", column="rate") == pytest.approx(4.0)
    assert _get(q, "vip_referrals", "2024-01-01", column="target") == pytest.approx(90)


def test_values_are_saved_in_the_store(small):
    root, mon, store, project, values = small
    n = store.con.execute("SELECT count(*) FROM indicator_values").fetchone()[0]
    assert n == len(values)


def test_needs_profile(small):
    root, mon, store, *_ = small
    p = needs_profile(store, mon)
    s = p["summary"]
    # serious violence: C1 C2 C3 C6 C7 C8; domestic C3 C6; night-time economy C1 (Fri 21:30),
    # C2 (Sat 01:15, Friday's night), C6 (Fri 22:00), C7 (Sat 03:00); knife C1 C2 C3 C7
    assert s["serious_violence"] == 6
    assert s["share_domestic"] == pytest.approx(2 / 6)
    assert s["share_night_time_economy"] == pytest.approx(4 / 6)
    assert s["share_knife"] == pytest.approx(4 / 6)
    cats = dict(zip(p["by_category"].sv_category, p["by_category"].n))
    assert cats == {"violence_with_injury": 2, "homicide": 2, "robbery": 1, "violence_without_injury": 1}
    assert p["unmapped"].to_dict("records") == [{"offence_type": "Possession of article with blade or point", "n": 1}]
    area = p["by_area"].set_index("area")
    assert area.loc["A", "n"] == 4 and area.loc["A", "rate_per_100000"] == pytest.approx(4 / 50_000 * 100_000)
    assert dict(zip(p["by_day"].day_name, p["by_day"].n))["Friday"] == 2  # C1, C6 (C2 and C7 fall on Saturday)


@pytest.mark.parametrize("dialect", ["postgres", "bigquery", "trino"])
def test_the_same_expressions_compile_for_another_engine(small, dialect):
    root, mon, store, project, values = small
    for plan in plans(mon, project):
        expr = expressions(plan, mon, "month")
        sql = ibis.to_sql(expr, dialect=dialect)
        assert plan.source.table in sql and "GROUP BY" in sql.upper()
    for name, expr in profile_expressions(mon, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-01")).items():
        assert "src_police" in ibis.to_sql(expr, dialect=dialect)
    # and on DuckDB the one-expression form gives the values compute_indicators stored
    knife = next(p for p in plans(mon, project) if p.definition.indicator == "knife_sv")
    got = store.ibis().execute(expressions(knife, mon, "month"))
    jan_a = got[(got.breakdown == "area") & (got.group == "A") & (pd.to_datetime(got.period) == "2024-01-01")]
    assert jan_a.value.iat[0] == 2 and jan_a.rate.iat[0] == pytest.approx(4.0)
