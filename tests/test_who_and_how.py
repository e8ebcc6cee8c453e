"""The example project's "Who benefits" and "How it was delivered": data, truth, sections, disclosure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evalkit.synth.writer import DEFAULT_SEED


# ------------------------------------------------------------------------------ example data


def test_demographics_leave_every_generated_column_byte_identical():
    from evalkit.synth import datasets as ds
    from evalkit.synth._util import rng_for
    from evalkit.synth.writer import frame_to_csv_bytes

    name = "reach_with_comparison.csv"
    plain, entry = ds.reach_with_comparison(rng_for(DEFAULT_SEED, name))
    with_demo, entry2 = ds.DEMOGRAPHICS[name](plain, entry, DEFAULT_SEED)
    assert list(with_demo.columns[:plain.shape[1]]) == list(plain.columns)
    assert frame_to_csv_bytes(with_demo[list(plain.columns)]) == frame_to_csv_bytes(plain)
    assert {"sex", "ethnicity", "deprivation_quintile", "care_experienced", "age_band"} <= set(with_demo.columns)
    truth = entry2.true_effects[-1]
    assert truth["estimand"] == "subgroup_difference" and truth["subgroup"] == "care_experienced=1"
    # the truth is the treated's mean gain in the level less the others': recomputed here by hand
    gain = plain["attend_12m"] - ds.clipped_normal_mean(0.75 * plain["attend_pre"] + 21.0 - plain["susp_pre"], 5.0,
                                                        0, 100)
    t = with_demo["reach"] == 1
    ce = with_demo["care_experienced"] == 1
    assert truth["value"] == pytest.approx(gain[t & ce].mean() - gain[t & ~ce].mean(), rel=1e-12)
    # the same draws in any row order (keyed by pupil id)
    shuffled = plain.sample(frac=1.0, random_state=3)
    again, _ = ds.DEMOGRAPHICS[name](shuffled, entry, DEFAULT_SEED)
    assert again.sort_index().equals(with_demo.sort_index())


def test_the_routine_session_records_leave_the_cohort_unchanged():
    from evalkit.synth import datasets as ds
    from evalkit.synth._util import rng_for

    cohort, _ = ds.reach_cohort(rng_for(DEFAULT_SEED, "reach_cohort.csv"))
    sessions, _ = ds.reach_sessions(rng_for(DEFAULT_SEED, "reach_cohort.csv"))
    assert set(sessions["pupil_id"]) <= set(cohort["pupil_id"])
    again, _ = ds.reach_cohort(rng_for(DEFAULT_SEED, "reach_cohort.csv"))
    assert cohort.equals(again)


def test_synth_check_recovers_the_planted_subgroup_difference(example_project_ro, example_result):
    from evalkit.synth.recovery import _subgroup_difference
    from evalkit.synth.writer import true_effects

    truths = [t for t in true_effects(example_project_ro / "evaluations" / "data")
              if t["estimand"] == "subgroup_difference"]
    assert len(truths) == 1
    row = _subgroup_difference(example_result("reach-2023-matched"), truths[0])
    assert row["covered"] is True, row
    assert row["ci_low"] > 0  # the difference is found, not only covered


# ------------------------------------------------------------------------------ report sections


def _page(example_project_ro, example_result, evaluation_id):
    from evalkit.project import load_project
    from evalkit.publish.policy import project_policy
    from evalkit.publish.publication import Publication
    from evalkit.report.sections import build_report
    from evalkit.report.write import build_context

    project = load_project(example_project_ro)
    ev = project.evaluation(evaluation_id)
    pub = Publication(project_policy(example_project_ro), project_root=example_project_ro,
                      out_root=example_project_ro / "reports", setting="test")
    page = build_report(pub, f"{ev.id}/index", example_result(evaluation_id), build_context(ev, portfolio=None))
    pub.solve()
    return page


def _table(page, table_id):
    from evalkit.publish.document import Table

    return next(b for b in page.blocks if isinstance(b, Table) and b.table_id == table_id)


def test_who_benefits_table_protects_the_withheld_total_and_shows_the_planted_difference(example_project_ro,
                                                                                        example_result):
    from evalkit.publish.values import Count

    page = _page(example_project_ro, example_result, "reach-2023-matched")
    table = _table(page, "ek-subgroups-attendance_pct")
    by_column: dict[str, list] = {}
    for row in table.rows:
        by_column.setdefault(row[0].content, []).append(row)
    assert set(by_column) == {"sex", "ethnic group", "deprivation quintile (IMD)", "care experience"}
    total = example_result("reach-2023-matched")
    everyone = next(e for e in total.estimates if e.indicator == "attendance_pct" and e.estimand == "att")
    for column, rows in by_column.items():
        counts = [r[2].content for r in rows]
        assert all(isinstance(c, Count) for c in counts)
        assert sum(c.value for c in counts) == everyone.n_treated
        # the everyone row's n took part is withheld (one treated pupil had no match): so is a level
        assert any(c.hidden for c in counts), column
    care = {r[1].content: r for r in by_column["care experience"]}
    diff = care["1"][8].content
    assert not diff.hidden and diff.value > 2
    text = " ".join(str(getattr(b, "phrase", "")) for b in page.blocks)
    words = [b.phrase.template for b in page.blocks if hasattr(b, "phrase") and hasattr(b.phrase, "template")]
    assert any(t.startswith("The effect differs by care experience") for t in words), text[:200]
    assert any("not pre-registered" in t for t in words)
    assert not any("254 clusters" in t for t in words)


def test_how_it_was_delivered_matches_the_session_records(example_project_ro, example_result):
    result = example_result("reach-2023-prepost")
    d = result.sections["delivery"]
    sessions = pd.read_csv(example_project_ro / "evaluations" / "data" / "reach_sessions.csv")
    cohort = pd.read_csv(example_project_ro / "evaluations" / "data" / "reach_cohort.csv")
    attended = sessions[sessions["attended"] == 1].groupby("pupil_id").size().reindex(cohort["pupil_id"]).fillna(0)
    assert d["dosage"]["participants"] == len(cohort)
    assert d["dosage"]["median"] == pytest.approx(float(np.percentile(attended, 50)))
    assert d["dosage"]["full_dose"]["numerator"] == int((attended >= 24).sum())
    assert d["dosage"]["minimum_dose"]["numerator"] == int((attended >= 16).sum())
    checked = sessions[(sessions["attended"] == 1) & sessions["fidelity"].notna()]
    assert d["fidelity"]["adherence"]["numerator"] == int(checked["fidelity"].sum())
    assert d["fidelity"]["adherence"]["denominator"] == len(checked)
    dr = d["dose_response"]["sdq_total"]
    assert dr["causal"] is False and "not a causal effect" in dr["label"]
    page = _page(example_project_ro, example_result, "reach-2023-prepost")
    headings = [getattr(b, "text", "") for b in page.blocks]
    assert "How it was delivered" in headings and "Dose and response: an association, not an effect" in headings
    # the dosage distribution adds up to the participants, and small rows are not shown
    table = _table(page, "ek-delivery-engagement")
    for row in table.rows:
        for col in row[1:]:
            c = col.content
            if hasattr(c, "value") and hasattr(c, "small") and c.small:
                assert c.hidden


def test_delivery_dose_response_of_an_unknown_indicator_is_refused_at_validate(tmp_path):
    from test_spec_validation import PREPOST, make_project, only

    text = PREPOST + ("delivery:\n  sessions: {path: data/s.csv, id: pupil_id, date: d}\n  planned_sessions: 10\n"
                      "  dose_response: [nope]\n")
    message = only(make_project(tmp_path, plans={"p.yml": text}))
    assert "delivery.dose_response[0]: not an indicator of this plan's timepoints (found 'nope'" in message
