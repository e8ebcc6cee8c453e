"""Issue 12: the strategic needs assessment and the dashboard are one publication as far as a reader
is concerned (both are public, and the demo's cover the same months). A count one of them hides must
not be given away by the cells of the other: they are solved against one ledger, kept under
``.evalkit/disclosure/`` (owner-only), in whichever order the two commands are run.

The projects here are built to leak: the needs profile's year before has a category of 3 offences;
the dashboard (no local-definition success measure beside it) shows the year before by category with
no total, so it need not hide more; the needs assessment prints the year before's total, so on its own
it withholds the smallest other category. Published separately, the dashboard's copy of that category
and the assessment's total give the 3 away.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import sys
import stat
from types import SimpleNamespace

import pandas as pd
import pytest


WINDOW = ("2023-01", "2023-12")
BEFORE = {"a": 50, "b": 20, "c": 3, "d": 30}  # the year before, 2022-01 to 2022-12
NOW = {"a": 60, "b": 37, "c": 8, "d": 40}


def _profile():
    summary = {"from": WINDOW[0], "to": WINDOW[1], "months": 12, "serious_violence": sum(NOW.values()),
               "previous_from": "2022-01", "domestic": 40, "knife": 25, "location_known": 120, "public_place": 60,
               "public_night_time_economy": 20, "peak_hour": 22, "peak_day": "Saturday", "mapping_version": "v1"}
    cats = list(NOW)
    return {"summary": summary,
            "by_category": pd.DataFrame({"sv_category": cats, "n": [NOW[c] for c in cats]}),
            "year_on_year": pd.DataFrame({"sv_category": cats, "n": [NOW[c] for c in cats],
                                          "n_previous": [BEFORE[c] for c in cats]}),
            "by_day": pd.DataFrame({"day_name": ["Mon", "Tue"], "n": [70, 75]})}


def _dashboard(root):
    """The dashboard's publication with its needs profile (as ``dashboard_publication`` makes it)."""
    from evalkit.monitor import charts
    from evalkit.monitor import dashboard as D
    from evalkit.publish.policy import project_policy

    policy = project_policy(root)

    pub = D.monitoring_publication(policy, root, root / "reports" / "monitoring", "dashboard")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True)
    model = {"as_of": "2023-12", "period_kind": "month", "mapping_version": "v1", "breakdowns": {}, "indicators": [],
             "success": {}, "quality": {"sources": [], "unmapped": []}}
    model["profile"] = D._profile_model(page, _profile())
    charts.build_page(page, model, policy)
    pub.export(D.DATA_JSON, lambda: D.export_json(model, policy))
    out = pub.publish(log=lambda *_: None)
    assert not out.failed, out.failed
    return json.loads(out.exports[0].read_text())


def _sna(root, monkeypatch):
    """``evalkit monitor sna --from 2023-01 --to 2023-12`` on the same profile."""
    from evalkit.monitor import profile as P
    from evalkit.monitor import sna

    first, stop = pd.Timestamp("2023-01-01"), pd.Timestamp("2024-01-01")
    monkeypatch.setattr(sna, "window", lambda *a: (first, stop))
    monthly = pd.DataFrame({"month": pd.date_range(first, periods=12, freq="MS"), "n": [12] * 11 + [13]})
    monkeypatch.setattr(sna, "_frames", lambda *a: {
        "by_category_before": pd.DataFrame({"sv_category": list(BEFORE), "n": list(BEFORE.values())}),
        "before_total": sum(BEFORE.values()), "monthly": monthly, "population": None})
    prof = _profile()
    monkeypatch.setattr(P, "profile_between", lambda *a, **k: {k2: v for k2, v in prof.items() if k2 != "year_on_year"})
    monkeypatch.setattr(P, "health_profile", lambda *a, **k: {})
    monitoring = SimpleNamespace(mapping=SimpleNamespace(version="v1", definition="violence"),
                                 sources={"police": SimpleNamespace(id="police")},
                                 settings=SimpleNamespace(police_source="police"))
    project = SimpleNamespace(root=root)
    sna.write_sna(None, monitoring, project, *WINDOW, root / "reports" / "monitoring")
    return (root / "reports" / "monitoring" / f"sna-{WINDOW[0]}-to-{WINDOW[1]}.html").read_text()


