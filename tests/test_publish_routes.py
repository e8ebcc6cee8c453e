"""Issue 12's leak routes end to end (reports, dashboard), atomic publishing, stale results, private rows.

Deliberately small subgroups, months, categories and flow stages are built in, each of which the
old outputs leaked; the published pages must pass the scan and hold none of the small values.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from test_report_data import context, est, matched_result, prepost_result, publish_report

from evalkit.publish.policy import Policy
from evalkit.publish.scan import scan_html
from evalkit.results import FlowStage, RunWarning


def _text(page: str) -> str:
    page = re.sub(r"<script\b.*?</script>", " ", page, flags=re.S)
    text = re.sub(r"\s+", " ", __import__("html").unescape(re.sub(r"<[^>]+>", " ", page)))
    return re.sub(r" ([,.;:)])", r"\1", text)


# ------------------------------------------------------------------------------- reports


def _matched(unmatched: int, pool: int = 255):
    r = matched_result()
    flow = tuple(s if s.group != "treated" else replace(s, n=pool if s.stage in ("in_data", "treated_pool")
                                                        else pool - unmatched if s.stage == "matched" else s.n)
                 for s in r.flow)
    ests = tuple(replace(e, n_treated=pool - unmatched, n=pool - unmatched + e.n_comparison) for e in r.estimates)
    warn = RunWarning.counted("treated_not_matched", "{lost} of {pool} treated units have no match (caliper, exact "
                              "columns or common support): the estimate applies to the matched treated only",
                              lost=unmatched, pool=pool)
    return replace(r, flow=flow, estimates=ests, warnings=(warn,))


@pytest.mark.parametrize("unmatched", [1, 2, 4])
def test_limitations_never_print_a_count_the_flow_suppresses(tmp_path, unmatched):
    page = publish_report(tmp_path, _matched(unmatched), context())["html"]
    text = _text(page)
    assert f"{unmatched} of 255" not in text and "fewer than 5 of 255 treated units have no match" in text
    assert str(255 - unmatched) not in text  # the matched count would give it away: withheld everywhere
    assert scan_html(page) == []


def test_old_results_with_counts_inside_the_message_are_guarded(tmp_path):
    r = _matched(2)
    r = replace(r, warnings=(RunWarning("treated_not_matched", "2 of 255 treated units have no match"),
                             RunWarning("few_pairs", "sdq (female=1): only 3 complete pairs (fewer than 20)")))
    text = _text(publish_report(tmp_path, r, context())["html"])
    assert "2 of 255" not in text and "only 3 complete" not in text
    assert "fewer than 5 of 255 treated units" in text and "only fewer than 5 complete pairs" in text


def test_a_small_subgroup_and_its_warnings_publish_no_number(tmp_path):
    r = prepost_result()
    warn = RunWarning.counted("few_pairs", "confidence (female=1): only {pairs} complete pairs (fewer than 20)",
                              "confidence", pairs=3)
    attr = RunWarning.counted("high_attrition", "confidence (exit vs baseline): {lost:pct_of:in_data} of the "
                              "{in_data} participants have no complete pair", "confidence", lost=10, in_data=130)
    r = replace(r, warnings=r.warnings + (warn, attr))
    page = publish_report(tmp_path, r, context())["html"]
    text = _text(page)
    assert "only 3 complete" not in text and "only fewer than 5 complete pairs" in text
    # 10 of 130 lost is no small count: the percentage stays, written from the same cells
    assert "8% of the 130 participants" in text
    assert scan_html(page) == []


def test_an_attrition_percentage_beside_its_n_does_not_give_the_lost_away(tmp_path):
    r = prepost_result()
    flow = (FlowStage("in_data", 124), FlowStage("with_baseline", 124), FlowStage("with_follow_up", 120),
            FlowStage("analysed", 120))
    r = replace(r, flow=flow, sections={**r.sections, "attrition": {"overall": 4 / 124}})
    text = _text(publish_report(tmp_path, r, context())["html"])
    assert "3.2%" not in text and "Overall attrition: [c]" in text and "fewer than 5" in text


def test_evidence_notes_written_elsewhere_are_guarded(tmp_path):
    ctx = context()
    ctx["evidence"] = {"level": "2", "programme": "P", "study": {"design_words": "rct", "checks": [
        {"id": "sample_size", "label": "sample size per arm", "status": "failed",
         "evidence": "treated 3, comparison 598 (at least 30 per arm)"}]}}
    text = _text(publish_report(tmp_path, prepost_result(), ctx)["html"])
    assert "treated 3," not in text and "treated fewer than 5, comparison 598" in text


def test_rounding_policy_end_to_end(tmp_path):
    pol = Policy(kind="round", threshold=8)
    page = publish_report(tmp_path, _matched(2), context(), policy=pol)["html"]
    shown = [int(v) for v in re.findall(r'data-ek-status="(?:rounded|shown)"[^>]*>(\d+)<', page)]
    assert shown and all(v % 5 == 0 for v in shown)
    assert "fewer than 8 of 255" in _text(page)
    assert scan_html(page, pol) == []


# ------------------------------------------------------------------------------- the dashboard


def _dashboard_model(page):
    """A month-by-month success measure with small months, a programme indicator whose latest month is
    small (its tile is red on the raw value), breakdown groups and needs-assessment categories with small
    cells: every route the dashboard leaked through."""
    from evalkit.monitor import dashboard as D

    random.seed(3)
    periods = [f"{y}-{m:02d}-01" for y in (2021, 2022, 2023) for m in range(1, 13)]
    small = [random.choice([0, 1, 2, 3, 4, 6, 8]) for _ in periods]
    rows = pd.DataFrame({"period": periods, "measure": "count", "numerator": [float(v) for v in small],
                         "denominator": float("nan"), "rate": [v / 1000 * 1e5 for v in small],
                         "rag": None, "value": [float(v) for v in small], "population": 1000.0,
                         "rate_per": 100000.0})
    series = D._indicator_model(page, rows, "strategy/homicides")
    rolling = D._rolling_model(page, rows, series, "strategy/homicides")
    prog_vals = [30.0, 40.0, 3.0]
    prog = pd.DataFrame({"period": periods[-3:], "measure": "count", "numerator": prog_vals,
                         "denominator": float("nan"), "rate": float("nan"), "rag": ["green", "green", "red"],
                         "value": prog_vals})
    prog_series = D._indicator_model(page, prog, "vip/referrals")
    values = pd.DataFrame([{"intervention": "vip", "indicator": "referrals", "measure": "count", "period": p,
                            "breakdown": b, "group": g, "numerator": float(n), "population": float("nan"),
                            "rate_per": float("nan")}
                           for p, tot in zip(periods[-3:], prog_vals)
                           for b, g, n in [("all", "all", tot), ("area", "A", tot - 2 if tot > 3 else 1),
                                           ("area", "B", 2 if tot > 3 else 2)]])
    # a source's record count (all referrals ever) less the months shown would be a hidden month
    source = {"source": "referrals", "label": "Referrals", "extracts": 3, "rows": int(sum(prog_vals)),
              "first": "2023-10", "last": "2023-12", "missing": [], "late": [], "replacements": 0}
    model = {"as_of": "2023-12", "period_kind": "month", "mapping_version": "v1", "breakdowns": {},
             "success": {"homicides": {"its": None, "rolling": rolling}}, "quality": {"sources": [source], "unmapped": []}}
    prog_item = {"intervention": "vip", "intervention_name": "VIP", "indicator": "referrals", "label": "Referrals",
                 "measure": "count", "direction": "increase", "rate_per": None, "target": 30.0, "amber": 27.0,
                 "target_per": None, "amber_default": False, "series": prog_series, "success_measure": False}
    hom_item = {"intervention": "strategy", "intervention_name": "Strategy", "indicator": "homicides",
                "label": "Homicides", "measure": "count", "direction": "decrease", "rate_per": 100000,
                "target": None, "amber": None, "target_per": None, "amber_default": False, "series": series,
                "success_measure": True}
    model["indicators"] = [prog_item, hom_item]
    D._breakdown_model(page, values, "vip", "referrals", prog_series, model)
    # the local-definition measure's year before the profile's window, published elsewhere on the page
    model["measure_year_before"] = D._same_fact(page, ("police local serious violence", "2022-01", "2022-12"), 97,
                                                role="headline", label="local serious violence year ending 2022-12")
    profile = {"summary": {"from": "2023-01", "to": "2023-12", "months": 12, "serious_violence": 100,
                           "previous_from": "2022-01",
                           "domestic": 3, "knife": 25, "location_known": 90, "public_place": 50,
                           "public_night_time_economy": 20, "peak_hour": 22, "peak_day": "Saturday",
                           "mapping_version": "v1"},
               "by_hour": pd.DataFrame({"hour": [0, 1, 2], "n": [50, 47, 3]}),
               "by_day": pd.DataFrame({"day_name": ["Mon", "Tue"], "n": [98, 2]}),
               "by_category": pd.DataFrame({"sv_category": ["a", "b", "c"], "n": [60, 37, 3]}),
               "year_on_year": pd.DataFrame({"sv_category": ["a", "b", "c"], "n": [60, 37, 3],
                                             "n_previous": [50, 45, 2]}),
               "by_area": pd.DataFrame({"area": ["X", "Y"], "n": [96, 4], "rate_per_100000": [960.0, 40.0]}),
               "victim_ages": pd.DataFrame({"age_band": ["10-17", "18-24"], "n": [2, 98]}),
               "suspect_ages": pd.DataFrame({"age_band": ["10-17", "18-24"], "n": [99, 1]})}
    model["profile"] = D._profile_model(page, profile)
    return model, small


def test_dashboard_routes_are_closed(tmp_path):
    from evalkit.monitor import charts
    from evalkit.monitor.dashboard import export_json
    from evalkit.publish.publication import Publication
    from evalkit.publish.scan import scan_export

    pub = Publication(Policy(), project_root=tmp_path, out_root=tmp_path / "out", setting="--out")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True)
    model, small = _dashboard_model(page)
    charts.build_page(page, model, Policy())
    page.para("Local serious violence, year ending 2022-12: {n}.", n=model["measure_year_before"])
    pub.export("dashboard_data.json", lambda: export_json(model, Policy()))
    out = pub.publish(log=lambda *_: None)
    assert not out.failed, out.failed
    html = out.pages["dashboard"]["html"].read_text()
    assert scan_html(html) == [] and scan_export(out.exports[0], Policy()) == []
    data = json.loads(out.exports[0].read_text())
    months = data["indicators"][1]["series"]["count"]
    rolling = data["success"]["homicides"]["rolling"]["count"]
    # every hidden month: R_t - R_t-1 + m_t-12 is never fully published
    for t in range(12, len(months)):
        if months[t]["status"] == "small":
            assert months[t]["value"] is None
            assert not (rolling[t]["status"] == rolling[t - 1]["status"] == months[t - 12]["status"] == "shown")
    # the needs-assessment category of 3 and the one that would give it away (total minus the others)
    cats = {c["label"]: c["count"] for c in data["profile"]["by_category"]}
    assert cats["c"]["status"] == "small" and sum(c["status"] == "withheld" for c in cats.values()) >= 1
    assert data["profile"]["share_domestic"]["status"] != "shown"  # 3% of 100 is 3 people
    assert data["quality"]["sources"][0]["extracts"] == 3 and "rows" not in data["quality"]["sources"][0]
    # the year before by category: the published year total less the other categories is not the small one
    before = {r["category"]: r["previous"] for r in data["profile"]["year_on_year"]}
    assert before["c"]["status"] == "small" and "97" in _text(html)
    assert not all(before[k]["status"] == "shown" for k in ("a", "b"))
    # the programme's latest month (3, red on the raw number) shows no RAG band
    tile = re.search(r'<div class="ek-tile[^"]*" data-ek-rag="([^"]+)" style="background:([^"]+)">(?:(?!</div></div>).)*'
                     r'Referrals', html, re.S)
    assert tile and tile.group(1) == "none" and tile.group(2) == "#607d8b"
    assert "RED" not in _text(html) and "status not shown" in _text(html)
    # a hidden bar or marker is not drawn at its true height
    for m in re.finditer(r'Plotly\.newPlot\(\s*"[^"]*",\s*(\[.*?\]),\s*\{', html, re.S):
        for trace in json.loads(m.group(1)):
            meta = (trace.get("meta") or {}).get("ek")
            axis = "x" if trace.get("orientation") == "h" else "y"
            for point, v in zip(meta or [], trace.get(axis) or []):
                if point and point["status"] in ("small", "withheld"):
                    assert v is None


def test_dashboard_under_the_rounding_policy(tmp_path):
    """The same small months, groups and categories under the HES-style rule: 1-7 hidden, the rest
    rounded to 5, in the page, its figures and the export; nothing recoverable."""
    from evalkit.monitor import charts
    from evalkit.monitor.dashboard import export_json
    from evalkit.publish.publication import Publication
    from evalkit.publish.scan import scan_export

    pol = Policy(kind="round", threshold=8)
    pub = Publication(pol, project_root=tmp_path, out_root=tmp_path / "out", setting="--out")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True)
    model, _small = _dashboard_model(page)
    charts.build_page(page, model, pol)
    pub.export("dashboard_data.json", lambda: export_json(model, pol))
    out = pub.publish(log=lambda *_: None)
    assert not out.failed, out.failed
    html = out.pages["dashboard"]["html"].read_text()
    assert scan_html(html, pol) == [] and scan_export(out.exports[0], pol) == []
    shown = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("kind") == "count" and "status" in node:
                if node["status"] in ("small", "withheld"):
                    assert node["value"] is None and not re.search(r"\d", str(node.get("shown") or "").replace("8", ""))
                elif node["value"] is not None:
                    shown.append(node["value"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(json.loads(out.exports[0].read_text()))
    assert shown and all(v == 0 or (v % 5 == 0 and v >= 8) for v in shown), sorted(set(shown))[:10]
    assert "fewer than 8" in _text(html) or "[c]" in _text(html)
    assert "RED" not in _text(html)


def _its_dashboard(tmp_path, months):
    """A success measure with a fitted trend (ITS), published as the dashboard publishes it."""
    import numpy as np

    from evalkit.monitor import charts
    from evalkit.monitor import dashboard as D
    from evalkit.monitor.dashboard import export_json
    from evalkit.publish.publication import Publication

    periods = [f"{y}-{m:02d}-01" for y in (2020, 2021, 2022, 2023) for m in range(1, 13)]
    pop = 1_000_000.0
    values = pd.DataFrame({"intervention": "strategy", "indicator": "knife", "measure": "count", "breakdown": "all",
                           "group": "all", "period": periods, "numerator": [float(v) for v in months],
                           "denominator": float("nan"), "population": pop, "rate_per": 100000.0})
    pub = Publication(Policy(), project_root=tmp_path, out_root=tmp_path / "out", setting="--out")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True)
    rows = values.assign(rate=values["numerator"] / pop * 1e5, rag=None, value=values["numerator"])
    series = D._indicator_model(page, rows, "strategy/knife")
    rolling = D._rolling_model(page, rows, series, "strategy/knife")
    its = D._its(values, "knife", "2022-01")
    item = {"intervention": "strategy", "intervention_name": "Strategy", "indicator": "knife", "label": "Knife crime",
            "measure": "count", "direction": "decrease", "rate_per": 100000, "target": None, "amber": None,
            "target_per": None, "amber_default": False, "series": series, "success_measure": True}
    model = {"as_of": "2023-12", "period_kind": "month", "mapping_version": "v1", "breakdowns": {},
             "indicators": [item], "success": {"knife": {"its": its, "rolling": rolling}},
             "quality": {"sources": [], "unmapped": []}, "profile": {}}
    charts.build_page(page, model, Policy())
    pub.export("dashboard_data.json", lambda: export_json(model, Policy()))
    out = pub.publish(log=lambda *_: None)
    assert not out.failed, out.failed
    data = json.loads(out.exports[0].read_text())
    return data, out.pages["dashboard"]["html"].read_text(), its, np


def test_a_fitted_trend_does_not_give_a_suppressed_month_away(tmp_path):
    """A quasi-Poisson ITS solves X'y = X'mu: its fitted values and the shown months give the sum of the
    hidden ones. With one month of 48 suppressed, that sum is the month: the trend is not published."""
    rng = random.Random(7)
    months = [rng.randint(20, 40) for _ in range(48)]
    months[30] = 3
    data, html, its, np = _its_dashboard(tmp_path / "one", months)
    # the route is real: the unpublished fit gives the hidden month back exactly
    from evalkit.estimate.its import design_matrix
    from evalkit.spec.raw import Seasonality

    frame = pd.DataFrame({"area": "all", "month": pd.PeriodIndex(data["indicators"][0]["series"]["period"], freq="M")})
    X = design_matrix(frame, pd.Period("2022-01", "M"), Seasonality.month).to_numpy(float)
    mu = np.asarray(its["fitted_rate"]) * 1_000_000 / 100000
    counts = data["indicators"][0]["series"]["count"]
    known = np.array([v["status"] == "shown" for v in counts])
    y = np.array([v["value"] if v["status"] == "shown" else 0 for v in counts], dtype=float)
    rows, rhs = [X.T], [X.T @ mu - X.T @ y]  # X'y = X'mu, the shown months moved to the right
    for t, r in enumerate(data["success"]["knife"]["rolling"]["count"]):
        if r is not None and r["status"] == "shown":
            ones = np.zeros(48)
            ones[t - 11:t + 1] = 1
            rows.append(ones[None, :])
            rhs.append(np.array([r["value"] - ones @ y]))
    A, b = np.vstack(rows)[:, ~known], np.concatenate(rhs)
    solved = np.linalg.lstsq(A, b, rcond=None)[0]
    assert not known[30] and round(float(solved[list(np.flatnonzero(~known)).index(30)]), 6) == 3
    assert data["success"]["knife"]["its"] is None
    assert "segmented trend (fitted)" not in html and "rate ratio [c]" in _text(html)
    assert "Slope change: [c]" in _text(html) and scan_html(html) == []
    # every month shown: the trend is published
    months[30] = 30
    data, html, _its, _np = _its_dashboard(tmp_path / "all", months)
    assert data["success"]["knife"]["its"]["level_change"]["estimate"] > 0 and "segmented trend (fitted)" in html
    assert "rate ratio [c]" not in _text(html) and re.search(r"rate ratio \d\.\d\d \(", _text(html))
    assert "_design" not in json.dumps(data)


# ------------------------------------------------------------------------------- publishing atomically


def _publish_prepost(root, **kw):
    return publish_report(root, prepost_result(), context(), **kw)


def test_the_export_scan_refuses_a_count_outside_disclosure_control(tmp_path):
    from evalkit.publish.scan import scan_export

    path = tmp_path / "data.json"
    path.write_text(json.dumps({"sources": [{"source": "referrals", "rows": 3}],
                                "months": [{"value": None, "status": "small", "kind": "count"}]}))
    assert scan_export(path, Policy()) == ["data.json: $.sources[0].rows is a count (3) outside disclosure control"]


def test_a_page_that_fails_the_scan_is_not_published_and_the_old_one_stays(tmp_path, monkeypatch):
    from evalkit.publish import publication

    got = _publish_prepost(tmp_path)
    before = got["qmd"].with_suffix(".html").read_bytes()
    real = publication.Publication.publish

    def leaky(self, **kw):  # a writer bug: a small count in plain text on the page
        self.pages[0].para("Only 2 participants finished.")
        return real(self, **kw)

    monkeypatch.setattr(publication.Publication, "publish", leaky)
    with pytest.raises(AssertionError, match="disclosure check failed"):
        _publish_prepost(tmp_path)
    assert got["qmd"].with_suffix(".html").read_bytes() == before
    assert not list((tmp_path / "reports").rglob("*.partial"))


def test_a_full_disk_leaves_the_previous_page_and_says_so(tmp_path, monkeypatch):
    import errno

    from evalkit.publish import render as render_mod
    from evalkit.publish.atomic import PublishError

    got = _publish_prepost(tmp_path)
    before = got["qmd"].with_suffix(".html").read_bytes()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(render_mod, "render", full)
    with pytest.raises(PublishError, match="no space left on the disk.*previous pages are unchanged"):
        _publish_prepost(tmp_path)
    assert got["qmd"].with_suffix(".html").read_bytes() == before


def test_an_unwritable_publication_folder_is_one_line(tmp_path, monkeypatch):
    from evalkit.publish.atomic import PublishError, check_writable

    (tmp_path / "file").write_text("x")
    with pytest.raises(PublishError, match=r"^--out: .*file/out is not a folder"):
        check_writable(tmp_path / "file" / "out", "--out")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(PublishError, match=r"^--out: .* is not writable \(permission denied\)"):
        check_writable(tmp_path / "x", "--out")


# ------------------------------------------------------------------------------- settings, stale, private


@pytest.mark.parametrize("text,message", [
    ("disclosure:\n  threshold: 0\n", "evalkit.yml:2: disclosure.threshold: found 0; expected a whole number of at least 1"),
    ("disclosure:\n  threshold: 2.5\n", "evalkit.yml:2: disclosure.threshold: found 2.5; expected a whole number"),
    ("disclosure:\n  threshold: five\n", "disclosure.threshold: found 'five'; expected a whole number"),
    ("disclosure:\n  policy: hide\n", "evalkit.yml:2: disclosure.policy: found 'hide'; expected one of suppress, round"),
    ("disclosure:\n  minimum: 5\n", "evalkit.yml:2: disclosure.minimum: unknown setting"),
])
def test_bad_disclosure_settings_are_one_line(example_project, text, message):
    root = example_project
    (root / "evalkit.yml").write_text(text)
    result = run_cli("report", "--project", str(root))
    assert result.returncode == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (root / "reports" / "index.html").exists()


def test_min_count_below_one_is_refused(example_project):
    result = run_cli("report", "--min-count", "0", "--project", str(example_project))
    assert result.returncode == 1 and "--min-count: found 0; expected a whole number of at least 1" in result.stderr
    result = run_cli("report", "--min-count", "x", "--project", str(example_project))
    assert result.returncode == 1 and "--min-count: found 'x'" in result.stderr


def test_the_project_policy_applies_to_every_output(example_project):
    from evalkit.publish.policy import project_policy

    root = example_project
    (root / "monitoring" / "monitor.yml").unlink(missing_ok=True)  # the example's sets min_count 5
    (root / "evalkit.yml").write_text("disclosure:\n  policy: round\n")
    assert project_policy(root) == Policy(kind="round", threshold=8, source="evalkit.yml")
    (root / "monitoring").mkdir(exist_ok=True)
    (root / "monitoring" / "monitor.yml").write_text("disclosure:\n  min_count: 10\n")
    (root / "evalkit.yml").write_text("disclosure:\n  threshold: 6\n")
    with pytest.raises(Exception, match="monitor.yml:2: disclosure.min_count: found 10, but evalkit.yml sets threshold 6"):
        project_policy(root)


def test_stale_results_are_refused_unless_allowed(example_project):
    root = example_project
    assert run_cli("run", "mvp-external-trial", "--project", str(root), "--no-store").returncode == 0
    plan = root / "evaluations" / "mvp-external.yml"
    plan = plan if plan.exists() else next(p for p in (root / "evaluations").glob("*.yml")
                                           if "mvp-external-trial" in p.read_text())
    plan.write_text(plan.read_text() + "\n# edited after the run\n")
    result = run_cli("report", "mvp-external-trial", "--project", str(root))
    assert result.returncode == 1
    assert f"mvp-external-trial: results are stale: the evaluation plan ({plan.name}) changed" in result.stderr
    assert "--allow-stale" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (root / "reports" / "mvp-external-trial" / "index.html").exists()
    result = run_cli("report", "mvp-external-trial", "--project", str(root), "--allow-stale")
    assert result.returncode == 0, result.stderr
    page = (root / "reports" / "mvp-external-trial" / "index.html").read_text()
    assert "These results are out of date" in page and f"the evaluation plan ({plan.name}) changed" in _text(page)


def test_person_level_rows_live_outside_reports_owner_only(example_project):
    root = example_project
    assert run_cli("run", "reach-2023-matched", "--project", str(root), "--no-store").returncode == 0
    private = root / ".evalkit" / "private" / "reach-2023-matched"
    rows = pd.read_csv(private / "analysed_data.csv")
    assert (root / ".evalkit").stat().st_mode & 0o777 == 0o700
    assert (root / ".evalkit" / "private").stat().st_mode & 0o777 == 0o700
    assert private.stat().st_mode & 0o777 == 0o700 and (private / "analysed_data.csv").stat().st_mode & 0o777 == 0o600
    ids = set(rows["pupil_id"].astype(str))
    for p in (root / "reports").rglob("*"):
        if p.is_file():
            text = p.read_text(errors="ignore")
            assert not any(i in text for i in list(ids)[:200]), p
    # a plan may not read another run's private rows
    plan = next(p for p in (root / "evaluations").glob("*.yml") if "id: reach-2023-prepost" in p.read_text())
    text = plan.read_text()
    path = re.search(r"path: (\S+)", text).group(1)
    plan.write_text(text.replace(f"path: {path}", "path: ../.evalkit/private/reach-2023-matched/analysed_data.csv"))
    result = run_cli("validate", "--no-data", "--project", str(root))
    assert result.returncode == 1 and "data.path: points into the project's .evalkit/ working area" in result.stderr


def test_no_code_writes_person_level_rows_under_reports():
    """The done-when's `git grep`: nothing in the package joins reports/ with private rows, or with
    the results files (unsuppressed aggregates) but the one function that moves an older project's out."""
    src = Path(__file__).resolve().parents[1] / "evalkit"
    hits = [p for p in src.rglob("*.py") if re.search(r"""["']private["']""", p.read_text())
            and re.search(r"reports", p.read_text()) and p.name not in ("run.py",)]
    run = (src / "run.py").read_text()
    assert '/ "private"' in run and '".evalkit"' in run and 'out / "private"' not in run
    assert not hits, hits
    joined = re.compile(r"""(["']reports["']|\breports(_dir)?)\s*/[^\n]*["'](results\.json|run-info\.json|portfolio\.json)["']"""
                        r"|reports/(<[^>]+>|\*|\{[^}]+\})/(results|run-info)\.json|reports/portfolio\.json")
    aggregates = [f"{p.name}:{i}" for p in src.rglob("*.py") for i, line in enumerate(p.read_text().splitlines(), 1)
                  if joined.search(line) and p.name != "project.py"]
    assert not aggregates, aggregates
    assert "def move_old_results" in (src / "project.py").read_text()


