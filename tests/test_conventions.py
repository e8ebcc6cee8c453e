"""Every estimate names its SE convention and reference distribution; the docs table and the
report's methods section say them (issue 15 point 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.estimate import conventions

DOCS = Path(__file__).resolve().parents[1] / "docs" / "conventions.md"


def test_docs_table_is_the_registry():
    assert conventions.markdown_table() in DOCS.read_text()
    for c in conventions.CONVENTIONS:
        assert c.stata and c.r and c.alternatives


@pytest.fixture(scope="module")
def results(example_result):
    # evalkit.run of each plan, shared with other modules (tests/conftest.py)
    return {ev: example_result(ev) for ev in ("reach-2023-prepost", "mvp-2023-prepost", "reach-2023-matched",
                                              "strategy-its", "mvp-external-trial", "reach-2024-feasibility")}


def test_every_estimate_records_its_convention(results):
    for name, result in results.items():
        for e in result.estimates:
            d = e.details
            assert d.get("convention_id") in conventions.BY_ID, (name, e.estimand, e.method)
            assert d["se_convention"] and d["reference_distribution"], (name, e.estimand)


def test_clustered_pre_post_names_cr1_with_g_minus_1(results):
    mvp = results["mvp-2023-prepost"]
    est = next(e for e in mvp.estimates if e.estimand == "mean_change" and "CR1" in e.method)
    assert est.details["convention_id"] == "cr1_t"
    assert est.details["reference_distribution"] == f"t(G-1) = t({est.details['clusters'] - 1})"


def test_methods_section_says_the_convention_in_words(results, tmp_path):
    from test_publish_routes import _text
    from test_report_data import context, publish_report

    text = _text(publish_report(tmp_path, results["strategy-its"], context())["html"])
    assert "Standard errors and reference distributions" in text
    assert "Pearson scale" in text and "t(N-K)" in text
