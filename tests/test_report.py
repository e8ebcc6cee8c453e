"""Reports: numbers equal results.json, no small counts, words agree with the numbers, markup is
shown as text, nothing private is read; the renderer and the CLI."""

from __future__ import annotations

import html
import json
import os
import re
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import run_cli
from test_report_data import EVIL, PERSON_ID, context, est, matched_result, prepost_result, publish_report

from evalkit.project import results_path
from evalkit.publish.policy import Policy
from evalkit.publish.render import RenderError, RenderSettings, render
from evalkit.publish.scan import scan_html
from evalkit.report import wording as w


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The two built reports published once: {name: (ResultSet, html text, qmd path)}."""
    out = {}
    for name, result in (("prepost", prepost_result()), ("matched", matched_result())):
        got = publish_report(tmp_path_factory.mktemp(name), result, context())
        out[name] = (result, got["html"], got["qmd"])
    return out


def _table_rows(page: str, table_id: str) -> list[dict[str, str]]:
    m = re.search(rf'<table class="ek-table" id="{table_id}">(.*?)</table>', page, re.S)
    assert m, f"no table {table_id}"
    rows = []
    for tr in re.finditer(r'<tr data-row="(\d+)"[^>]*>(.*?)</tr>', m.group(1), re.S):
        cells = {"row": tr.group(1)}
        for td in re.finditer(r'<td[^>]*data-field="([^"]+)"[^>]*>(.*?)</td>', tr.group(2), re.S):
            cells[td.group(1)] = html.unescape(re.sub(r"<[^>]+>", "", td.group(2))).strip()
        rows.append(cells)
    return rows


def _text(page: str) -> str:
    page = re.sub(r"<script\b.*?</script>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _flow(page: str) -> str:
    return re.search(r'<svg[^>]*class="ek-flow".*?</svg>', page, re.S).group(0)


# ------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("name", ["prepost", "matched"])
def test_every_number_in_the_results_table_equals_results_json(rendered, name):
    result, page, qmd = rendered[name]
    saved = json.loads(results_path(qmd.parents[2], qmd.parent.name).read_text())["estimates"]
    rows = _table_rows(page, "ek-results")
    assert len(rows) == len(saved)
    for row in rows:
        e = saved[int(row["row"])]
        if row["estimate"] == "[c]":  # a small group: every statistic of it is hidden
            assert e["n"] < 5 and row["ci_low"] == row["p_value"] == "[c]"
            continue
        for key in ("estimate", "ci_low", "ci_high"):
            assert abs(float(row[key]) - e[key]) <= 0.5 * 10 ** -w.DIGITS, (key, row[key], e[key])
        p = row["p_value"]
        assert (p == "<0.001" and e["p_value"] < 0.001) or abs(float(p) - e["p_value"]) <= 0.0005
        assert row["ci_level"] == f"{e['ci_level'] * 100:.0f}%"
        for key in ("n", "n_treated", "n_comparison"):
            if e[key] is None:
                assert row[key] == "-"
            elif row[key] != "[c]":
                assert int(row[key]) == e[key]


def test_the_qmd_holds_only_published_values_and_no_code(rendered):
    _result, page, qmd = rendered["prepost"]
    text = qmd.read_text()
    assert "```{python}" not in text and "exec" not in text
    # the subgroup of 3 and its estimate (0.410) are not in the source either
    assert "0.410" not in text and "0.41" not in text
    shown = set(re.findall(r'data-ek-status="shown">(\d+)<', text)) | set(re.findall(r'\[(\d+)\]\{\.ek-count', text))
    assert shown and all(int(v) == 0 or int(v) >= 5 for v in shown)


# ------------------------------------------------------------------------------- disclosure


def test_no_count_under_the_threshold_appears(rendered):
    for _result, page, _qmd in rendered.values():
        assert scan_html(page) == []
        shown = [int(v) for v in re.findall(r'class="ek-count"[^>]*data-ek-status="shown"[^>]*>(\d+)<', page)]
        assert shown and all(v == 0 or v >= 5 for v in shown)
    page = rendered["prepost"][1]
    # the 2 who deteriorated are suppressed; 120 - 78 - 40 would reveal them, so a second cell goes too
    rc = re.search(r'id="ek-reliable-change">(.*?)</table>', page, re.S).group(1)
    assert rc.count("[c]") >= 2
    # the flow: the cohort (130) and those analysed (120) stay visible; the 3 lost before baseline read
    # "fewer than 5", and the stage that would reveal them is withheld instead of the cohort
    flow = _flow(page)
    assert ">130<" in flow and ">120<" in flow and ">3<" not in flow and "fewer than 5" in flow


def test_a_small_subgroup_publishes_no_statistic(rendered):
    page = rendered["prepost"][1]
    rows = {r["subgroup"]: r for r in _table_rows(page, "ek-results")}
    sub = rows["female=1"]
    assert sub["n"] == sub["estimate"] == sub["ci_low"] == sub["ci_high"] == sub["p_value"] == "[c]"
    assert "0.410" not in page and "0.050 to 0.770" not in _text(page)


def test_matched_flow_keeps_the_cohort_and_hides_the_unmatched_one_everywhere(rendered):
    page = rendered["matched"][1]
    flow = _flow(page)
    assert ">255<" in flow  # the cohort's size stays readable
    assert ">1<" not in flow and "fewer than 5" in flow
    text = _text(page)
    # 255 and 254 would give the 1 away: 254 (matched) is withheld wherever it appears
    assert "254" not in text


def test_threshold_is_configurable(tmp_path):
    got = publish_report(tmp_path, prepost_result(), context(threshold=10))
    assert scan_html(got["html"], Policy(threshold=10)) == []
    assert ">7<" not in _flow(got["html"])


def test_balance_formula_and_propensity_model_are_labelled_for_what_they_are(rendered):
    text = _text(rendered["matched"][1])
    assert "Standardised mean difference: SMD = (mean treated - mean comparison) / s_t." in text
    assert "Propensity model (logit): treated ~ age." in text


def test_person_identifiers_never_reach_a_report(rendered):
    for _result, page, qmd in rendered.values():
        assert PERSON_ID not in page and PERSON_ID not in qmd.read_text()
        assert not (qmd.parent / "private").exists()


def test_every_page_names_its_disclosure_policy(rendered, tmp_path):
    for _result, page, _qmd in rendered.values():
        assert "Disclosure control (policy 'suppress'" in _text(page)
    got = publish_report(tmp_path, prepost_result(), context(), policy=Policy(kind="round", threshold=8))
    text = _text(got["html"])
    assert "policy 'round'" in text and "rounded to the nearest 5" in text and "unrounded counts" in text
    shown = [int(v) for v in re.findall(r'data-ek-status="rounded"[^>]*>(\d+)<', got["html"])]
    assert shown and all(v % 5 == 0 for v in shown) and 130 in shown
    assert scan_html(got["html"], Policy(kind="round", threshold=8)) == []


# ------------------------------------------------------------------------------- wording


@pytest.mark.parametrize("name", ["prepost", "matched"])
def test_summary_agrees_with_the_significance_of_each_estimate(rendered, name):
    result, page, _qmd = rendered[name]
    summary = re.search(r'<h2 id="sec-summary">(.*?)<h2 ', page, re.S).group(1)
    text = _text(summary)
    rows = _table_rows(page, "ek-results")
    ctx = context()
    for e, row in zip(result.estimates, rows):
        if e.n < 5:
            continue
        v = w.verdict(e)
        assert row["significant"] == v.marker and row["outcome"] == v.outcome
        if e.subgroup != "all":
            continue
        lab = ctx["indicators"][e.indicator]["label"]
        words = {"improved": f"{lab} improved", "worsened": f"{lab} got worse",
                 "no clear change": f"{lab} showed no clear change"}[v.outcome]
        assert words in text, (words, text[:500])
        # a difference of proportions reads in percentage points ("11.4 percentage points lower")
        assert w.any_interval(e) in text and w.number_with_units(e) in text


@pytest.mark.parametrize("kwargs,significant,outcome", [
    ({"estimate": 0.2, "lo": 0.1, "hi": 0.3, "p": 0.001, "good": True}, True, "improved"),
    ({"estimate": 0.2, "lo": 0.1, "hi": 0.3, "p": 0.001, "good": False}, True, "worsened"),
    ({"estimate": 0.05, "lo": -0.1, "hi": 0.2, "p": 0.4, "good": True}, False, "no clear change"),
    ({"estimate": 1.3, "lo": 1.1, "hi": 1.5, "p": 0.01, "good": False, "estimand": "rate_ratio"}, True, "worsened"),
    ({"estimate": 0.9, "lo": 0.7, "hi": 1.1, "p": 0.3, "good": True, "estimand": "rate_ratio"}, False, "no clear change"),
    ({"estimate": 0.2, "lo": None, "hi": None, "p": 0.03, "good": True}, True, "improved"),
    ({"estimate": 0.2, "lo": None, "hi": None, "p": None, "good": True}, None, "unknown"),
])
def test_verdict_rules(kwargs, significant, outcome):
    e = est("x", kwargs["estimate"], kwargs["lo"], kwargs["hi"], kwargs["p"], kwargs["good"],
            estimand=kwargs.get("estimand", "mean_change"))
    v = w.verdict(e)
    assert (v.significant, v.outcome) == (significant, outcome)
    sentence = w.sentence(e, "X")
    assert {"improved": "X improved", "worsened": "X got worse", "no clear change": "X showed no clear change",
            "unknown": "cannot say"}[outcome] in sentence


def test_ci_level_is_taken_from_the_estimate():
    e = est("x", 0.2, 0.01, 0.39, 0.04, True, ci_level=0.9)
    assert "90% CI 0.010 to 0.390" in w.sentence(e, "X")


# ------------------------------------------------------------------------------- escaping


def test_markup_in_data_and_yaml_is_shown_as_text_not_run(rendered):
    for _result, page, _qmd in rendered.values():
        assert "<script>alert" not in page and "<img src=x" not in page
        for data in re.findall(r"Plotly\.newPlot\((.*?)\)\s*\};?", page, re.S):
            assert "<script" not in data and "<img" not in data
    page = rendered["prepost"][1]
    assert "&lt;script&gt;alert" in page  # the text is there, escaped
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "&lt;script&gt;" in title


# ------------------------------------------------------------------------------- renderer


DOC = """---
title: "Renderer test"
format:
  html:
    toc: true
