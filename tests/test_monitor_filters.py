"""An indicator's filter is checked against the data: a value that never occurs is an error listing
the values seen (a typo would otherwise count nothing and show red), or a warning with
``allow_absent: true``. Filter values of the wrong type, and score columns that are not numbers
or leave the instrument's range, are refused too."""

from __future__ import annotations

import pytest

from conftest import copy_monitoring_project, run_cli
from test_monitor_indicators import POLICE, POPULATIONS, REFERRALS

from evalkit.errors import SpecError
from evalkit.monitor.config import load_monitoring
from evalkit.monitor.indicators import compute_indicators
from evalkit.monitor.ingest import ingest
from evalkit.monitor.keys import KEY_ENV
from evalkit.project import load_project
from evalkit.store import open_store

LINES = {
    "vip": "  - {intervention: vip, indicator: vip_referrals, source: programme_referrals, date: referral_date,\n"
           "     where: {programme: vip}}\n",
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "f" * 40)
    monkeypatch.delenv("EVALKIT_STORE", raising=False)
    root = tmp_path / "project"
    copy_monitoring_project(root)
    files = root / "files"
    files.mkdir()
    mon = load_monitoring(root)
    with open_store(root / ".evalkit" / "evalkit.duckdb") as store:
        for source, text in (("populations", POPULATIONS), ("police", POLICE), ("programme_referrals", REFERRALS)):
            (files / f"{source}.csv").write_text(text)
            ingest(store, mon, source, files / f"{source}.csv")
    return root


def _indicators(root, text: str) -> None:
    (root / "monitoring" / "indicators.yml").write_text("version: 1\nindicators:\n" + text)


def _compute(root):
    mon = load_monitoring(root)
    with open_store(root / ".evalkit" / "evalkit.duckdb") as store:
        return compute_indicators(store, mon, load_project(root, check_data=False), save=False)


def test_a_typo_in_a_filter_value_is_an_error_listing_the_values_seen(project):
    _indicators(project, LINES["vip"].replace("programme: vip", "programme: VIP"))
    with pytest.raises(SpecError) as info:
        _compute(project)
    msg = str(info.value)
    assert "monitoring/indicators.yml:4: error: indicators[0].where.programme: no row of source programme_referrals " \
           "has this value (found 'VIP'; expected one of the values seen: 'reach', 'vip'" in msg


def test_allow_absent_makes_it_a_warning(project):
    text = ("  - {intervention: ete, indicator: ete_starts, source: programme_referrals, date: referral_date,\n"
            "     where: {programme: ete, engaged: true}, allow_absent: true}\n" + LINES["vip"])
    _indicators(project, text)
    values = _compute(project)
    assert (values[values.indicator == "ete_starts"].value == 0).all()
    warnings = values.attrs["warnings"]
    assert len(warnings) == 1 and warnings[0].severity == "warning"
    assert "indicators[0].where.programme: no row of source programme_referrals has this value (found 'ete'" in \
        str(warnings[0])


def test_a_success_value_is_checked_too(project):
    text = ("  - {intervention: vip, indicator: vip_engaged, source: programme_referrals, date: referral_date,\n"
            "     where: {programme: vip}, success: {engaged: \"true\"}}\n")
    _indicators(project, text)
    with pytest.raises(SpecError, match=r"indicators\[0\].success.engaged: the filter value is not of the column's "
                                        r"type \(found 'true' \(text\); expected true or false"):
        _compute(project)


def test_a_derived_police_column_is_checked_against_the_mapping(project):
    text = ("  - {intervention: strategy, indicator: homicides, source: police, date: occurred_at,\n"
            "     where: {sv_category: homicides}}\n")
    _indicators(project, text)
    with pytest.raises(SpecError, match=r"where.sv_category: not a category of the serious violence definition "
                                        r"\(vrn-2023.1\) \(found 'homicides'; expected one of 'aggravated_burglary', "):
        _compute(project)
    # a category that is in the mapping is fine even in months (or a whole source) without such a crime
    _indicators(project, text.replace("homicides}", "miscellaneous_crimes_against_society}"))
    values = _compute(project)
    assert (values[values.indicator == "homicides"].value == 0).all()


def test_an_unknown_filter_column_is_an_error(project):
    _indicators(project, LINES["vip"].replace("where: {programme: vip}", "where: {programm: vip}"))
    with pytest.raises(SpecError, match=r"where.programm: not a column of source programme_referrals"):
        _compute(project)


def test_the_command_says_so_in_one_line_and_exits_1(project):
    _indicators(project, LINES["vip"].replace("programme: vip", "programme: vipp"))
    done = run_cli("monitor", "indicators", "--project", str(project))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "where.programme: no row of source programme_referrals has this value (found 'vipp'" in done.stderr