# ------------------------------------------------------------------------------- results files outside reports/


def test_results_files_live_in_the_working_area_owner_only(example_project):
    from evalkit.project import results_path

    root = example_project
    assert run_cli("run", "mvp-external-trial", "--project", str(root), "--no-store").returncode == 0
    for name in ("results.json", "run-info.json"):
        path = results_path(root, "mvp-external-trial", name)
        assert path.is_file() and path.stat().st_mode & 0o777 == 0o600, path
    assert path.parent.stat().st_mode & 0o777 == 0o700 and path.parent.parent.stat().st_mode & 0o777 == 0o700
    assert not (root / "reports" / "mvp-external-trial").exists()
    # and nowhere inside reports/, even when asked
    refused = run_cli("run", "mvp-external-trial", "--project", str(root), "--no-store", "--out",
                      str(root / "reports" / "x"))
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "--out:" in refused.stderr and "inside reports/, the folder people upload" in refused.stderr
    assert not (root / "reports" / "x").exists()
    # nor the unsuppressed indicator values
    refused = run_cli("monitor", "indicators", "--project", str(root), "--out", str(root / "reports" / "values.csv"))
    assert refused.returncode == 1 and "inside reports/, the folder people upload" in refused.stderr, refused.stderr
    assert not (root / "reports" / "values.csv").exists()