def _sna_before(page: str) -> dict:
    """The needs assessment's 'the same months a year before' column, as published: {category: n or None}."""
    table = re.search(r'<table[^>]*id="ek-sna-categories".*?</table>', page, re.S) or \
        re.search(r'id="ek-sna-categories".*?</table>', page, re.S)
    out = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(0), re.S):
        cells = [htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if len(cells) >= 3:
            out[cells[0]] = int(cells[2]) if cells[2].isdigit() else None
    return out


def _dashboard_before(data: dict) -> dict:
    return {r["category"]: r["previous"]["value"] for r in data["profile"]["year_on_year"]}


def _recover(sna_before: dict, dash_before: dict) -> dict:
    """What a reader works out: the year before's total (the assessment) less every category either shows."""
    total = sna_before["all serious violence"]
    known = {c: (sna_before.get(c) if sna_before.get(c) is not None else dash_before.get(c)) for c in BEFORE}
    missing = [c for c, v in known.items() if v is None]
    if total is None or len(missing) != 1:
        return {}
    return {missing[0]: total - sum(v for v in known.values() if v is not None)}


@pytest.mark.parametrize("order", ["dashboard first", "assessment first"])
@pytest.mark.parametrize("threshold", [5, 10])
def test_the_assessment_and_the_dashboard_together_do_not_give_a_hidden_category_away(tmp_path, monkeypatch, order,
                                                                                     threshold):
    root = tmp_path / "project"
    (root / "reports").mkdir(parents=True)
    (root / "evalkit.yml").write_text(f"disclosure:\n  policy: suppress\n  threshold: {threshold}\n")
    if order == "dashboard first":
        data = _dashboard(root)
        page = _sna(root, monkeypatch)
    else:
        page = _sna(root, monkeypatch)
        data = _dashboard(root)
    sna_before, dash_before = _sna_before(page), _dashboard_before(data)
    assert sna_before["c"] is None and dash_before["c"] is None  # each page on its own hides the 3
    assert _recover(sna_before, dash_before) == {}, (sna_before, dash_before)
    if order == "assessment first":  # the dashboard withholds the category the assessment withheld
        assert sna_before["all serious violence"] == sum(BEFORE.values())
        assert [c for c, v in dash_before.items() if v is None] == [c for c, v in sna_before.items() if v is None
                                                                   and c in BEFORE]
    else:  # the dashboard showed a, b and d already: the assessment can only withhold the year's total
        assert sna_before["all serious violence"] is None and dash_before["b"] == 20
    # the record both were solved against is the analyst's, not the public's
    folder = root / ".evalkit" / "disclosure"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    records = sorted(p.name for p in folder.rglob("*.json"))
    assert len(records) == 2 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.rglob("*.json"))
    # the second publication again, unchanged: the same bytes (its own old record is not a constraint)
    if order == "dashboard first":
        assert _sna(root, monkeypatch) == page
    else:
        assert _dashboard(root) == data


# ------------------------------------------------------------------ a change on the year before, rounded


def _sna_table(page: str) -> list[list[str]]:
    table = re.search(r'id="ek-sna-categories".*?</table>', page, re.S).group(0)
    return [[htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]


def _pinned(shown_now: str, shown_before: str, change: str, round_to: int = 5) -> tuple[int, int] | None:
    """The one (now, before) pair the rounded counts and the printed change allow, if only one."""
    if not (shown_now.isdigit() and shown_before.isdigit()) or not change.endswith("%"):
        return None
    decimals = len(change.rstrip("%").split(".")[1]) if "." in change else 0
    half = round_to // 2
    fits = [(a, b) for a in range(int(shown_now) - half, int(shown_now) + half + 1)
            for b in range(int(shown_before) - half, int(shown_before) + half + 1)
            if b and f"{(a / b - 1) * 100:+.{decimals}f}%" == change]
    return fits[0] if len(fits) == 1 else None


def test_under_rounding_the_change_on_the_year_before_does_not_unround_the_counts(tmp_path, monkeypatch):
    """Rounded counts with their relative change printed to 0.1% pin both counts (62 shown as 60 and 50
    with +24.0%: only 62/50); with every category and the total pinned, the hidden one is the total less
    the others. The audit knows each change as a ratio of its two counts, and withholds what it must."""
    now, before = {"a": 62, "b": 37, "c": 5, "d": 41}, {"a": 50, "b": 20, "c": 9, "d": 30}
    monkeypatch.setattr(sys.modules[__name__], "NOW", now)
    monkeypatch.setattr(sys.modules[__name__], "BEFORE", before)
    root = tmp_path / "project"
    (root / "reports").mkdir(parents=True)
    (root / "evalkit.yml").write_text("disclosure:\n  policy: round\n")
    rows = {r[0]: r for r in _sna_table(_sna(root, monkeypatch)) if len(r) == 4}
    assert rows["c"][1] == "[c]"
    pinned = {k: _pinned(r[1], r[2], r[3]) for k, r in rows.items()}
    total = pinned["all serious violence"]
    others = [pinned[k] for k in ("a", "b", "d")]
    recovered = total[0] - sum(p[0] for p in others) if total and all(others) else None
    assert recovered != now["c"], rows


def test_a_record_of_older_data_and_a_broken_record(tmp_path):
    """A count the other publication showed from older data (a revised extract) is another cell, not an
    error; a record that cannot be read is one line naming it."""
    from evalkit.errors import EvalkitError
    from evalkit.publish.ledger import Ledger
    from evalkit.publish.policy import Policy
    from evalkit.publish.publication import Publication

    old = Ledger(Policy())
    t = old.count(20, key=("total", "2023-01", "2023-12"), role="headline")
    a, b = old.count(17, key=("part", "a")), old.count(3, key=("part", "b"))
    old.sum(t, [a, b])
    old.solve()
    assert b.cell.status.value == "small" and a.cell.status.value == "withheld"
    new = Ledger(Policy())
    new.adopt([old.record("old")])
    t2 = new.count(21, key=("total", "2023-01", "2023-12"), role="headline")  # revised: 21 now
    a2 = new.count(17, key=("part", "a"))
    assert t2.cell.id != t.cell.id and not t2.cell.foreign and a2.cell.fixed.value == "withheld"
    new.solve()
    assert a2.hidden and new.check() == []  # still hidden: the old page relies on it
    folder = tmp_path / ".evalkit" / "disclosure" / "monitoring"
    folder.mkdir(parents=True)
    (folder / "reports+monitoring+dashboard.json").write_text("{not json")
    with pytest.raises(EvalkitError, match=r"reports\+monitoring\+dashboard\.json: cannot be read as a publication "
                                           r"record"):
        Publication(Policy(), project_root=tmp_path, out_root=tmp_path / "reports", setting="x", family="monitoring",
                    name="reports/monitoring/sna-2023-01-to-2023-12")
