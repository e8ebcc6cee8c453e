"""Indicator values on a small extract equal values worked out by hand; the same Ibis
expressions compile for a second engine (PostgreSQL, Spark)."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from conftest import copy_monitoring_project

from evalkit.monitor.config import load_monitoring
from evalkit.monitor.indicators import (classify_police, compute_indicators, expressions, plans, refresh_mapping,
                                        source_table)
from evalkit.monitor.measures import compute_success_measures, count_expression
from evalkit.monitor.ingest import ingest
from evalkit.monitor.keys import KEY_ENV
from evalkit.monitor.profile import needs_profile, police_profile_expressions
from evalkit.project import load_project
from evalkit.store import open_store


POLICE = """crime_ref,occurred_at,offence_code,offence_type,knife_flag,domestic_flag,location_type,area,victim_id,victim_age,victim_sex,victim_residence,suspect_id,suspect_age,suspect_sex,suspect_residence
C1,2024-01-05 21:30:00,8N,Assault with injury,true,false,street or highway,A,P1,20,M,A,S1,19,M,A
C2,2024-01-06 01:15:00,,Robbery of personal property,yes,no,licensed premises,A,P2,22,F,B,,,,
C3,2024-01-10 14:00:00,1,Murder,1,1,dwelling,B,P3,30,M,B,S3,35,M,B
C4,2024-01-12 10:00:00,46,Shoplifting,false,false,shop or retail,A,,,,,,,,
C5,2024-01-20 23:00:00,10D,Possession of article with blade or point,true,false,street or highway,B,,,,,S5,17,M,B
C6,2024-02-02 22:00:00,105A,Common assault,false,true,dwelling,B,P6,40,F,B,S6,41,M,B
C7,2024-02-03 03:00:00,,Wounding with intent to do grievous bodily harm,true,false,,A,P7,19,M,A,S7,18,M,Outside
C8,2024-02-14 12:00:00,4.1,Manslaughter,false,false,street or highway,A,P8,50,M,A,S8,60,F,A
C9,2024-02-17 23:30:00,8R,Malicious   communications,false,false,dwelling,A,P1,20,M,A,S9,25,F,A
"""
HOSPITAL = """admission_id,patient_id,admitted_on,cause_code,age,sex,area
H1,N1,2024-01-03,X99.4,17,M,A
H2,N2,2024-01-19,X99,30,M,B
H3,N3,2024-01-25,Y04.0,22,F,A
H4,N4,2024-02-07,x994,24,M,A
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
                             ("wellbeing", WELLBEING), ("hospital_admissions", HOSPITAL)):
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


def _measure(frame, measure, period, variant="all", area="all", column="count"):
    rows = frame[(frame.measure == measure) & (frame.variant == variant) & (frame.area == area)
                 & (frame.period == pd.Timestamp(period).date())]
    assert len(rows) == 1, f"{measure}/{variant} {period} {area}: {len(rows)} rows"
    return rows[column].iat[0]


@pytest.fixture(scope="module")
def measures(small):
    root, mon, store, project, _ = small
    return compute_success_measures(store, mon)


def test_police_rows_are_classified_by_code_else_by_description(small):
    root, mon, store, *_ = small
    src = mon.sources["police"]
    refresh_mapping(store, mon.mapping, mon.measures)
    rows = store.ibis().execute(classify_police(source_table(src), mon.mapping, src, mon.measures)).set_index("crime_ref")
    # C2 and C7 have no code (matched by description, C7 in its older wording); C8's code is in the
    # open-data form 4.1; C9's description has extra spaces
    assert rows.loc["C2", "sv_offence"] == "Robbery of Personal Property"
    assert rows.loc["C7", "sv_offence"] == "Assault with Intent to Cause Serious Harm"
    assert rows.loc["C8", "sv_offence"] == "Manslaughter" and rows.loc["C8", "sv_category"] == "homicide"
    assert rows.loc["C9", "sv_category"] == "stalking_and_harassment"
    # common assault and shoplifting are listed as not serious violence; C5 is on no list
    assert not rows.loc["C6", "serious_violence"] and rows.loc["C6", "mapped"]
    assert not rows.loc["C5", "mapped"]
    assert rows.loc["C1", "public_place"] and not rows.loc["C3", "public_place"] and pd.isna(rows.loc["C7", "public_place"])
    assert sorted(rows[rows.in_knife_offences].index) == ["C1", "C2", "C3", "C7", "C8"]


