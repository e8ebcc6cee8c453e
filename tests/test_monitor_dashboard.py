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

from evalkit.monitor.dashboard import write_dashboard
from evalkit.monitor.keys import KEY_ENV



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
