"""The publishing layer: the ledger's decisions, the audit, the scan, and every leak route of issue 12.

Each route is tried twice: through the writers (the page they publish is safe) and against the
scan with a page built to leak (the scan catches it), so neither can fail silently.
"""

from __future__ import annotations

import json
import random
import re

import pytest

from evalkit.publish.audit import Facts, exposed
from evalkit.publish.ledger import Ledger
from evalkit.publish.policy import DisclosureError, Policy, PolicyKind
from evalkit.publish.scan import scan_export, scan_html
from evalkit.publish.values import Rate, Share, Stat


def _solved(ledger):
    ledger.solve()
    assert ledger.check() == []
    return ledger


# ------------------------------------------------------------------------------- the ledger


def test_categories_and_their_total():
    L = Ledger(Policy())
    total = L.count(100, role="headline")
    parts = [L.count(v, role="detail") for v in (3, 40, 57)]
    L.sum(total, parts)
    _solved(L)
    assert [p.status for p in parts] == ["small", "withheld", "shown"] and total.status == "shown"


def test_a_flow_keeps_the_cohort_and_gives_up_an_inner_stage():
    L = Ledger(Policy())
    cohort, inner, analysed = (L.count(v, role=r) for v, r in ((130, "headline"), (127, "detail"), (120, "headline")))
    lost_a, lost_b = L.count(3, role="detail"), L.count(7, role="detail")
    L.sum(cohort, [inner, lost_a])
    L.sum(inner, [analysed, lost_b])
    _solved(L)
    assert (cohort.status, analysed.status, lost_a.status) == ("shown", "shown", "small")
    assert inner.hidden and lost_b.hidden


@pytest.mark.parametrize("kind", ["suppress", "round"])
def test_year_ending_totals_never_give_a_small_month_away(kind):
    random.seed(7)
    L = Ledger(Policy(kind=kind, threshold=5 if kind == "suppress" else 8))
    months = [L.count(random.choice([0, 1, 2, 3, 4, 6, 9, 12, 20]), label=f"m{i}") for i in range(48)]
    rolling = []
    for t in range(11, 48):
        r = L.count(sum(m.value for m in months[t - 11:t + 1]), role="headline", label=f"R{t}")
        L.sum(r, months[t - 11:t + 1])
        rolling.append(r)
    _solved(L)
    # the direct check of the differencing route: R_t - R_t-1 = m_t - m_t-12
    for t in range(12, 48):
        if months[t].small:
            r_now, r_before = rolling[t - 11], rolling[t - 12]
            assert not (not r_now.hidden and not r_before.hidden and not months[t - 12].hidden
                        and L.policy.kind is PolicyKind.suppress)
    if kind == "round":  # rounding protects most cells; the audit withholds the few it does not
        assert sum(c.status == "rounded" for c in months + rolling) > sum(c.status == "withheld" for c in months + rolling)


def test_a_percentage_with_its_denominator_is_hidden_with_its_count():
    L = Ledger(Policy())
    den, num = L.count(254), L.count(2)
    share = Share(num, den)
    big = Share(L.count(40), den)
    _solved(L)
    assert share.hidden and share.text() == "[c]" and not big.hidden
    # all but a small count gives it away too
    L2 = Ledger(Policy())
    share2 = Share(L2.count(251), L2.count(254))
    _solved(L2)
    assert share2.hidden


def test_statistics_of_a_small_group_are_hidden_but_not_of_a_withheld_one():
    L = Ledger(Policy())
    total, small, rest = L.count(120), L.count(3), L.count(117)
    L.sum(total, [small, rest])
    mean_small, mean_rest = Stat(0.41, [small]), Stat(0.2, [rest])
    _solved(L)
    assert rest.hidden and mean_small.hidden and not mean_rest.hidden


def test_a_rate_reveals_its_count_so_the_audit_treats_it_as_exact_under_rounding():
    L = Ledger(Policy(kind="round", threshold=8))
    total = L.count(30, role="headline")
    a, b = L.count(3), L.count(27)
    L.sum(total, [a, b])
    Rate(b, 27 / 1000 * 100000)  # a rate from the unrounded count: 27 exactly
    Rate(total, 30 / 1000 * 100000)
    _solved(L)
    assert a.status == "small" and (b.hidden or total.hidden)