def test_knife_offences_as_the_home_office_counts_them(measures):
    # January: C1 (assault with injury), C2 (robbery), C3 (murder) with a knife; C5 is not a selected offence
    assert _measure(measures, "knife_offences", "2024-01-01") == 3
    assert _measure(measures, "knife_offences", "2024-01-01", column="rate") == pytest.approx(3 / 100_000 * 100_000)
    assert _measure(measures, "knife_offences", "2024-01-01", area="A") == 2
    assert _measure(measures, "knife_offences", "2024-01-01", area="B", column="rate") == pytest.approx(1 / 50_000 * 1e5)
    # under 25: C1 (20) and C2 (22); the rate is on the population aged under 25 (area A's 18-24s)
    assert _measure(measures, "knife_offences", "2024-01-01", "under_25") == 2
    assert _measure(measures, "knife_offences", "2024-01-01", "under_25", column="population") == 50_000
    # February: only C7; area B had none, and a month with none is a zero, not a gap
    assert _measure(measures, "knife_offences", "2024-02-01") == 1
    assert _measure(measures, "knife_offences", "2024-02-01", area="B") == 0
    assert measures[measures.measure == "knife_offences"].measures_version.unique().tolist() == ["ho-vru-2024.1"]
    assert set(measures[measures.source == "police"].sv_definition) == {"vrn-2023.1"}


def test_homicides_per_million_and_excluding_domestic(measures):
    for month in ("2024-01-01", "2024-02-01"):  # C3 murder (domestic), C8 manslaughter
        assert _measure(measures, "homicides", month) == 1
        assert _measure(measures, "homicides", month, column="rate") == pytest.approx(1 / 100_000 * 1_000_000)
        assert _measure(measures, "homicides", month, column="rate_per") == 1_000_000
    assert _measure(measures, "homicides", "2024-01-01", "non_domestic") == 0
    assert _measure(measures, "homicides", "2024-02-01", "non_domestic") == 1
    assert _measure(measures, "homicides", "2024-02-01", "under_25") == 0


def test_knife_admissions_are_icd10_x99_with_any_fourth_character(measures):
    assert _measure(measures, "knife_admissions", "2024-01-01") == 2        # H1 X99.4, H2 X99
    assert _measure(measures, "knife_admissions", "2024-01-01", "under_25") == 1
    assert _measure(measures, "knife_admissions", "2024-02-01") == 1        # H4 written x994


def test_local_definition_counts_beside_them(measures):
    assert _measure(measures, "serious_violence_local", "2024-01-01") == 3  # C1 C2 C3
    assert _measure(measures, "serious_violence_local", "2024-02-01") == 3  # C7 C8 C9; not C6 (common assault)
    assert _measure(measures, "knife_serious_violence_local", "2024-02-01") == 1


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
    assert _get(q, "vip_referrals", "2024-01-01") == 3
    assert _get(q, "vip_referrals", "2024-01-01", column="target") == pytest.approx(90)


def test_values_are_saved_in_the_store(small):
    root, mon, store, project, values = small
    n = store.con.execute("SELECT count(*) FROM indicator_values").fetchone()[0]
    assert n == len(values)


