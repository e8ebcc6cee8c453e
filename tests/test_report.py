"""Reports: numbers equal results.json, no small counts, words agree with the numbers, markup is
shown as text, nothing private is read; the renderer's Quarto features and the CLI."""

from __future__ import annotations

import html
import json
import os
import re
import stat
from pathlib import Path

import pytest

from conftest import run_cli
from test_report_data import EVIL, PERSON_ID, context, est, matched_result, prepost_result, write_report_folder

from evalkit.report import wording as w
from evalkit.report.disclosure import DisclosureError, Policy, check_rendered, guard_path, scan_html, suppress
from evalkit.report.render import RenderError, render_html


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The two built reports rendered once: {name: (ResultSet, html text, qmd path)}."""
    root = tmp_path_factory.mktemp("reports")
    out = {}
    for name, result in (("prepost", prepost_result()), ("matched", matched_result())):
        qmd = write_report_folder(root / name, result, context())
        page = check_rendered(render_html(qmd, qmd.with_suffix(".html")))
        out[name] = (result, page.read_text(encoding="utf-8"), qmd)
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


# ------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("name", ["prepost", "matched"])
def test_every_number_in_the_results_table_equals_results_json(rendered, name):
    result, page, qmd = rendered[name]
    saved = json.loads((qmd.parent / "results.json").read_text())["estimates"]
    rows = _table_rows(page, "ek-results")
    more = _table_rows(page, "ek-results-more") if 'id="ek-results-more"' in page else []
    assert len(rows) + len(more) == len(saved)
    for row in rows + more:
        e = saved[int(row["row"])]
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
            else:
                assert e[key] < 5 or key != "n" or True  # hidden: small, or secondary suppression


def test_the_qmd_holds_no_numbers_it_reads_them(rendered):
    _result, _page, qmd = rendered["prepost"]
    text = qmd.read_text()
    for number in ("0.2384", "0.238", "0.1991", "120", "0.61"):
        assert number not in text
    assert "S.load()" in text and "results.json" not in text.split("---", 2)[1]


# ------------------------------------------------------------------------------- disclosure


def test_no_count_under_the_threshold_appears(rendered):
    for _result, page, _qmd in rendered.values():
        assert scan_html(page) == []
        shown = [int(v) for v in re.findall(r'class="ek-count"[^>]*>(\d+)<', page)]
        assert shown and all(v == 0 or v >= 5 for v in shown)
    page = rendered["prepost"][1]
    # the subgroup with n = 3 and the 2 who deteriorated are suppressed; 78 + 40 + [c] = 120 would reveal
    # the 2, so a second cell of the reliable change row is suppressed too
    rc = re.search(r'id="ek-reliable-change">(.*?)</table>', page, re.S).group(1)
    assert rc.count("[c]") >= 2
    # the flow: 127 -> 120 lost 7 (shown), 130 -> 127 lost 3 (suppressed, and the 130 with it)
    flow = re.search(r'<svg[^>]*class="ek-flow".*?</svg>', page, re.S).group(0)
    assert ">3<" not in flow and "[c]" in flow and ">120<" in flow


def test_matched_flow_hides_the_unmatched_one_everywhere(rendered):
    page = rendered["matched"][1]
    flow = re.search(r'<svg[^>]*class="ek-flow".*?</svg>', page, re.S).group(0)
    assert ">1<" not in flow and ">254<" in flow
    # 255 (before matching) would reveal the 1 unmatched from 254: hidden in the flow and the sizes table
    assert ">255<" not in page


def test_secondary_suppression_protects_every_relation():
    cells = {"all": 20, "a": 3, "b": 9, "c": 8}
    hidden = suppress(cells, [("all", ["a", "b", "c"])])
    assert hidden == {"a", "c"}  # the smallest other part goes too; the total stays
    chain = {"s0": 100, "s1": 97, "lost0": 3, "s2": 90, "lost1": 7}
    hidden = suppress(chain, [("s0", ["s1", "lost0"]), ("s1", ["s2", "lost1"])], prefer="total")
    assert {"lost0", "s0"} <= hidden and "s2" in chain and "s2" not in hidden
    # no relation is left with exactly one hidden cell
    for total, parts in [("s0", ["s1", "lost0"]), ("s1", ["s2", "lost1"])]:
        assert sum(k in hidden for k in [total, *parts]) != 1
    assert suppress({"x": 0, "y": 4}, policy=Policy(threshold=3)) == set()


def test_the_check_fails_the_render_when_a_small_cell_slips_through(tmp_path):
    page = tmp_path / "p.html"
    page.write_text('<p>ok</p><table><tr><td><span class="ek-count">3</span></td></tr></table>')
    with pytest.raises(DisclosureError, match="count 3"):
        check_rendered(page)
    assert check_rendered(page, Policy(threshold=3)) == page
    assert scan_html("<p>Of these, n = 2 left.</p>")
    assert scan_html("<p>4 pupils left.</p>")
    assert not scan_html("<p>95% CI 0.2 to 3.1; p = 0.002</p>")
    plot = ('<script>Plotly.newPlot("ek-plot-1", [{"meta": "ek-counts", "orientation": "h", "x": [40, 2], '
            '"y": ["a", "b"], "text": ["40", "2"], "type": "bar"}], {})</script>')
    assert len(scan_html(plot)) == 2


def test_threshold_is_configurable(tmp_path):
    result = prepost_result()
    qmd = write_report_folder(tmp_path / "r", result, context(threshold=10))
    page = render_html(qmd, tmp_path / "r.html").read_text()
    assert scan_html(page, Policy(threshold=10)) == []
    # 7 lost before follow-up is now suppressed too
    flow = re.search(r'<svg[^>]*class="ek-flow".*?</svg>', page, re.S).group(0)
    assert ">7<" not in flow


def test_balance_formula_and_propensity_model_are_labelled_for_what_they_are(rendered):
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", rendered["matched"][1])))
    assert "Standardised mean difference: SMD = (mean treated - mean comparison) / s_t." in text
    assert "Propensity model (logit): treated ~ age." in text
    assert "Propensity model: SMD" not in text


def test_person_identifiers_never_reach_a_report(rendered):
    for _result, page, qmd in rendered.values():
        assert PERSON_ID not in page
        assert "private" not in qmd.read_text()
    with pytest.raises(DisclosureError, match="private"):
        guard_path(Path("reports/x/private/analysed_data.csv"))


# ------------------------------------------------------------------------------- wording


@pytest.mark.parametrize("name", ["prepost", "matched"])
def test_summary_agrees_with_the_significance_of_each_estimate(rendered, name):
    result, page, _qmd = rendered[name]
    summary = re.search(r'<h2 id="sec-summary">(.*?)<h2 ', page, re.S).group(1)
    text = html.unescape(re.sub(r"<[^>]+>", "", summary))
    text = re.sub(r"\s+", " ", text)
    rows = _table_rows(page, "ek-results")
    ctx = context()
    for e, row in zip([e for e in result.estimates], rows):
        v = w.verdict(e)
        assert row["significant"] == v.marker and row["outcome"] == v.outcome
        if e.subgroup != "all":
            continue
        lab = ctx["indicators"][e.indicator]["label"]
        words = {"improved": f"{lab} improved", "worsened": f"{lab} got worse",
                 "no clear change": f"{lab} showed no clear change"}[v.outcome]
        assert words in text, (words, text[:500])
        interval = f"{w.pct(e.ci_level)} CI {w.fmt(e.ci_low)} to {w.fmt(e.ci_high)}"
        assert interval in text


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
        # inside the plotly JSON the label is escaped as well (no markup plotly could draw)
        for data in re.findall(r"Plotly\.newPlot\((.*?)\)\s*\};?", page, re.S):
            assert "<script" not in data and "<img" not in data
    page = rendered["prepost"][1]
    assert "&lt;script&gt;alert" in page  # the text is there, escaped
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "&lt;script&gt;" in title


# ------------------------------------------------------------------------------- renderer


QMD = """---
title: "Renderer test"
format:
  html:
    toc: true
