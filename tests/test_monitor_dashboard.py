"""The dashboard: disclosure control, the .qmd and its HTML, data-quality notes, a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import copy_monitoring_project
from monitor_fixtures import example_dashboard  # noqa: F401  (a fixture)

from evalkit.monitor.keys import KEY_ENV



@pytest.fixture(scope="module")
def demo(example_dashboard):
    """(root, written): the demo extracts ingested and the dashboard written (monitor_fixtures,
    built once per session; this module's own copy)."""
    return example_dashboard


def test_dashboard_files(demo):
    root, written = demo
    qmd = written["qmd"].read_text()
    assert "format:\n  dashboard:" in qmd and "```{python}" not in qmd  # the page holds its published values
    data = json.loads(written["data"].read_text())
    html = written["html"].read_text()
    assert html.count("Plotly.newPlot") >= 15
    rag = {i["indicator"]: i["series"]["rag"][-1] for i in data["indicators"] if i["target"] is not None}
    assert not re.search(r'<script[^>]+src="https?:', html)  # self-contained: plotly.js inlined
    # headline tiles with RAG, success measures, data quality notes
    assert all(r in ("green", "amber", "red") for r in rag.values())
    ms = data["measures"]
    success = {m["id"]: m for m in ms["measures"]}
    assert set(success) == {"knife_admissions", "knife_offences", "homicides", "serious_violence_local",
                            "knife_serious_violence_local"}
    assert {v["variant"] for v in success["homicides"]["variants"]} == {"all", "under_25", "non_domestic"}
    assert success["knife_offences"]["its"]["level_change"]["estimate"] < 1
    assert success["serious_violence_local"]["local_definition"] and success["serious_violence_local"]["its"] is None
    assert ms["version"] == "ho-vru-2024.1" and ms["sv_definition"] == "vrn-2023.1"
    assert ms["its"]["plan"] == "strategy-its"
    assert "Home Office success measures (ho-vru-2024.1)" in html and "local definition" in html
    # each measure's Home Office definition is cited on the page, not only in the YAML
    assert success["homicides"]["sources"][0]["key"] == "HO-VRU"
    assert "Violence Reduction Units year ending March 2024 evaluation report" in " ".join(html.split())
    # rates per 100,000 (per 1,000,000 for homicide) on the mid-year population, each year shown with its count
    assert success["homicides"]["rate_per"] == 1000000 and success["knife_admissions"]["rate_per"] == 100000
    latest = success["knife_admissions"]["variants"][0]["years"][-1]
    assert latest["count"]["status"] == "shown" and latest["rate"]["value"] > 0
    quality = {s["source"]: s for s in data["quality"]["sources"]}
    assert quality["ambulance_callouts"]["missing"] == ["2023-12"]
    assert quality["hospital_admissions"]["late"] == ["2024-03"]
    assert quality["police"]["replacements"] == 1
    unmapped = {u["offence_type"]: u["count"]["value"] for u in data["quality"]["unmapped"]}
    assert "Possession of article with blade or point" in unmapped
    assert "Possession of article with blade or point" in html and "missing 2023-12" in html


def test_dashboard_publishes_no_small_counts_and_no_identifiers(demo):
    from evalkit.publish.policy import Policy
    from evalkit.publish.scan import scan_export, scan_html

    root, written = demo
    html = written["html"].read_text()
    assert scan_html(html) == []
    assert scan_export(written["data"], Policy()) == []
    data = json.loads(written["data"].read_text())
    for item in data["indicators"]:
        for v in item["series"]["value"]:
            if v and v["kind"] == "count" and v["value"] is not None:
                assert not 0 < v["value"] < 5
            if v and v["status"] in ("small", "withheld"):
                assert v["value"] is None

    def values(obj):
        if isinstance(obj, dict):
            if {"value", "status", "kind", "shown"} <= set(obj):
                yield obj
            else:
                for v in obj.values():
                    yield from values(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from values(v)

    published = list(values(data["measures"])) + list(values(data["profile"]))
    assert published
    for v in published:
        if v["kind"] == "count" and v["value"] is not None:
            assert not 0 < v["value"] < 5, v
        if v["status"] in ("small", "withheld"):
            assert v["value"] is None, v
    # homicides: small months, so only whole years are published (a rolling total would reveal a month)
    homicides = next(m for m in data["measures"]["measures"] if m["id"] == "homicides")
    assert all(v["monthly"] is None for v in homicides["variants"])
    # the raw counts behind the profile's shares are not in the export
    assert not {"domestic", "knife", "public_place", "serious_violence"} & set(data["profile"]["summary"])
    raw = pd.read_csv(next((root / "monitoring" / "extracts" / "police").glob("police_2023-10.csv")))
    ids = set(raw.victim_id.dropna()) | set(raw.crime_ref)
    text = written["data"].read_text() + html
    words = set(re.findall(r"[A-Za-z0-9-]+", text))
    assert not ids & words


def test_dashboard_and_time_series_report_give_the_same_numbers(demo):
    """Issue 13.5: one store table, one model, the same rate ratios for the same measure and interruption."""
    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.measures import export_its_data, its_estimates
    from evalkit.project import load_project
    from evalkit.run import run
    from evalkit.store import open_store

    root, written = demo
    mon = load_monitoring(root)
    project = load_project(root, check_data=False)
    with open_store(root / ".evalkit" / "evalkit.duckdb") as store:
        paths = export_its_data(store, mon, project)
        its = its_estimates(store, mon, project)
    plan = load_project(root, check_data=False).evaluation("strategy-its")
    assert paths == [plan.data.path] and its["data_file"]["status"] == "current"
    report = run(plan)
    by = {(e.indicator, e.estimand): e for e in report.estimates}
    dashboard = json.loads(written["data"].read_text())["measures"]["measures"]
    for measure, indicator in (("knife_admissions", "knife_admissions"), ("knife_offences", "knife_sv"),
                               ("homicides", "homicides")):
        got = its["measures"][measure]
        shown = next(m for m in dashboard if m["id"] == measure)["its"]
        for key, estimand in (("level_change", "level_change"), ("slope_change_per_year", "slope_change")):
            e = by[(indicator, estimand)]
            assert (got[key]["estimate"], got[key]["ci_low"], got[key]["ci_high"]) == (e.estimate, e.ci_low, e.ci_high)
            assert shown[key]["estimate"] == pytest.approx(e.estimate, rel=1e-12)
        assert got["interruption"] == str(plan.time_series.interruption)[:7]
        assert got["method"] == by[(indicator, "level_change")].method
    # a data file that no longer matches the store is called stale, never silently used
    text = plan.data.path.read_text().splitlines()
    cells = text[1].split(",")
    cells[-1] = str(int(cells[-1]) + 1)
    plan.data.path.write_text("\n".join([text[0], ",".join(cells), *text[2:]]) + "\n")
    with open_store(root / ".evalkit" / "evalkit.duckdb") as store:
        assert its_estimates(store, mon, project)["data_file"]["status"] == "stale"
        export_its_data(store, mon, project)  # the export owns the file (its record is beside it)
        assert its_estimates(store, mon, project)["data_file"]["status"] == "current"
    # a file the export did not write is never replaced
    plan.data.path.with_name(plan.data.path.name + ".json").unlink()
    with open_store(root / ".evalkit" / "evalkit.duckdb") as store, pytest.raises(Exception, match="was not written"):
        export_its_data(store, mon, project)


def test_year_totals_and_variants_do_not_give_away_suppressed_counts(demo):
    """A success measure's variants and areas: no hidden count can be worked out from what is shown.

    All victims = under 25 + the rest (latent), year by year and area by area; the latest year = its
    areas; a year = its months where the months are shown. The page's own audit (the scan, which
    rebuilds the arithmetic from the page alone) finds nothing.
    """
    from evalkit.publish.scan import scan_html

    root, written = demo
    html = written["html"].read_text()
    assert scan_html(html) == []
    data = json.loads(written["data"].read_text())
    for m in data["measures"]["measures"]:
        base = m["variants"][0]
        for v in m["variants"][1:]:
            for y, b in zip(v["years"], base["years"]):
                if y["count"]["value"] is not None and b["count"]["value"] is not None:
                    rest = b["count"]["value"] - y["count"]["value"]
                    assert not 0 < rest < 5, (m["id"], v["variant"], y["to"])  # all minus the part, never small

def test_an_areas_filtered_months_and_its_12_month_total_do_not_give_a_hidden_month_away(demo):
    """The area filter's series (each area's months) and the breakdown's 12-month area totals are
    linked: an area's total less its shown months never pins a hidden area-month (the example's A&E
    attendances in one area were 125 over the year with 121 shown in eleven months: the twelfth, 4,
    was recoverable before the two were linked)."""
    root, written = demo
    data = json.loads(written["data"].read_text())
    items = {f"{i['intervention']}/{i['indicator']}": i for i in data["indicators"]}
    checked = 0
    for key, groups in data["areas"].items():
        window = data["breakdowns"][key]
        months = [i for i, p in enumerate(items[key]["series"]["period"]) if window["from"] <= p <= window["to"]]
        totals = {g["group"]: g["count"] for g in window.get("area", [])}
        for area, values in groups.items():
            total = totals.get(area)
            if total is None or total["status"] != "shown":
                continue
            hidden = [values[i] for i in months if values[i] is not None and values[i]["status"] != "shown"]
            assert len(hidden) != 1, (key, area)  # one hidden month = the total less the other eleven
            if len(hidden) > 1:
                checked += 1
                shown = sum(values[i]["value"] for i in months if values[i] is not None and values[i]["status"] == "shown")
                assert total["value"] - shown >= 0
    assert checked  # the example has areas with hidden months beside a shown total


def test_status_command(demo):
    import os

    root, _ = demo
    env = dict(os.environ, **{KEY_ENV: "d" * 40})
    out = subprocess.run([sys.executable, "-m", "evalkit", "monitor", "status", "--project", str(root)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ambulance_callouts" in out.stdout and "missing 2023-12" in out.stdout
    assert "late 2024-03" in out.stdout and "off target in the latest period" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "evalkit", "monitor", "ingest", "police", str(root / "nope.csv"),
                          "--project", str(root)], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1 and "nope.csv: no such file" in bad.stderr


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="needs headless Chromium (apt-get install -y chromium)")
def test_dashboard_draws_its_charts_in_headless_chromium(demo, tmp_path):
    root, written = demo
    url = written["html"].resolve().as_uri()
    common = [_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--virtual-time-budget=5000", "--window-size=1400,6000"]
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    n_figures = written["html"].read_text().count("Plotly.newPlot")
    drawn = len(re.findall(r'class="main-svg"', dom.stdout))
    # plotly draws two main-svg layers per chart once its JavaScript has run
    assert drawn >= 2 * n_figures, f"{drawn} svg layers for {n_figures} figures"
    assert len(re.findall(r'class="[^"]*\btrace\b', dom.stdout)) >= n_figures  # a drawn trace in each
    shot = tmp_path / "dashboard.png"  # kept out of the repository
    subprocess.run(common + [f"--screenshot={shot}", url], capture_output=True, timeout=180)
    assert shot.exists() and shot.stat().st_size > 50_000


# ---------------------------------------------------------------- SPC beside RAG (issue 22)


def _traces(html: str) -> list[dict]:
    decoder = json.JSONDecoder()
    out = []
    for m in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", html):
        traces, _ = decoder.raw_decode(html, m.end())
        out.append(traces)
    return out


def test_every_publishable_indicator_has_an_xmr_chart_of_at_least_20_points(demo):
    root, written = demo
    data = json.loads(written["data"].read_text())
    spc = data["spc"]
    by_key = {f"{i['intervention']}/{i['indicator']}": i for i in data["indicators"]}
    measures = {k for k in spc if k.startswith("success_measures/")}  # test_the_success_measures_have_xmr_charts
    assert set(spc) - measures == set(by_key)
    spc = {k: v for k, v in spc.items() if k not in measures}
    charted = {k for k, v in spc.items() if v["charted"]}
    # every programme indicator and the A&E and ambulance indicators are charted on the example
    assert {"partnership/ae_assault_attendances", "partnership/ambulance_assault_callouts", "reach/referrals",
            "reach/completed", "vip/vip_referrals", "vip/vip_engaged", "ete/ete_starts", "phoenix/engaged",
            "sport/sport_attendances"} <= charted
    for key in charted:
        values = by_key[key]["series"]["value"]
        assert sum(1 for v in values if v and v["value"] is not None) >= 20
        assert all(v is None or v["status"] == "shown" or v["value"] is None for v in values)  # all publishable
        assert spc[key]["variation"] and spc[key]["convention"].startswith("NHS England Making Data Count")
    # a chart is never drawn over a suppressed or withheld point: such an indicator says why instead
    for key, entry in spc.items():
        hidden = [v for v in by_key[key]["series"]["value"] if v and v["status"] in ("small", "withheld")]
        if hidden:
            assert not entry["charted"] and "suppressed" in entry["why"]
    # the success measures are success_measures.yml's (the store table), not dashboard indicators
    assert not any(k.startswith("strategy/") for k in spc)
    # no step change declared for them (monitor.yml): one baseline each
    for key in charted:
        assert spc[key]["step_changes"] == [] and len(spc[key]["baselines"]) == 1


def test_the_success_measures_have_xmr_charts_split_where_the_network_began(demo):
    root, written = demo
    data = json.loads(written["data"].read_text())
    spc = {k.split("/", 1)[1]: v for k, v in data["spc"].items() if k.startswith("success_measures/")}
    measures = {m["id"]: m for m in data["measures"]["measures"]}
    assert set(spc) == set(measures)
    for mid, entry in spc.items():
        monthly = next(v for v in measures[mid]["variants"] if v["variant"] == "all")["monthly"]
        if monthly is None:  # some months under the threshold: only whole years are published, never charted
            assert not entry["charted"] and "only totals of whole years are published" in entry["why"]
            continue
        # charted on the monthly rates exactly as published, with the step change monitor.yml declares
        assert entry["charted"] and all(r["status"] == "shown" for r in monthly["rate"])
        assert entry["step_changes"] == ["2019-10-01"]
        before, after = entry["baselines"]
        assert (before["from"], before["to"], after["from"], after["to"]) == (
            "2016-04-01", "2019-09-01", "2019-10-01", "2024-03-01")
        rates = [r["value"] for r in monthly["rate"]]
        assert before["mean"] == pytest.approx(sum(rates[:42]) / 42) and after["mean"] == pytest.approx(
            sum(rates[42:]) / 54)
    # the knife measures were built to fall after October 2019 (evalkit.monitor.synth.TRUE_CHANGE)
    assert spc["knife_offences"]["baselines"][1]["mean"] < spc["knife_offences"]["baselines"][0]["mean"]
    assert {k for k, v in spc.items() if v["charted"]} == {"knife_offences", "serious_violence_local",
                                                          "knife_serious_violence_local"}
    html = written["html"].read_text()
    assert "XmR chart: Police-recorded knife or sharp" in html
    assert "Limits recalculated from Oct 2019 (step change)." in html


def test_the_needs_profile_is_saved_in_the_store_as_the_dashboard_publishes_it(demo):
    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.profile import PROFILE_COLUMNS, needs_profile, profile_rows, read_needs_profile
    from evalkit.store import open_store

    root, written = demo
    mon = load_monitoring(root)
    with open_store(root / ".evalkit" / "evalkit.duckdb", read_only=True) as store:
        stored = read_needs_profile(store)
        again = needs_profile(store, mon)  # computed afresh, not saved (a read-only store)
    assert list(stored.columns) == PROFILE_COLUMNS and len(stored) > 100
    expected = profile_rows(again, mon).sort_values(["source", "part", "position", "statistic"], ignore_index=True)
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)
    police = stored[stored.source == mon.settings.police_source]
    summary = police[police.part == "summary"].set_index("item")
    s = again["summary"]
    assert summary.loc["serious_violence", "value"] == s["serious_violence"] > 0
    assert summary.loc["peak_day", "text"] == s["peak_day"] and summary.loc["mapping_version", "text"] == "vrn-2023.1"
    assert set(police["sv_definition"]) == {"vrn-2023.1"}
    # every group of every part, e.g. the categories add up to the serious violence counted
    cats = police[(police.part == "by_category") & (police.statistic == "n")]
    assert cats["value"].sum() == s["serious_violence"]
    assert list(cats["item"]) == [str(c) if c is not None else "not recorded" for c in again["by_category"]["sv_category"]]
    days = police[(police.part == "by_day") & (police.statistic == "n")]
    assert len(days) == 7 and set(days["item"]) == set(again["by_day"]["day_name"])
    # the hospital and ambulance profiles are there too, each in its own window
    for sid, health in again["health"].items():
        mine = stored[stored.source == sid]
        assert (mine["window_from"] == health["from"]).all() and (mine["window_to"] == health["to"]).all()
        assert mine[(mine.part == "summary") & (mine.item == "n")]["value"].item() == health["n"]
    assert {"ae_attendances", "ambulance_callouts", "hospital_admissions"} <= set(stored.source)


def test_a_step_change_on_a_measure_without_published_months_is_refused(demo, tmp_path):
    from evalkit.errors import SpecError
    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.spc_dashboard import declared_step_changes, measure_items

    root = copy_monitoring_project(tmp_path / "p")
    settings = root / "monitoring" / "monitor.yml"
    text = settings.read_text()
    settings.write_text(text[:text.index("step_changes:")] + "step_changes:\n  success_measures/homicides: [2019-10-01]\n")
    mon = load_monitoring(root)
    hidden = {"id": "homicides", "label": "Homicides", "rate_per": 1_000_000,
              "variants": [{"variant": "all", "monthly": None}]}
    model = {"period_kind": "month", "indicators": [], "measures": {"measures": [hidden]}}
    assert measure_items(model)["success_measures/homicides"]["monthly_hidden"]
    with pytest.raises(SpecError) as info:
        declared_step_changes(mon, model, {})
    (problem,) = info.value.problems
    assert str(problem).endswith("step_changes.success_measures/homicides: the measure has no XmR chart (found "
                                 "monthly values not published (some months under the disclosure threshold); "
                                 "expected step changes only for a measure whose months are published)")


def test_the_xmr_charts_carry_their_cells_and_icons(demo):
    root, written = demo
    html = written["html"].read_text()
    xmr = [t for t in _traces(html) if any(tr.get("name") == "process limits" for tr in t)]
    assert len(xmr) >= 10
    for traces in xmr:
        points = traces[0]["meta"]["ek"]  # the scan checks each point against its cell's status
        assert len(points) == len(traces[0]["y"])
        assert all(p is None or p["status"] == "shown" for p in points)
    # (the figure JSON writes < and > as \u003c and \u003e)
    assert len(re.findall(r"(<|\\u003c)b(>|\\u003e)Variation", html)) >= 10
    assert re.search(r"(<|\\u003c)b(>|\\u003e)Assurance", html)
    # a success-measure indicator published as year-ending totals only is never charted (the example's success
    # measures now come from success_measures.yml, so none is on its dashboard: checked on the spec itself)
    from evalkit.monitor.spc_dashboard import XmRSpec

    chart, why = XmRSpec({"monthly_hidden": True, "series": {"period": [], "value": []}}, []).chart()
    assert chart is None and why.startswith("Not charted: most months are under the disclosure threshold")


def test_step_changes_are_checked_against_the_data(tmp_path):
    from evalkit.errors import SpecError
    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.spc_dashboard import declared_step_changes

    root = copy_monitoring_project(tmp_path / "p")
    settings = root / "monitoring" / "monitor.yml"
    text = settings.read_text()
    text = text[:text.index("step_changes:")] + (
        "step_changes:\n"
        "  reach/referrals: [2030-01-01]\n"
        "  reach/refferals: [2023-01-01]\n"
        "  vip/vip_referrals: [2023-09-01]\n")
    settings.write_text(text)
    line = {k: i + 1 for i, t in enumerate(text.splitlines()) for k in ("reach/referrals", "reach/refferals",
                                                                            "vip/vip_referrals") if f"  {k}:" in t}
    mon = load_monitoring(root)
    months = [str(p.date()) for p in pd.date_range("2022-04-01", "2024-03-01", freq="MS")]

    def item(intervention, indicator):
        return {"intervention": intervention, "indicator": indicator, "series": {"period": months}}

    model = {"period_kind": "month", "indicators": [item("reach", "referrals"), item("vip", "vip_referrals"),
                                                    item("sport", "sport_attendances")]}
    raw = {k: [40.0] * len(months) for k in ("reach/referrals", "vip/vip_referrals", "sport/sport_attendances")}
    with pytest.raises(SpecError) as info:
        declared_step_changes(mon, model, raw)
    found = [str(p) for p in info.value.problems]
    assert found == [
        f"monitoring/monitor.yml:{line['reach/referrals']}: error: step_changes.reach/referrals[0]: step change "
        "outside the data (found 2030-01-01; expected a date after the first month with data and no later than the "
        "last (2022-04 to 2024-03))",
        f"monitoring/monitor.yml:{line['reach/refferals']}: error: step_changes.reach/refferals: no such indicator on "
        "the dashboard (found 'reach/refferals'; expected intervention/indicator or success_measures/<measure id>, "
        "one of "
        + ", ".join(sorted({f"{d.intervention}/{d.indicator}" for d in mon.indicators})) + ")",
        f"monitoring/monitor.yml:{line['vip/vip_referrals']}: error: step_changes.vip/vip_referrals: too few points "
        "for an XmR chart (found 7 values from 2023-09 to 2024-03; expected at least 15 values in each baseline (the "
        "limits rest on them): fewer or later step changes)"]
    # a date inside a month places the step change at that month; with enough points either side it is accepted
    months = [str(p.date()) for p in pd.date_range("2021-04-01", "2024-03-01", freq="MS")]
    ok = {"period_kind": "month", "indicators": [item("sport", "sport_attendances")]}
    settings.write_text(text[:text.index("step_changes:")] + "step_changes:\n  sport/sport_attendances: [2022-10-15]\n")
    mon2 = load_monitoring(root)
    assert declared_step_changes(mon2, ok, {"sport/sport_attendances": [400.0] * 36}) == {
        "sport/sport_attendances": [pd.Timestamp("2022-10-01")]}


# ---------------------------------------------------------------- the strategic needs assessment


def _evalkit(root, *args):
    return subprocess.run([sys.executable, "-m", "evalkit", "monitor", *args, "--project", str(root)],
                          capture_output=True, text=True)


def test_the_needs_assessment_renders_from_the_example_store_and_passes_its_scan(demo):
    root, _ = demo
    out = _evalkit(root, "sna", "--from", "2023-04", "--to", "2024-03")
    assert out.returncode == 0, out.stderr
    html = (root / "reports" / "monitoring" / "sna-2023-04-to-2024-03.html").read_text()
    text = " ".join(html.split())
    for part in ("Volumes and trend by category", "the same months a year before", "Offences by hour of day",
                 "Offences by day of week", "Offences a year per 100,000 residents, by area of offence",
                 "Domestic abuse", "night-time economy", "Knife or sharp object", "Sexual offences",
                 "Per 1,000 residents", "Ages of victims and suspects", "Sex of victims and suspects",
                 "Victims per 100,000 residents, by area of residence", "Suspects per 100,000 residents, by area "
                 "of residence", "Residents who were a victim", "The hospital and ambulance picture",
                 "A&amp;E attendances for assault", "Ambulance call-outs to assault", "Hospital admissions for assault"):
        assert part in text, part
    # issue 14's profile has the areas of residence: no note that they are missing
    assert "Areas of residence of" not in text
    assert 'id="ek-disclosure"' in html and not re.search(r'<script[^>]+src="https?:', html)
    # the published page is recorded (it passed the scan) and a second run gives the same bytes
    again = _evalkit(root, "sna", "--from", "2023-04", "--to", "2024-03")
    assert again.returncode == 0
    assert (root / "reports" / "monitoring" / "sna-2023-04-to-2024-03.html").read_text() == html


@pytest.mark.parametrize("args, message", [
    (("--from", "2024-05", "--to", "2024-03"), "--from 2024-05 is after --to 2024-03"),
    (("--from", "2010-01", "--to", "2010-12"), "--from 2010-01 --to 2010-12: outside the police data (2016-04 to "
                                               "2024-03); expected months within it"),
    (("--from", "2023-4", "--to", "2024-03"), "--from: '2023-4' is not a month; expected YYYY-MM"),
])
def test_needs_assessment_bad_months_are_one_line(demo, args, message):
    root, _ = demo
    out = _evalkit(root, "sna", *args)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = [x for x in out.stderr.splitlines() if x.startswith("evalkit")]
    assert len(lines) == 1 and message in lines[0], out.stderr


# ---------------------------------------------------------------- the filters, in a real browser


@pytest.mark.skipif(_chromium() is None, reason="needs headless Chromium (apt-get install -y chromium)")
def test_area_and_period_filters_work_offline_in_headless_chromium(demo, tmp_path):
    root, written = demo
    html = written["html"].read_text()
    assert 'id="ek-area"' in html and 'id="ek-from"' in html and not re.search(r'<(script|link)[^>]+(src|href)="https?:', html)
    probe = """<script>window.addEventListener('load', function () { setTimeout(function () {
      var a = document.getElementById('ek-area'); var f = document.getElementById('ek-from');
      a.value = 'Leicester'; a.dispatchEvent(new Event('change'));
      f.value = '2023-01'; f.dispatchEvent(new Event('change'));
      var out = [], plots = document.querySelectorAll('.js-plotly-plot');
      plots.forEach(function (gd) {
        gd.data.forEach(function (t) {
          if (t.meta && t.meta.ek_area === 'Leicester') { out.push('area:' + (t.visible === true)); }
          if (t.meta && t.meta.ek_all && t.meta.ek_has_areas) { out.push('all:' + (t.visible === false)); }
        });
        if (gd.layout.xaxis && gd.layout.xaxis.range && String(gd.layout.xaxis.range[0]).slice(0, 7) === '2022-12') {
          out.push('range');
        }
      });
      var o = document.createElement('pre'); o.id = 'ek-probe'; o.textContent = out.join(' ');
      document.body.appendChild(o); }, 200); }); </script>"""
    page = tmp_path / "filtered.html"  # the published page with a probe that picks Leicester from 2023-01
    page.write_text(html.replace("</body>", probe + "</body>"))
    dom = subprocess.run([_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--virtual-time-budget=8000", "--window-size=1400,3000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=180)
    probe_out = re.search(r'<pre id="ek-probe">([^<]*)</pre>', dom.stdout)
    assert probe_out, dom.stderr[-2000:]
    words = probe_out.group(1).split()
    assert words.count("area:true") >= 3 and "area:false" not in words  # each area series shown
    assert words.count("all:true") >= 3 and "all:false" not in words  # the whole-area trace and target hidden
    assert words.count("range") >= 10  # every dated chart zoomed to the months chosen