---

## Part {#sec-part}

Raw <b>tag</b> in text.

::: {.callout-important}
## Mind this
Body.
:::

::: {.content-visible when-format="html"}
only in HTML
:::

::: {.content-visible when-format="typst"}
only in print
:::
"""


def test_the_pandoc_path_reads_the_quarto_features_evalkit_writes(tmp_path):
    qmd = tmp_path / "doc.qmd"
    qmd.write_text(DOC)
    page = render(qmd, tmp_path / "doc.html", RenderSettings("html", engine="pandoc")).read_text()
    assert "&lt;b&gt;tag&lt;/b&gt;" in page
    assert 'class="callout callout-important"' in page and "Mind this" in page
    assert "only in HTML" in page and "only in print" not in page
    pdf = render(qmd, tmp_path / "doc.pdf", RenderSettings("pdf", engine="pandoc"))
    from evalkit.publish.scan import pdf_text

    text = pdf_text(pdf)
    assert "only in print" in text and "only in HTML" not in text


def test_a_document_with_code_chunks_is_refused_on_the_pandoc_path(tmp_path):
    qmd = tmp_path / "bad.qmd"
    qmd.write_text("# T\n\ntext\n\n```{python}\n#| label: broken\n1 / 0\n```\n")
    with pytest.raises(RenderError, match=r"bad.qmd: holds executable code chunks"):
        render(qmd, tmp_path / "bad.html", RenderSettings("html", engine="pandoc"))


def test_quarto_is_used_when_on_path(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "quarto"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\n# stand-in quarto: writes the output file it is asked for, naming the format\n'
                    'while [ "$1" ]; do\n  if [ "$1" = "--to" ]; then shift; to="$1"; fi\n'
                    '  if [ "$1" = "--output-dir" ]; then shift; out="$1"; fi; shift\ndone\n'
                    'echo "<html>from quarto $to</html>" > "$out/doc.html"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("EVALKIT_NO_QUARTO", raising=False)
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("# hi\n")
    assert render(qmd, tmp_path / "o.html").read_text().strip() == "<html>from quarto html</html>"


def test_quarto_renders_the_same_qmd_evalkit_publishes(tmp_path, monkeypatch):
    """With Quarto on PATH the very .qmd of the publication is handed to it, and its output is
    scanned like the Pandoc path's (a stand-in that copies the Pandoc rendering)."""
    import sys

    fake = tmp_path / "bin" / "quarto"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} -c "import sys, pathlib; from evalkit.publish.render '
                    'import render, RenderSettings; a = sys.argv[1:]; q = pathlib.Path(a[1]); '
                    "out = pathlib.Path(a[a.index('--output-dir') + 1]); to = a[a.index('--to') + 1]; "
                    "render(q, out / (q.stem + ('.pdf' if to == 'typst' else '.html')), "
                    "RenderSettings('pdf' if to == 'typst' else 'html', engine='pandoc'))\" \"$@\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("EVALKIT_NO_QUARTO", raising=False)
    got = publish_report(tmp_path / "p", prepost_result(), context(), pdf=True)
    assert scan_html(got["html"]) == [] and got["pdf"].read_bytes()[:5] == b"%PDF-"


