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
    assert {i["indicator"] for i in data["indicators"] if i["success_measure"]} == {"knife_admissions", "knife_sv",
                                                                                      "homicides"}
    assert data["success"]["knife_sv"]["its"]["level_change"]["estimate"] < 1
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
    raw = pd.read_csv(next((root / "monitoring" / "extracts" / "police").glob("police_2023-10.csv")))
    ids = set(raw.victim_id.dropna()) | set(raw.crime_ref)
    text = written["data"].read_text() + html
    words = set(re.findall(r"[A-Za-z0-9-]+", text))
    assert not ids & words


def test_year_ending_totals_do_not_give_away_suppressed_months(demo):
    """Each hidden month of a success measure stays unknown from the published year-ending totals."""
    root, written = demo
    data = json.loads(written["data"].read_text())
    for name, entry in data["success"].items():
        months = next(i for i in data["indicators"] if i["indicator"] == name)["series"]["count"]
        rolling = entry["rolling"]["count"]
        for t in range(12, len(months)):
            m, r_now, r_before, m_old = months[t], rolling[t], rolling[t - 1], months[t - 12]
            if m and m["status"] in ("small", "withheld") and r_now and r_before and m_old:
                # R_t - R_t-1 = m_t - m_t-12: never all three published
                assert not (r_now["status"] == r_before["status"] == m_old["status"] == "shown"), (name, t)

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
