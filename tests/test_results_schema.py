"""The results contract: evalkit.results/v2, its published JSON Schema and the typed sections."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from evalkit.errors import EvalkitError
from evalkit.result_sections import ABSENT, SECTION_TYPES, Balance
from evalkit.results import SCHEMA, ResultSet, results_json_schema
from evalkit.results import results_schema_text as schema_text
from evalkit.spec.designs import REGISTRY, ROBUSTNESS_SECTIONS
from evalkit.spec.raw import Design

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "results-v2.json"


def test_the_published_schema_is_generated_from_the_types():
    # regenerate with: .venv/bin/python -m evalkit.results > schemas/results-v2.json
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text()
    jsonschema.Draft202012Validator.check_schema(results_json_schema())


@pytest.fixture(scope="module")
def example_results(example_project_ro, example_result):
    """``evalkit.run`` of every example plan (conftest's example_result: computed once per worker and
    shared with the other modules that read the example's results; strategy-areas alone is ~30 CPU-s)."""
    from evalkit.project import load_project

    project = load_project(example_project_ro)
    return {ev.id: example_result(ev.id) for ev in project.evaluations.values()}


def test_every_example_results_file_validates(example_results, tmp_path):
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    assert len(example_results) == 9
    designs = set()
    for name, result in example_results.items():
        path = result.write(tmp_path / name / "results.json")
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["schema"] == SCHEMA == "evalkit.results/v2"
        errors = [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
        assert errors == []
        designs.add(result.design)
        for key in result.sections:  # every section the designs write has its typed record
            assert result.section(key) is not None
        entry = REGISTRY[Design(result.design)]  # and is declared by the design's registry entry
        assert set(result.sections) <= set(entry.sections) | set(ROBUSTNESS_SECTIONS if entry.robustness else ())
        assert ResultSet.read(path).to_json() == path.read_text(encoding="utf-8")
    assert designs == {"pre_post", "matched_comparison", "difference_in_differences", "interrupted_time_series",
                       "rct", "feasibility", "comparison_areas"}


def test_the_schema_refuses_what_the_types_do_not_declare(example_results):
    validator = jsonschema.Draft202012Validator(results_json_schema())
    data = example_results["reach-2023-matched"].to_dict()
    data["sections"]["balance"]["smd_rows"] = data["sections"]["balance"].pop("rows")  # a renamed key
    data["sections"]["balnce"] = {}
    messages = sorted(e.message for e in validator.iter_errors(data))
    assert any("'rows' is a required property" in m for m in messages)
    assert any("'balnce' was unexpected" in m for m in messages)


def test_a_reader_asking_for_an_undeclared_field_fails_at_test_time(example_results):
    result = example_results["reach-2023-matched"]
    balance = result.section("balance")
    assert isinstance(balance, Balance) and balance.rows and isinstance(balance.wwc_pass, bool)
    with pytest.raises(AttributeError):
        balance.max_smd  # noqa: B018 - the renamed field a reader might still ask for
    with pytest.raises(EvalkitError, match="results section 'balnce' is not part of evalkit.results/v2; "
                                           "expected one of attrition, balance"):
        result.section("balnce")
    assert example_results["reach-2023-prepost"].section("balance") is None  # not written by pre/post
    with pytest.raises(EvalkitError, match=r"section 'balance' has field\(s\) smd that evalkit.results/v2 does not"):
        SECTION_TYPES["balance"].from_mapping({"rows": [], "smd": 1})


def test_a_reader_asking_for_an_undeclared_entry_field_fails_at_test_time(example_results):
    # the per-indicator sections type each indicator's entry too (issue 17): every example entry reads
    from evalkit.result_sections import EventStudyEntry, PerIndicator, ReliableChangeEntry

    kinds = set()
    for result in example_results.values():
        for key in result.sections:
            section = result.section(key)
            if isinstance(section, PerIndicator) and section.ENTRY is not None:
                assert [ind for ind, _ in section.typed_entries()] == list(section)
                kinds.add(key)
    assert {"reliable_change", "event_study", "group_time", "counterfactual", "subgroups"} <= kinds
    rc = example_results["reach-2023-prepost"].section("reliable_change").entry("sdq_total")
    assert isinstance(rc, ReliableChangeEntry) and rc.improved + rc.no_reliable_change + rc.deteriorated == rc.n
    with pytest.raises(AttributeError):
        rc.n_improved  # noqa: B018 - a field the entry does not declare
    es = example_results["phoenix-2023-did"].section("event_study")
    entry = es.entry(next(iter(es)))
    assert isinstance(entry, EventStudyEntry) and "p_value" in entry.pre_trend_test
    with pytest.raises(AttributeError):
        entry.pre_trend  # noqa: B018
    with pytest.raises(EvalkitError, match=r"section 'event_study' has field\(s\) pretrend that evalkit.results/v2"):
        EventStudyEntry.from_mapping({"rows": [], "pretrend": {}})
    validator = jsonschema.Draft202012Validator(results_json_schema())
    data = example_results["reach-2023-prepost"].to_dict()
    data["sections"]["reliable_change"]["sdq_total"]["n_improved"] = 1  # a key no reader declares
    assert any("'n_improved' was unexpected" in e.message for e in validator.iter_errors(data))


def test_a_field_not_written_stays_out_of_the_file():
    b = Balance.from_mapping({"rows": [], "formula": "t ~ age"})
    assert b.wwc_pass is ABSENT and not b.wwc_pass
    assert b.to_mapping() == {"rows": [], "formula": "t ~ age"}


def test_v1_files_are_still_read(example_results, tmp_path):
    result = example_results["reach-2023-prepost"]
    data = result.to_dict()
    data["schema"] = "evalkit.results/v1"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    old = ResultSet.read(path)
    assert old.estimates == result.estimates and old.sections == result.sections
    assert old.section("attrition").definition == result.section("attrition").definition
    data["schema"] = "evalkit.results/v0"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(EvalkitError, match="results file has schema 'evalkit.results/v0'; expected one of "
                                           "'evalkit.results/v1', 'evalkit.results/v2'"):
        ResultSet.read(path)