def test_logic_model_is_drawn_from_the_model_with_labels_escaped():
    from evalkit.plots.logic_model import logic_model_svg

    ctx = context()
    svg = logic_model_svg(ctx["logic_model"]["nodes"], ctx["logic_model"]["links"], {"conf"})
    assert "&lt;/script&gt;" in svg and "<script" not in svg and "<img" not in svg
    assert svg.count('class="ek-node evaluated"') == 1 and svg.count("<line") == 4


# ------------------------------------------------------------------------------- the command


def test_cli_report_renders_html_and_pdf_offline(example_project):
    root = example_project
    assert run_cli("run", "mvp-external-trial", "--project", str(root)).returncode == 0
    result = run_cli("report", "mvp-external-trial", "--pdf", "--project", str(root))
    assert result.returncode == 0, result.stderr
    folder = root / "reports" / "mvp-external-trial"
    page = (folder / "index.html").read_text()
    assert (folder / "index.pdf").read_bytes()[:5] == b"%PDF-"
    assert not re.search(r'<(?:script|img|iframe)[^>]+src="(?:https?:)?//', page)
    assert not re.search(r'<link[^>]+href="(?:https?:)?//', page)
    assert "plotly-graph-div" in page and 'id="ek-results"' in page
    index = (root / "reports" / "index.html").read_text()
    assert 'href="mvp-external-trial/index.html"' in index
    assert "open " in result.stdout
    receipts = json.loads((root / ".evalkit" / "published.json").read_text())
    assert "reports/mvp-external-trial/index.html" in receipts


