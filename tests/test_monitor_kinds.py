"""Source kinds are declarations (evalkit/monitor/kinds/*.yml, and a project's monitoring/kinds/*.yml):
an unknown kind, a source that lacks what its kind requires, a second declaration of a kind: one
line each, with file and line; a declared column missing from an extract: one line, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_monitoring_project

from evalkit.errors import SpecError
from evalkit.monitor.config import KINDS_DIR, SourceKind, load_monitoring


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_monitoring_project(tmp_path / "p")


def _problems(root: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_monitoring(root)
    return [str(p) for p in info.value.problems]


def test_every_built_in_kind_is_a_declaration_and_the_example_uses_them(project):
    declared = {p.stem for p in KINDS_DIR.glob("*.yml")}
    assert {k.value for k in SourceKind} <= declared
    assert {"education", "social_care", "youth_justice", "anti_social_behaviour", "survey", "comparator"} <= declared
    mon = load_monitoring(project)
    kinds = {s.kind for s in mon.sources.values()}
    assert {"education", "social_care", "youth_justice", "anti_social_behaviour", "survey", "comparator", "health",
            "ambulance"} <= kinds


def test_unknown_source_kind_is_one_line_with_file_and_line(project):
    path = project / "monitoring" / "sources" / "asb_incidents.yml"
    path.write_text(path.read_text().replace("kind: anti_social_behaviour", "kind: antisocial"))
    [line] = _problems(project)
    assert line.startswith("monitoring/sources/asb_incidents.yml:4: error: kind: unknown source kind "
                           "(found 'antisocial'; expected one of ambulance, anti_social_behaviour, comparator")
    out = subprocess.run([sys.executable, "-m", "evalkit", "monitor", "status", "--project", str(project)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "asb_incidents.yml:4: error: kind: unknown source kind" in out.stderr


def test_a_kind_s_required_columns_period_and_identifiers_are_checked(project):
    src = project / "monitoring" / "sources"
    text = (src / "national_comparators.yml").read_text()
    (src / "national_comparators.yml").write_text(
        text.replace("  value: {type: number}\n", "  value: {type: string}\n").replace("period: year", "period: month")
        + "pseudonymise: [area]\n")
    found = _problems(project)
    assert any("national_comparators.yml" in p and "columns.value: the comparator kind declares 'value' as a required "
               "number (found type string" in p for p in found), found
    assert any("period: a comparator source covers month or year" not in p for p in found)
    assert any("pseudonymise: a comparator source holds aggregates, not people (found area" in p for p in found), found


def test_a_project_declares_its_own_kind(project):
    kinds = project / "monitoring" / "kinds"
    kinds.mkdir()
    (kinds / "housing.yml").write_text("kind: housing\nlabel: Housing\nperiods: [month]\n"
                                       "columns:\n  tenancy_id: {type: string}\n")
    (project / "monitoring" / "sources" / "evictions.yml").write_text(
        "id: evictions\nlabel: Evictions\nkind: housing\ndate_column: evicted_on\ncolumns:\n  evicted_on: {type: date}\n")
    [line] = _problems(project)
    assert line.startswith("monitoring/sources/evictions.yml:5: error: columns: a housing source needs a 'tenancy_id' "
                           "column (found none; expected tenancy_id: {type: string})")
    (project / "monitoring" / "sources" / "evictions.yml").write_text(
        "id: evictions\nlabel: Evictions\nkind: housing\ndate_column: evicted_on\ncolumns:\n  evicted_on: {type: date}\n"
        "  tenancy_id: {type: string}\n")
    assert load_monitoring(project).sources["evictions"].kind == "housing"
    (kinds / "police2.yml").write_text("kind: police\nlabel: Again\nperiods: [month]\n")
    [line] = _problems(project)
    assert line.startswith("monitoring/kinds/police2.yml:1: error: kind: kind declared twice (found 'police'")


def test_a_declared_column_missing_from_an_extract_is_one_line(project, tmp_path, monkeypatch):
    from evalkit.monitor.keys import KEY_ENV

    monkeypatch.setenv(KEY_ENV, "k" * 40)
    extract = tmp_path / "asb.csv"
    extract.write_text("incident_id,reported_at,area\nA1,2024-01-03 10:00:00,Leicester\n")
    out = subprocess.run([sys.executable, "-m", "evalkit", "monitor", "ingest", "asb_incidents", str(extract),
                          "--project", str(project)], capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    lines = [x for x in out.stderr.splitlines() if x.startswith("evalkit")]  # progress lines are indented
    assert len(lines) == 1 and "asb.csv: missing column(s) category; expected the columns declared in " \
        "asb_incidents.yml" in lines[0], out.stderr
