"""Issue 12, the rounding policy: a share drawn in a figure or written to the export carries only its
printed precision, and the audit knows it as printed.

Under ``round`` a count is shown to the nearest 5; a share of it to full precision beside that rounded
count gives the unrounded counts back (37/112 = 0.330357...: of the denominators 108 to 112 shown as
110, only 112 has a whole numerator for that fraction)."""

from __future__ import annotations

import json
import re
from fractions import Fraction

from evalkit.publish.policy import Policy
from evalkit.publish.values import Share


def _pairs(value: float, dens, digits: int | None = None) -> set[tuple[int, int]]:
    """Every (numerator, denominator) with the denominator in ``dens`` whose fraction, printed to the
    published decimals, is ``value``: what a reader can narrow the counts to."""
    decimals = digits if digits is not None else len(repr(value).split(".")[1])
    out = set()
    for d in dens:
        for n in range(d + 1):
            if round(n / d, decimals) == round(value, decimals):
                out.add((n, d))
    return out


def _publish(tmp_path, policy):
    from evalkit.monitor import charts
    from evalkit.monitor.dashboard import _typed
    from evalkit.publish.document import Col
    from evalkit.publish.publication import Publication

    pub = Publication(policy, project_root=tmp_path, out_root=tmp_path / "out", setting="--out")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True)
    num = page.count(37, label="completed", latent=True)
    den = page.count(112, role="headline", label="referred")
    share = Share(num, den, digits=0, plotted=True)
    page.table(["", "referred"], [[Col("all"), Col(den, "n", numeric=True)]], table_id="ek-referred")
    page.figure(charts.BarSpec("Completed", ["all"], [share]))
    pub.export("data.json", lambda: (json.dumps({"completed": _typed(share)}) + "\n").encode())
    out = pub.publish(log=lambda *_: None)
    assert not out.failed, out.failed
    html = out.pages["dashboard"]["html"].read_text()
    bars = [t for m in re.finditer(r'Plotly\.newPlot\(\s*"[^"]*",\s*(\[.*?\]),\s*\{', html, re.S)
            for t in json.loads(m.group(1))]
    return html, bars[0]["y"][0], json.loads(out.exports[0].read_text())["completed"]["value"], pub


def test_under_rounding_a_drawn_share_has_its_printed_precision(tmp_path):
    pol = Policy(kind="round", threshold=8)
    html, drawn, exported, pub = _publish(tmp_path, pol)
    assert '>110<' in html and '>112<' not in html  # the denominator is shown rounded
    dens = range(108, 113)
    # as printed (33%): the counts are not given back
    assert drawn == exported == 0.33
    assert len({d for _n, d in _pairs(drawn, dens)}) > 1
    # the audit knows the share to its printed digits, not to 8
    assert all(r.digits == 0 for r in pub.ledger.ratios)
    # what a full-precision share would have told (the route closed here): the denominator exactly
    assert {d for _n, d in _pairs(float(Fraction(37, 112)), dens, 12)} == {112}


def test_under_suppression_a_drawn_share_keeps_the_precision_the_audit_assumes(tmp_path):
    html, drawn, exported, pub = _publish(tmp_path, Policy())
    assert drawn == exported == round(37 / 112, 10) and all(r.digits == 8 for r in pub.ledger.ratios)
    assert '>112<' in html


def test_under_rounding_a_tiles_rag_band_does_not_unround_its_count(tmp_path):
    """8 shown as 10 (it may be 8 to 12), red against a target of 9: only 8 is below 9. The band is not
    shown where the counts the rounded one can be fall in different bands; where they all agree it is."""
    import pandas as pd

    from evalkit.monitor import charts
    from evalkit.monitor import dashboard as D
    from evalkit.publish.publication import Publication

    pol = Policy(kind="round", threshold=8)
    pub = Publication(pol, project_root=tmp_path, out_root=tmp_path / "out", setting="--out")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True)
    vals = [30.0, 40.0, 8.0]
    rows = pd.DataFrame({"period": ["2023-10-01", "2023-11-01", "2023-12-01"], "measure": "count", "numerator": vals,
                         "denominator": float("nan"), "rate": float("nan"), "rag": ["green", "green", "red"],
                         "value": vals, "target": 9.0, "amber": 8.5})
    series = D._indicator_model(page, rows, "vip/referrals")
    assert series["rag"] == ["green", "green", None]  # 30 shown as 30 (28 to 32): green whatever it is
    item = {"intervention": "vip", "intervention_name": "VIP", "indicator": "referrals", "label": "Referrals",
            "measure": "count", "direction": "increase", "rate_per": None, "target": 9.0, "amber": 8.5,
            "target_per": None, "amber_default": False, "series": series, "success_measure": False}
    model = {"as_of": "2023-12", "period_kind": "month", "mapping_version": "v1", "breakdowns": {}, "success": {},
             "indicators": [item], "quality": {"sources": [], "unmapped": []}, "profile": {}}
    charts.build_page(page, model, pol)
    out = pub.publish(log=lambda *_: None)
    assert not out.failed, out.failed
    html = out.pages["dashboard"]["html"].read_text()
    tile = re.search(r'<div class="ek-tile[^"]*" data-ek-rag="([^"]+)"[^>]*>(?:(?!</div></div>).)*Referrals', html, re.S)
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<script\b.*?</script>", " ", html, flags=re.S))
    assert tile and tile.group(1) == "none" and "RED" not in text and "NO STATUS" in text and ">10<" in html
    # under suppression the count is exact anyway: its band is shown
    assert D._rag_told(Policy(), 8, "red", 9.0, 8.5) == "red"