def test_cli_report_without_results_says_what_to_do(example_project):
    result = run_cli("report", "reach-2023-matched", "--project", str(example_project), "--no-index")
    assert result.returncode == 1
    assert "evalkit run reach-2023-matched" in result.stderr


# ------------------------------------------------------------------------------- portfolio page


def _portfolio(name: str) -> dict:
    return {"schema": "evalkit.portfolio/v1", "notes": ["Levels belong to programmes."], "interventions": [
        {"intervention": "tp", "name": name, "level": "3", "not_effective": False, "studies": [{"evaluation": "t"}],
         "basis": "EIF rules only", "reach": {"participants": 3},
         "headline": {"label": "Confidence", "estimate": 0.21, "ci_low": 0.08, "ci_high": 0.34, "verdict": "positive"},
         "forest": [{"evaluation": "t", "label": "Confidence", "primary": True, "estimand": "reported",
                     "estimate": 0.21, "ci_low": 0.08, "ci_high": 0.34, "verdict": "positive"},
                    {"evaluation": "u", "label": "Rate", "primary": True, "estimand": "level_change",
                     "estimate": 0.9, "ci_low": 0.8, "ci_high": 1.01, "verdict": "null"}]}]}


def test_portfolio_page_compares_levels_and_links_every_report(tmp_path):
    got = publish_report(tmp_path, prepost_result(), context(), portfolio=_portfolio(f"Programme {EVIL}"))
    page = got["index"]
    rows = re.search(r'id="ek-portfolio">(.*?)</table>', page, re.S).group(1)
    assert "<td" in rows and "0.210 (0.080 to 0.340)" in rows
    assert 'data-field="reach">[c]<' in re.sub(r"<span[^>]*>|</span>", "", rows)  # reach of 3 is suppressed
    assert 'href="t-prepost/index.html"' in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert page.count('class="plotly-graph-div') == 2  # differences and ratios on their own axes
    assert scan_html(page) == []


def test_portfolio_reach_is_hidden_when_the_report_hides_it(tmp_path):
    """The portfolio's reach and the report's matched count are one cell of one publication."""
    pf = _portfolio("P")
    pf["interventions"][0]["reach"] = {"participants": 254}
    got = publish_report(tmp_path, matched_result(), context(), portfolio=pf)
    assert "254" not in _text(got["html"]) and "254" not in _text(got["index"])