def test_the_audit_finds_exact_recovery_by_bounds_not_only_by_sums():
    # a + b = 5 where a is small (1-4) and b is a zero shown... and here: a + z = 1 with z >= 0, a >= 1
    f = Facts(sums=[(0, (1, 2))])
    f.bound(0, 255, 255)
    f.bound(1, 254, 254)  # published
    f.bound(2, 1, 4)  # small, hidden
    assert 2 in exposed(f, [2])
    f = Facts(sums=[(0, (1, 2)), (1, (3, 4))])
    for c, lo, hi in ((0, 255, 255), (1, 0, float("inf")), (2, 0, 0), (3, 254, 254), (4, 1, 4)):
        f.bound(c, lo, hi)
    assert 4 in exposed(f, [4])  # 255 = pool + 0, pool = 254 + lost: lost = 1 though pool is hidden


def test_a_policy_setting_out_of_range_is_refused():
    from evalkit.publish.policy import DisclosureSettingError

    with pytest.raises(DisclosureSettingError, match="expected one of suppress, round"):
        Policy(kind="hide")
    with pytest.raises(DisclosureSettingError, match="expected a whole number of at least 1"):
        Policy(threshold=0)


# ------------------------------------------------------------------------------- the scan


def _cell(cid, text, status="shown", tag="span"):
    return f'<{tag} class="ek-count" data-ek-cell="{cid}" data-ek-status="{status}">{text}</{tag}>'


def _page(body: str, sums=(), shares=(), policy=None) -> str:
    m = {"schema": "evalkit.disclosure/v1", "policy": (policy or Policy()).to_json(),
         "sums": [[t, list(p)] for t, p in sums], "latent": [], "shares": [list(s) for s in shares]}
    return f'<html><body>{body}<script type="application/json" id="ek-disclosure">{json.dumps(m)}</script></body></html>'


def test_scan_catches_differencing_of_year_ending_totals():
    # months m0..m12 (cells 0-12), year-ending totals R11 (13) and R12 (14); m12 hidden, m0 shown
    sums = [(13, tuple(range(0, 12))), (14, tuple(range(1, 13)))]
    months = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    body = "".join(_cell(i, v) for i, v in enumerate(months)) + _cell(12, "[c]", "small")
    body += _cell(13, sum(months)) + _cell(14, sum(months[1:]) + 3)
    found = scan_html(_page(body, sums))
    assert any("worked out exactly" in f for f in found)
    # hiding the month a year before does not help (the first total gives it); hiding the second total does
    body = "".join(_cell(i, v) for i, v in enumerate(months) if i) + _cell(0, "[c]", "withheld")
    body += _cell(12, "[c]", "small") + _cell(13, sum(months)) + _cell(14, sum(months[1:]) + 3)
    assert [f for f in scan_html(_page(body, sums)) if "worked out" in f]
    body = "".join(_cell(i, v) for i, v in enumerate(months)) + _cell(12, "[c]", "small")
    body += _cell(13, sum(months)) + _cell(14, "[c]", "withheld")
    assert not [f for f in scan_html(_page(body, sums)) if "worked out" in f]


def test_scan_catches_a_category_equal_to_the_total_minus_the_others():
    body = _cell(0, 100) + _cell(1, "[c]", "small") + _cell(2, 40) + _cell(3, 57)
    assert any("worked out exactly" in f for f in scan_html(_page(body, [(0, (1, 2, 3))])))


def test_scan_catches_flow_stage_differences():
    body = _cell(0, 255) + _cell(1, 254) + '<tspan class="ek-count" data-ek-cell="2" data-ek-status="small">fewer than 5</tspan>'
    assert any("worked out exactly" in f for f in scan_html(_page(body, [(0, (1, 2))])))


def test_scan_catches_percentage_times_denominator():
    body = _cell(0, 254) + _cell(1, "[c]", "small") + '<span class="ek-share" data-ek-of="1 0" data-ek-status="shown">0.8%</span>'
    found = scan_html(_page(body, shares=[(1, 0)]))
    assert any("share is shown for cell 1" in f for f in found)
    assert any("worked out exactly" in f for f in found)


def test_scan_catches_small_counts_in_prose_figures_and_tiles():
    assert scan_html(_page("<p>2 of 255 treated units have no match</p>"))
    assert scan_html(_page("<p>only 2 complete pairs</p>"))
    assert scan_html(_page("<p>Of these, n = 3 left.</p>"))
    assert not scan_html(_page("<p>95% CI 0.2 to 3.1; p = 0.002; data up to 2024-03 Young people</p>"))
    assert scan_html(_page(_cell(0, 3)))  # a small count marked as shown
    plot = ('<script>Plotly.newPlot("p", [{"type": "bar", "x": ["a", "b"], "y": [40, 3], "marker": {"color": '
            '["#455a64", "#c62828"]}, "meta": {"ek": [{"cells": [0], "status": "shown", "kind": "count"}, '
            '{"cells": [1], "status": "small", "kind": "count"}]}}], {})</script>')
    found = scan_html(_page(plot))
    assert any("drawn at 3" in f for f in found) and any("RAG colour" in f for f in found)
    old = ('<script>Plotly.newPlot("q", [{"meta": "ek-counts", "orientation": "h", "x": [40, 2], "y": ["a", "b"], '
           '"text": ["40", "2"], "type": "bar"}], {})</script>')
    assert len(scan_html(_page(old))) == 2  # figures marked the older way are still checked
    tile = ('<div class="ek-tiles"><div class="ek-tile ek-rag-red" data-ek-rag="red" style="background:#c62828">'
            '<div class="val">' + _cell(0, "[c]", "small") + '</div></div></div>')
    assert any("RAG band" in f for f in scan_html(_page(tile)))


