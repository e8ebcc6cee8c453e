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

from evalkit.monitor.dashboard import publishable_values, write_dashboard
from evalkit.monitor.keys import KEY_ENV



def test_small_counts_are_suppressed_with_secondary_suppression():
    rows = [("all", "all", 12), ("area", "A", 3), ("area", "B", 9), ("sex", "F", 6), ("sex", "M", 6)]
    frame = pd.DataFrame([{"intervention": "strategy", "indicator": "knife_sv", "period": "2024-01-01",
                           "breakdown": b, "group": g, "measure": "count", "value": float(n), "numerator": float(n),
                           "denominator": float("nan"), "rate": n / 1000, "rag": None} for b, g, n in rows])
    prop = {"intervention": "vip", "indicator": "vip_engaged", "period": "2024-01-01", "breakdown": "all",
            "group": "all", "measure": "proportion", "value": 2 / 3, "numerator": 2.0, "denominator": 3.0,
            "rate": float("nan"), "rag": "green"}
    frame = pd.concat([frame, pd.DataFrame([prop])], ignore_index=True)
    out = publishable_values(frame, 5).set_index(["indicator", "breakdown", "group"])
    assert out.loc[("knife_sv", "area", "A"), "suppressed"]  # 3 < 5
    assert out.loc[("knife_sv", "area", "B"), "suppressed"]  # 12 - 3 would reveal it
    assert pd.isna(out.loc[("knife_sv", "area", "B"), "rate"])
    assert not out.loc[("knife_sv", "all", "all"), "suppressed"]
    assert not out.loc[("knife_sv", "sex", "F"), "suppressed"]
    assert out.loc[("vip_engaged", "all", "all"), "suppressed"]  # 2 of 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.synth import ingest_demo_extracts, write_demo_extracts
    from evalkit.project import load_project
    from evalkit.store import open_store

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, "d" * 40)
        root = tmp_path_factory.mktemp("demo") / "project"
        copy_monitoring_project(root)
        report = write_demo_extracts(root)
        mon = load_monitoring(root)
        project = load_project(root, check_data=False)
        with open_store(root / ".evalkit" / "evalkit.duckdb") as store:
            list(ingest_demo_extracts(store, mon, root, report))
            written = write_dashboard(store, mon, project, root / "reports" / "monitoring")
        yield root, written


def test_dashboard_files(demo):
    root, written = demo
    qmd = written["qmd"].read_text()
    assert "format:\n  dashboard:" in qmd and "dashboard_data.json" in qmd
    data = json.loads(written["data"].read_text())
    html = written["html"].read_text()
    assert html.count("Plotly.newPlot") >= 15
    assert not re.search(r'<script[^>]+src="https?:', html)  # self-contained: plotly.js inlined
    # headline tiles with RAG, success measures, data quality notes
    assert all(i["latest"]["rag"] in ("green", "amber", "red") for i in data["indicators"] if i["target"] is not None)
    success = {m["id"]: m for m in data["success"]["measures"]}
    assert set(success) == {"knife_admissions", "knife_offences", "homicides", "serious_violence_local",
                            "knife_serious_violence_local"}
    assert {v["variant"] for v in success["homicides"]["variants"]} == {"all", "under_25", "non_domestic"}
    assert success["knife_offences"]["its"]["level_change"]["estimate"] < 1
    assert success["serious_violence_local"]["local_definition"] and success["serious_violence_local"]["its"] is None
    assert data["success"]["version"] == "ho-vru-2024.1" and data["success"]["sv_definition"] == "vrn-2023.1"
    assert data["success"]["its"]["plan"] == "strategy-its"
    assert "Home Office success measures (ho-vru-2024.1)" in html and "local definition" in html
    quality = {s["source"]: s for s in data["quality"]["sources"]}
    assert quality["ambulance_callouts"]["missing"] == ["2023-12"]
    assert quality["hospital_admissions"]["late"] == ["2024-03"]
    assert quality["police"]["replacements"] == 1
    unmapped = {u["offence_type"]: u["n"] for u in data["quality"]["unmapped"]}
    assert "Possession of article with blade or point" in unmapped
    assert "Possession of article with blade or point" in html and "missing 2023-12" in html


def test_dashboard_publishes_no_small_counts_and_no_identifiers(demo):
    from evalkit.report.disclosure import scan_html

    root, written = demo
    html = written["html"].read_text()
    assert scan_html(html) == []
    data = json.loads(written["data"].read_text())
    for item in data["indicators"]:
        if item["measure"] == "count":
            assert not [v for v in item["series"]["numerator"] if v is not None and 0 < v < 5]
    small = lambda v: v is not None and 0 < v < 5  # noqa: E731
    for m in data["success"]["measures"]:
        for v in m["variants"]:
            assert not [y for y in v["years"] if small(y["count"])]
            assert not [a for a in v["latest_by_area"] if small(a["count"])]
            if v["monthly"] is not None:
                assert not [n for n in v["monthly"]["count"] if small(n)]
        # homicides: small months, so only yearly totals are published (a rolling total would reveal a month)
        if m["id"] == "homicides":
            assert all(v["monthly"] is None for v in m["variants"])
    prof = data["profile"]
    for name, rows in prof.items():
        if isinstance(rows, list):
            assert not [r for r in rows if small(r.get("n")) or small(r.get("people"))], name
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
    dashboard = json.loads(written["data"].read_text())["success"]["measures"]
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