def test_an_older_projects_results_in_reports_are_moved_and_said_in_one_line(example_project):
    from evalkit.project import results_path

    root = example_project
    assert run_cli("run", "mvp-external-trial", "--project", str(root), "--no-store").returncode == 0
    old = root / "reports" / "mvp-external-trial"
    old.mkdir(parents=True)
    for name in ("results.json", "run-info.json"):  # the layout an older evalkit left
        os.replace(results_path(root, "mvp-external-trial", name), old / name)
    (root / "reports" / "portfolio.json").write_text('{"schema": "old"}\n')
    done = run_cli("report", "mvp-external-trial", "--project", str(root), "--no-index")
    assert done.returncode == 0, done.stderr
    moved = [line for line in done.stderr.splitlines() if line.startswith("moved ")]
    assert len(moved) == 1 and "moved 3 results file(s) an older evalkit left in reports/" in moved[0]
    assert "reports/mvp-external-trial/results.json" in moved[0]
    assert not (old / "results.json").exists() and not (old / "run-info.json").exists()
    assert not (root / "reports" / "portfolio.json").exists()
    assert results_path(root, "mvp-external-trial").stat().st_mode & 0o777 == 0o600
    assert results_path(root, None, "portfolio.json").read_text() == '{"schema": "old"}\n'
    assert (old / "index.html").exists()  # published from the moved results
    # a second old copy does not replace the current one: it is kept beside it, and said
    (old / "results.json").write_text("{}")
    again = run_cli("run", "mvp-external-trial", "--project", str(root), "--no-store")
    assert again.returncode == 0 and "moved 1 results file(s)" in again.stderr
    assert results_path(root, "mvp-external-trial", "results.json.from-reports").read_text() == "{}"
    assert json.loads(results_path(root, "mvp-external-trial").read_text())["evaluation"] == "mvp-external-trial"


# what may sit in reports/ after the example project has run end to end: each pattern, and how it was checked