def test_scan_catches_one_count_shown_two_ways():
    found = scan_html(_page(_cell(0, 12) + _cell(0, "[c]", "withheld")))
    assert any("hidden in one place and shown" in f for f in found)


def test_scan_of_exports(tmp_path):
    from evalkit.publish.export import encode

    csv = tmp_path / "x.csv"
    csv.write_bytes(encode(["area", "n"], [["=HYPERLINK(\"http://x\")", 12], ["B", 3]], ".csv"))
    found = scan_export(csv, Policy(), ["n"])
    assert any("formula" in f for f in found) and any("count 3" in f for f in found)
    j = tmp_path / "x.json"
    j.write_text(json.dumps({"a": {"value": 4, "status": "small", "kind": "count"}}))
    assert scan_export(j, Policy())


# ------------------------------------------------------------------------------- exports (13.7)


def test_exports_neutralise_formulas_and_keep_numbers(tmp_path):
    import pandas as pd

    from evalkit.publish.export import read_rows, write_table

    frame = pd.DataFrame({"area": ["=HYPERLINK(\"http://evil\",\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "ok"],
                          "change": [-3, -1.5, 0, 2, -7, 1, -2], "when": pd.to_datetime(["2024-01-01"] * 7)})
    for suffix in (".csv", ".xlsx"):
        path = write_table(frame, tmp_path / f"out{suffix}")
        header, rows = read_rows(path)
        texts = [r[0] for r in rows]
        assert all(t.startswith("'") for t in texts[:6]) and texts[6] == "ok"
        numbers = [r[1] for r in rows]
        assert [float(n) for n in numbers] == [-3, -1.5, 0, 2, -7, 1, -2]
        if suffix == ".xlsx":
            assert all(isinstance(n, (int, float)) for n in numbers)  # numbers stay numbers
        else:
            assert (tmp_path / "out.csv").read_text().splitlines()[1].endswith(",-3.0,2024-01-01T00:00:00")
        assert scan_export(path, Policy()) == []


def test_xlsx_exports_and_extracts_carry_no_save_time(tmp_path):
    """openpyxl stamps the save time into docProps/core.xml and every zip entry, so the same rows
    gave other bytes a second later; the exports and `monitor demo-data`'s XLSX extracts are now a
    function of their cells only."""
    import io
    import re
    import zipfile

    import pandas as pd

    from evalkit.monitor.synth import _to_file
    from evalkit.publish.export import encode, read_rows

    frame = pd.DataFrame({"area": ["Blaby", "Melton"], "n": [12, 30]})
    _to_file(frame, tmp_path / "extract.xlsx")
    for data in (encode(["area", "n"], [["Blaby", 12], ["Melton", 30]], ".xlsx"), (tmp_path / "extract.xlsx").read_bytes()):
        z = zipfile.ZipFile(io.BytesIO(data))
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
        assert re.findall(r'W3CDTF">([^<]*)<', core) == ["1980-01-01T00:00:00Z"] * 2, core
    assert read_rows(tmp_path / "extract.xlsx")[1] == [["Blaby", 12], ["Melton", 30]]


def test_monitor_indicators_export_is_formula_safe(tmp_path, monkeypatch):
    import pandas as pd

    from evalkit.monitor import commands
    from evalkit.publish.export import read_rows

    frame = pd.DataFrame({"indicator": ["=cmd|' /C calc'!A0"], "value": [-4.0]})
    monkeypatch.setattr("evalkit.monitor.indicators.compute_indicators", lambda *a, **k: frame)
    out = tmp_path / "x.csv"
    from evalkit.publish.export import write_table

    write_table(frame, out)
    header, rows = read_rows(out)
    assert rows[0][0].startswith("'=") and float(rows[0][1]) == -4.0
    assert commands  # the command writes through write_table (see its source)
    src = (commands.__file__)
    assert "write_table(values" in open(src).read()