execute:
  echo: false
jupyter: python3
crossref:
  fig-title: Fig
---

## Part {#sec-part}

See @fig-one and @sec-part. Inline: `{python} 6 * 7`. Raw <b>tag</b> in text.

::: {.callout-important}
## Mind this
Body.
:::

```{python}
#| output: asis
print("**made by code**")
```

```{python}
#| label: fig-one
#| fig-cap: "A scatter"
import plotly.graph_objects as go
go.Figure(go.Scatter(x=[1, 2], y=[2, 1]))
```

```{python}
#| echo: true
x = 1 + 1
print(x)
```

```{mermaid}
sequenceDiagram
  A->>B: hi
```
"""


def test_quarto_features_degrade_cleanly_in_the_pandoc_path(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_NO_QUARTO", "1")
    qmd = tmp_path / "doc.qmd"
    qmd.write_text(QMD)
    page = render_html(qmd, tmp_path / "out" / "doc.html").read_text()
    assert '<a href="#fig-one">Figure 1</a>' in page and '<a href="#sec-part">Part</a>' in page
    assert "Inline: 42." in page
    assert "&lt;b&gt;tag&lt;/b&gt;" in page
    assert 'class="callout callout-important"' in page and "Mind this" in page
    assert "<strong>made by code</strong>" in page
    assert "Figure 1: A scatter" in page and "plotly-graph-div" in page
    assert page.count("plotly.js v") <= 2 and "cdn.plot.ly/plotly" not in page
    assert "x = 1 + 1" in re.sub(r"<[^>]+>", "", page)  # echo: true shows the code
    assert "Diagram shown as text" in page and "sequenceDiagram" in page
    assert not re.search(r'<script[^>]+src="http', page) and not re.search(r'<link[^>]+href="http', page)


def test_a_failing_chunk_names_the_chunk(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_NO_QUARTO", "1")
    qmd = tmp_path / "bad.qmd"
    qmd.write_text("# T\n\ntext\n\n```{python}\n#| label: broken\n1 / 0\n```\n")
    with pytest.raises(RenderError, match=r"bad.qmd, chunk at line 5 \(broken\).*ZeroDivisionError"):
        render_html(qmd, tmp_path / "bad.html")


def test_quarto_is_used_when_on_path(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "quarto"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\n# fake quarto: writes the output file it is asked for\nwhile [ "$1" ]; do\n'
                    '  if [ "$1" = "--output-dir" ]; then shift; out="$1"; fi; shift\ndone\n'
                    'echo "<html>from quarto $EVALKIT_REPORT_TO</html>" > "$out/doc.html"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("EVALKIT_NO_QUARTO", raising=False)
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("# hi\n")
    assert render_html(qmd, tmp_path / "o.html").read_text().strip() == "<html>from quarto html</html>"


def test_mermaid_logic_model_escapes_labels_and_highlights_outcomes():
    from evalkit.report.mermaid import mermaid_to_svg
    from evalkit.report.sections import mermaid_logic_model

    src = mermaid_logic_model(context(), ["confidence"])
    assert "<script" not in src and "class n1 evaluated" in src
    svg = mermaid_to_svg(src)
    assert "&lt;/script&gt;" in svg and "<script" not in svg and "<img" not in svg
    assert svg.count('class="ek-node evaluated"') == 1


# ------------------------------------------------------------------------------- the command


def test_cli_report_renders_html_and_pdf_offline(example_project, tmp_path):
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
    from evalkit.report.write import index_qmd

    (tmp_path / "index.json").write_text(json.dumps({"reports": [
        {"id": "t", "title": f"Report {EVIL}", "intervention": "tp", "design": "pre_post", "href": "t/index.html"},
        {"id": "x", "title": "bad link", "intervention": "tp", "design": "pre_post", "href": "javascript:alert(1)"}],
        "intervention_names": {"tp": "Test programme"}, "disclosure": {"threshold": 5}}))
    (tmp_path / "portfolio.json").write_text(json.dumps(_portfolio(f"Programme {EVIL}")))
    qmd = tmp_path / "index.qmd"
    qmd.write_text(index_qmd())
    page = check_rendered(render_html(qmd, tmp_path / "index.html")).read_text()
    rows = re.search(r'id="ek-portfolio">(.*?)</table>', page, re.S).group(1)
    assert "<td" in rows and ">3<" in rows and "0.210 (0.080 to 0.340)" in rows
    assert ">[c]<" in rows  # reach of 3 participants is suppressed
    assert 'href="t/index.html"' in page and 'href="javascript:' not in page and "bad link" not in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert page.count('class="plotly-graph-div"') == 2  # differences and ratios on their own axes


def test_portfolio_page_without_a_portfolio_says_what_to_run(tmp_path):
    from evalkit.report.write import index_qmd

    qmd = tmp_path / "index.qmd"
    qmd.write_text(index_qmd())
    page = render_html(qmd, tmp_path / "index.html").read_text()
    assert "evalkit compare" in page and "No reports yet" in page


def test_pdf_of_a_report_with_static_figures(rendered, tmp_path):
    from evalkit.report.render import render_pdf

    _result, _page, qmd = rendered["matched"]
    pdf = render_pdf(qmd, tmp_path / "matched.pdf")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 30_000  # figures are in


def test_markup_in_the_project_yaml_is_shown_as_text(example_project):
    root = example_project
    lm = root / "logic_models" / "mvp.yml"
    text = lm.read_text()
    text = text.replace("name: Mentors in Violence Prevention", 'name: "MVP <script>alert(1)</script>"')
    text = text.replace("label: Confidence to intervene as a bystander (scale score)",
                        'label: "Confidence <img src=x onerror=alert(2)> [link](javascript:alert(3))"')
    lm.write_text(text)
    assert run_cli("run", "mvp-external-trial", "--project", str(root)).returncode == 0
    result = run_cli("report", "mvp-external-trial", "--project", str(root), "--no-index")
    assert result.returncode == 0, result.stderr
    page = (root / "reports" / "mvp-external-trial" / "index.html").read_text()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert 'href="javascript:' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(2)&gt;" in page


def test_every_example_report_matches_its_results_and_is_safe(example_project):
    """The real designs end to end (one plan per design, in process): each plan that runs gets a
    report whose results tables equal its results.json, with no small count shown."""
    from evalkit.errors import EvalkitError
    from evalkit.project import load_project
    from evalkit.report.write import build_reports
    from evalkit.run import default_out, run_and_write

    root = example_project
    project = load_project(root, check_data=False)
    one_per_design = ("mvp-external-trial", "mvp-2023-prepost", "reach-2024-feasibility", "reach-2023-matched",
                      "strategy-its")
    ran = []
    for evaluation in (project.evaluations[e] for e in one_per_design if e in project.evaluations):
        try:
            run_and_write(evaluation, default_out(root, evaluation))
            ran.append(evaluation)
        except EvalkitError:  # a design still being written: its report is tested when it runs
            continue
    assert "mvp-external-trial" in [e.id for e in ran]
    build_reports(project, ran, reports_dir=root / "reports", log=lambda *_: None)
    for evaluation in ran:
        folder = root / "reports" / evaluation.id
        page = (folder / "index.html").read_text()
        assert scan_html(page) == []
        saved = json.loads((folder / "results.json").read_text())["estimates"]
        rows = _table_rows(page, "ek-results")
        if 'id="ek-results-more"' in page:
            rows += _table_rows(page, "ek-results-more")
        assert len(rows) == len(saved), evaluation.id
        for row in rows:
            e = saved[int(row["row"])]
            for key in ("estimate", "ci_low", "ci_high"):
                if e[key] is None:
                    assert row[key] == "-"
                else:
                    assert abs(float(row[key]) - e[key]) <= 0.5 * 10 ** -w.DIGITS, (evaluation.id, key)
            assert row["n"] == "[c]" or int(row["n"]) == e["n"]


def test_a_page_failing_the_disclosure_check_is_deleted(tmp_path, monkeypatch):
    from evalkit.report import write

    page = tmp_path / "index.html"
    page.write_text('<span class="ek-count">2</span>')
    with pytest.raises(DisclosureError):
        write._checked(page, Policy())
    assert not page.exists()


def test_subgroup_counts_that_add_up_to_everyone_are_protected():
    from dataclasses import replace

    from evalkit.report import sections as S

    result = prepost_result()
    extra = est("confidence", 0.2, 0.1, 0.3, 0.001, True, subgroup="female=0", n=117)
    result = replace(result, estimates=result.estimates + (extra,))
    page = S.results_table(result, context())
    rows = {r["row"]: r for r in _table_rows(page, "ek-results")}
    assert rows["3"]["n"] == "[c]"  # female=1: 3 people
    assert rows["4"]["n"] == "[c]"  # female=0: 117 = 120 - 3 would reveal it
    assert rows["0"]["n"] == "120"  # everyone stays


def test_the_same_results_give_a_byte_identical_page(rendered, tmp_path):
    _result, page, qmd = rendered["prepost"]
    again = render_html(qmd, tmp_path / "again.html").read_text(encoding="utf-8")
    assert again == page