def test_needs_profile(small):
    root, mon, store, *_ = small
    p = needs_profile(store, mon)
    s = p["summary"]
    # serious violence: C1 C2 C3 C7 C8 C9 (not C6, common assault); domestic C3; knife C1 C2 C3 C7
    assert s["serious_violence"] == 6 and s["mapping_version"] == "vrn-2023.1"
    assert s["share_domestic"] == pytest.approx(1 / 6)
    assert s["share_knife"] == pytest.approx(4 / 6)
    # location known for 5 (not C7); public: C1 street, C2 licensed premises, C8 street
    assert s["share_public_place"] == pytest.approx(3 / 5)
    # night-time economy: C1 (Fri 21:30), C2 (Sat 01:15, Friday's night), C7 (Sat 03:00), C9 (Sat 23:30);
    # of the public-place ones (C1 C2 C8) two are in it
    assert s["share_public_night_time_economy"] == pytest.approx(2 / 3)
    cats = dict(zip(p["by_category"].sv_category, p["by_category"].n))
    assert cats == {"violence_with_injury": 2, "homicide": 2, "robbery": 1, "stalking_and_harassment": 1}
    assert p["unmapped"].to_dict("records") == [{"offence_type": "Possession of article with blade or point", "n": 1}]
    area = p["by_area"].set_index("area")
    assert area.loc["A", "n"] == 5 and area.loc["A", "rate_per_100000"] == pytest.approx(5 / 50_000 * 100_000)
    assert dict(zip(p["by_day"].day_name, p["by_day"].n))["Saturday"] == 3  # C2, C7, C9
    # residents who were a victim: distinct people (P1 twice) living in the partnership's areas
    assert s["victim_residents"] == 5 and s["share_residents_victim"] == pytest.approx(5 / 100_000)
    assert s["suspect_residents"] == 4  # S7 lives outside
    res = p["suspects_by_residence"].set_index("area")
    # each person once, in the area of their latest record; S7 lives outside (not a resident: not listed)
    assert res.loc["A", "people"] == 3 and "Outside" not in res.index
    assert res["people"].sum() == s["suspect_residents"]
    assert p["victims_by_residence"]["people"].sum() == s["victim_residents"]
    assert dict(zip(p["suspect_sex"].sex, p["suspect_sex"].n)) == {"F": 2, "M": 3, "unknown": 1}
    assert dict(zip(p["victim_sex"].sex, p["victim_sex"].n)) == {"F": 1, "M": 5}
    health = p["health"]["hospital_admissions"]
    assert health["n"] == 4
    assert dict(zip(health["by_cause"].cause, health["by_cause"].n)) == {"sharp object": 3, "bodily force": 1}
    assert dict(zip(health["sharp_by_place"].place, health["sharp_by_place"].n)) == {"street and highway": 2,
                                                                                   "not recorded": 1}


def test_published_profile_suppresses_small_counts_and_the_shares_on_them(small, tmp_path):
    """The profile through the dashboard's ledger: small counts and the shares built on them hidden."""
    from evalkit.monitor.dashboard import _profile_model
    from evalkit.publish.policy import Policy
    from evalkit.publish.publication import Publication

    root, mon, store, *_ = small
    pub = Publication(Policy(threshold=5), project_root=root, out_root=tmp_path, setting="test")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True)
    prof = _profile_model(page, needs_profile(store, mon))
    pub.solve()
    # six offences in as many hours: with the total shown, each hour's "fewer than 5" would be exactly 1
    assert sorted(c.value for _lab, c, _r in prof["by_hour"]) == [1] * 6
    assert prof["total"].status == "withheld"
    assert prof["share_domestic"].hidden       # 1 of 6: the share would give the 1 away
    assert prof["share_residents_victim"].hidden is False and prof["victim_residents"].text() == "5"
    assert prof["suspect_residents"].text() == "fewer than 5" and prof["share_residents_suspect"].hidden
    # every category is under 5, and the categories add up to the published total
    assert all(c.hidden for _lab, c, _r in prof["by_category"])
    assert not {"domestic", "knife", "serious_violence"} & set(prof["summary"])
    assert pub.ledger.check() == []


@pytest.mark.parametrize("dialect", ["postgres", "bigquery", "trino"])
def test_the_same_expressions_compile_for_another_engine(small, dialect):
    root, mon, store, project, values = small
    for plan in plans(mon, project):
        expr = expressions(plan, mon, "month")
        sql = ibis.to_sql(expr, dialect=dialect)
        assert plan.source.table in sql and "GROUP BY" in sql.upper()
    for name, expr in police_profile_expressions(mon, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-01")).items():
        assert "src_police" in ibis.to_sql(expr, dialect=dialect)
    for m in mon.measures.measures:
        assert "GROUP BY" in ibis.to_sql(count_expression(m, mon), dialect=dialect).upper()
    # and on DuckDB the one-expression form gives the values compute_indicators stored
    vip = next(p for p in plans(mon, project) if p.definition.indicator == "vip_referrals")
    got = store.ibis().execute(expressions(vip, mon, "month"))
    jan_a = got[(got.breakdown == "area") & (got.group == "A") & (pd.to_datetime(got.period) == "2024-01-01")]
    assert jan_a.value.iat[0] == 2