def test_pdf_of_a_report_with_static_figures(tmp_path):
    got = publish_report(tmp_path, matched_result(), context(), pdf=True)
    data = got["pdf"].read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 30_000  # figures are in
    from evalkit.publish.scan import pdf_text

    text = pdf_text(got["pdf"])
    assert "Participant flow" in text and "254" not in text


def test_markup_in_the_project_yaml_is_shown_as_text(example_project):
    root = example_project
    lm = root / "logic_models" / "mvp.yml"
    text = lm.read_text()
    text = text.replace("name: Mentors in Violence Prevention", 'name: "MVP <script>alert(1)</script>"')
    text = text.replace("label: Confidence to intervene as a bystander (scale score)",
                        'label: "Confidence <img src=x onerror=alert(2)> [link](javascript:alert(3))"')
    lm.write_text(text)
    assert run_cli("run", "mvp-external-trial", "--project", str(root)).returncode == 0
    result = run_cli("report", "mvp-external-trial", "--project", str(root), "--no-index", "--allow-stale")
    assert result.returncode == 0, result.stderr
    page = (root / "reports" / "mvp-external-trial" / "index.html").read_text()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert 'href="javascript:' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page


def test_every_example_report_matches_its_results_and_is_safe(example_project):
    """The real designs end to end (one plan per design, in process): each plan gets a report whose
    results tables equal its results.json, with no small count shown, HTML and PDF."""
    from evalkit.project import load_project
    from evalkit.publish.scan import scan_pdf
    from evalkit.report.write import build_reports
    from evalkit.run import default_out, run_and_write

    root = example_project
    project = load_project(root, check_data=False)
    ids = ("mvp-external-trial", "mvp-2023-prepost", "reach-2024-feasibility", "reach-2023-matched", "strategy-its",
           "phoenix-2023-did", "vip-2023-matched", "reach-2023-prepost")
    ran = [project.evaluations[e] for e in ids]
    for evaluation in ran:
        run_and_write(evaluation, default_out(root, evaluation))
    build_reports(project, ran, reports_dir=root / "reports", pdf=True, log=lambda *_: None)
    for evaluation in ran:
        folder = root / "reports" / evaluation.id
        page = (folder / "index.html").read_text()
        assert scan_html(page) == [], evaluation.id
        assert scan_pdf(folder / "index.pdf", Policy(), page) == [], evaluation.id
        saved = json.loads((root / ".evalkit" / "results" / evaluation.id / "results.json").read_text())["estimates"]
        rows = _table_rows(page, "ek-results")
        if 'id="ek-results-more"' in page:
            rows += _table_rows(page, "ek-results-more")
        assert len(rows) == len(saved), evaluation.id
        for row in rows:
            e = saved[int(row["row"])]
            if row["estimate"] == "[c]":
                assert e["n"] < 5 or (e.get("n_treated") or 99) < 5 or (e.get("n_comparison") or 99) < 5
                continue
            for key in ("estimate", "ci_low", "ci_high"):
                if e[key] is None:
                    assert row[key] == "-"
                else:
                    assert abs(float(row[key]) - e[key]) <= 0.5 * 10 ** -w.DIGITS, (evaluation.id, key)
            assert row["n"] == "[c]" or int(row["n"]) == e["n"]
    assert not list((root / "reports").rglob("private"))
    assert not list((root / "reports").rglob("*.partial")) and not list((root / "reports").rglob("*.tmp"))


def test_subgroup_counts_that_add_up_to_everyone_are_protected(tmp_path):
    result = prepost_result()
    extra = est("confidence", 0.2, 0.1, 0.3, 0.001, True, subgroup="female=0", n=117)
    result = replace(result, estimates=result.estimates + (extra,))
    page = publish_report(tmp_path, result, context())["html"]
    rows = {r["row"]: r for r in _table_rows(page, "ek-results")}
    assert rows["3"]["n"] == "[c]"  # female=1: 3 people
    assert rows["4"]["n"] == "[c]"  # female=0: 117 = 120 - 3 would reveal it
    assert rows["4"]["estimate"] == "0.200"  # the 117's estimate is fine: only their count would tell
    assert rows["0"]["n"] == "120"  # everyone stays


def test_the_same_results_give_a_byte_identical_page(tmp_path):
    a = publish_report(tmp_path / "a", prepost_result(), context())
    b = publish_report(tmp_path / "b", prepost_result(), context())
    assert a["html"] == b["html"] and a["qmd"].read_text() == b["qmd"].read_text()
