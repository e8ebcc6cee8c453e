"""The dashboard's equity page against hand calculations from the store, under disclosure control."""

from __future__ import annotations

import json
import math

import pytest

from monitor_fixtures import example_dashboard  # noqa: F401  (a fixture)

Z = 1.959963984540054


@pytest.fixture(scope="module")
def demo(example_dashboard):
    """(root, written, the dashboard's data): the same built dashboard as test_monitor_dashboard's
    (monitor_fixtures, built once per session; this module's own copy)."""
    root, written = example_dashboard
    return root, written, json.loads(written["data"].read_text())


def _hand(root, entry, column):
    """Referrals and engaged by group in the window, and residents aged 10-17 (Reach's eligible ages)
    in the latest year, straight from the store's tables."""
    import duckdb

    con = duckdb.connect(str(root / ".evalkit" / "evalkit.duckdb"), read_only=True)
    try:
        refs = dict((g, (n, e)) for g, n, e in con.execute(
            f"select {column}, count(*), sum(case when engaged then 1 else 0 end) from src_programme_referrals "
            "where programme = 'reach' and date_trunc('month', referral_date) between ? and ? group by 1",
            [entry["from"], entry["to"]]).fetchall())
        pops = dict(con.execute(
            f"select {column}, sum(population) from src_populations where age_band = '10-17' and year = "
            "(select max(year) from src_populations) group by 1").fetchall())
    finally:
        con.close()
    return refs, pops


def _rows(data, key, breakdown):
    table = next(t for t in data["equity"][key]["tables"] if t["breakdown"] == breakdown)
    return table, {r["group"]: r for r in table["rows"]}


def test_referral_rri_against_residents_matches_a_hand_calculation(demo):
    root, _written, data = demo
    entry = data["equity"]["reach/referrals"]
    assert entry["ages"] == [10, 17]
    table, rows = _rows(data, "reach/referrals", "sex")
    refs, pops = _hand(root, entry, "sex")
    ref = table["reference"]
    assert ref == max(refs, key=lambda g: refs[g][0])
    b, nb = refs[ref][0], pops[ref]
    checked = 0
    for g, r in rows.items():
        a, na = refs[g][0], pops[g]
        assert r["residents"] == pytest.approx(na)
        assert r["referred"]["value"] == a
        assert r["rate"]["value"] == pytest.approx(1000 * a / na, rel=1e-12)
        if g == ref:
            assert r["rri_referred"]["shown"] == "reference"
            continue
        rri = (a / na) / (b / nb)
        se = math.sqrt(1 / a + 1 / b)  # referrals are events: the ratio of two Poisson rates
        assert r["rri_referred"]["value"] == pytest.approx(rri, rel=1e-12)
        assert r["rri_referred"]["shown"] == f"{rri:.2f} ({rri * math.exp(-Z * se):.2f}-{rri * math.exp(Z * se):.2f})"
        checked += 1
    assert checked >= 1


def test_engagement_rri_is_the_katz_log_method_on_the_stage_before(demo):
    root, _written, data = demo
    table, rows = _rows(data, "reach/referrals", "sex")
    refs, _pops = _hand(root, data["equity"]["reach/referrals"], "sex")
    ref = table["reference"]
    (nb, b) = refs[ref]
    for g, r in rows.items():
        if g == ref or r.get("rri_engaged") is None or r["rri_engaged"]["value"] is None:
            continue
        (na, a) = refs[g]
        rri = (a / na) / (b / nb)
        se = math.sqrt(1 / a - 1 / na + 1 / b - 1 / nb)
        assert r["rri_engaged"]["value"] == pytest.approx(rri, rel=1e-12)
        assert r["rri_engaged"]["shown"].endswith(f"({rri * math.exp(-Z * se):.2f}-{rri * math.exp(Z * se):.2f})")
        assert r["engaged_share"]["shown"] == f"{100 * a / na:.1f}%"


def test_no_small_count_or_small_difference_is_published(demo):
    _root, written, data = demo
    threshold = data["disclosure"]["threshold"]
    seen = 0
    for key, entry in data["equity"].items():
        for table in entry["tables"]:
            for r in table["rows"]:
                for name in ("referred", *table["stages"]):
                    v = r[name]
                    if v["value"] is not None:
                        assert not 1 <= v["value"] < threshold, (key, table["breakdown"], r["group"], name)
                        seen += 1
                # a stage and the one that feeds it never both shown when those lost are small
                for stage, before in table["before"].items():
                    if stage in r and before in r and r[stage]["value"] is not None and r[before]["value"] is not None:
                        assert not 1 <= r[before]["value"] - r[stage]["value"] < threshold, (key, r["group"], stage)
                for name in ("rate", "rri_referred", "rri_engaged", "reach", "rri_reach"):
                    v = r.get(name)
                    if isinstance(v, dict) and v["value"] is None and v["status"] == "withheld":
                        assert v["shown"] in ("[c]", "-")
    assert seen > 10
    html = written["html"].read_text()
    assert 'id="equity"' in html and "ek-equity-reach-referrals-sex" in html


def test_the_referral_counts_are_the_breakdown_cells_one_fact(demo):
    _root, _written, data = demo
    table, rows = _rows(data, "reach/referrals", "sex")
    groups = {g["group"]: g["count"] for g in data["breakdowns"]["reach/referrals"]["sex"]}
    for g, r in rows.items():
        assert r["referred"]["status"] == groups[g]["status"] and r["referred"]["value"] == groups[g]["value"]