def test_a_change_on_the_year_before_is_exported_as_printed(tmp_path):
    """The export held 62/50 - 1 to 16 digits while the page (and the audit) had +24%: beside rounded
    counts the extra digits give both counts back."""
    from evalkit.publish.ledger import Ledger
    from evalkit.publish.values import Change

    ledger = Ledger(Policy(kind="round", threshold=8))
    now, before = ledger.count(62), ledger.count(49)
    change = Change(now, before, digits=0)
    ledger.solve()
    assert change.text() == "+27%" and change.export() == 0.27
    assert [(r.num, r.den, r.digits, r.change) for r in ledger.ratios] == [(now.cell.id, before.cell.id, 0, True)]


def test_under_rounding_the_equity_index_is_exported_as_printed():
    """The RRI of two shares of rounded counts was exported to 16 digits; under round it is as printed."""
    from types import SimpleNamespace

    from evalkit.monitor.equity_panel import _rri_value
    from evalkit.publish.values import Fixed

    r = SimpleNamespace(rri=37 / 112 / (50 / 101), rri_low=0.5, rri_high=0.9, is_reference=False)
    assert _rri_value(r, [Fixed(1.0), Fixed(1.0)], rounding=True).export() == 0.67
    assert _rri_value(r, [Fixed(1.0), Fixed(1.0)]).export() == r.rri  # suppress: its counts are exact anyway


def test_under_rounding_counts_given_exactly_by_their_rates_do_not_make_the_scan_refuse_the_page(tmp_path):
    """The example dashboard could not be published under round: referrals by area and by sex (each with
    its rate, so each count is exact to a reader) were read by the scan as exactly their rounded values,
    25 + 25 by area against 30 + 25 by sex for one total of 54; facts that contradict each other made the
    audit call every hidden cell linked to them recoverable, and the page was refused."""
    from evalkit.publish.document import Col
    from evalkit.publish.publication import Publication
    from evalkit.publish.scan import scan_html
    from evalkit.publish.values import Rate

    pol = Policy(kind="round", threshold=5)
    pub = Publication(pol, project_root=tmp_path, out_root=tmp_path / "out", setting="--out")
    page = pub.page("dashboard", "Outcomes monitoring", dashboard=True)
    total = page.count(54, latent=True, label="referrals")
    rows, groups = [], {}
    for name, parts in (("area", {"A": 27, "B": 27}), ("sex", {"M": 28, "F": 26})):
        cells = {g: page.count(n, role="normal", label=f"{name} {g}") for g, n in parts.items()}
        groups.update(cells)
        page.ledger.sum(total, list(cells.values()))
        rows += [[Col(f"{name} {g}"), Col(c, "n", numeric=True), Col(Rate(c, c.value / 1000 * 1e5), "rate", numeric=True)]
                 for g, c in cells.items()]
    # those of area A who engaged, and the 3 who did not (a small count the engaged would give away)
    engaged = page.count(24, role="detail", label="A engaged")
    page.ledger.sum(groups["A"], [engaged, page.count(3, role="detail", label="A not engaged", latent=True)])
    rows.append([Col("A engaged"), Col(engaged, "n", numeric=True), Col(Rate(engaged, 2.4), "rate", numeric=True)])
    page.table(["group", "n", "rate"], rows, table_id="ek-groups")
    out = pub.publish(log=lambda *_: None)
    assert not out.failed, out.failed
    html = out.pages["dashboard"]["html"].read_text()
    assert engaged.hidden and scan_html(html, pol) == []


def test_under_rounding_costs_per_participant_do_not_give_back_a_small_number_who_did_not_complete(tmp_path):
    """The full cost is printed to the pound, so £cost / cost per participant gives the starters and the
    completers back exactly, whatever their rounded cells say; 150 started and 147 completed would then
    print the 3 who did not complete. The costs per participant are rates of their counts, so the audit
    knows those counts exactly and protects the small complement (with Derived values, as before, this
    failed)."""
    from types import SimpleNamespace

    from evalkit.publish.publication import Publication
    from evalkit.report.value_for_money import _per, participant_cells

    def costs(tmp, started, completed):
        pub = Publication(Policy(kind="round", threshold=8), project_root=tmp, out_root=tmp / "out", setting="--out")
        row = SimpleNamespace(period="all", started=started, completed=completed)
        s, c = participant_cells(pub.page("reach", "Reach"),
                                 SimpleNamespace(intervention="reach", periods=[row], overall=row))["all"]
        per = _per(300_000 / started, s), _per(300_000 / completed, c)
        pub.solve()
        return per

    per_started, per_completed = costs(tmp_path / "a", 150, 147)
    # with both costs per participant shown, 150 - 147 = 3 could be read off: one of them goes
    assert per_started.hidden or per_completed.hidden
    # counts that are not small keep their costs per participant under the same policy
    assert not any(v.hidden for v in costs(tmp_path / "b", 150, 120))
