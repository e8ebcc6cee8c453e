"""Issue 20: the needs profile's queries are compiled to SQL on both cores (evalkit.monitor.profile.
_execute_each); every frame is the one ``backend.execute`` gives, and the backend is left as it was."""

from __future__ import annotations

import ibis
import pandas as pd


def _exprs(t):
    return {"by_area": t.group_by("area").agg(n=t.count()).order_by([ibis.desc("n"), "area"]),
            "by_hour": t.group_by(hour=t.when.hour()).agg(n=t.count()).order_by("hour"),
            "shares": t.agg(n=t.count(), knife=t.knife.sum(), known=t.area.notnull().sum()),
            "self_join": (j := t.inner_join(t.group_by("area").agg(last=t.when.max()), "area")).filter(
                j.when == j.last).select("area", "when").order_by(["area", "when"]),
            "count": t.count()}


def test_profile_queries_compiled_in_two_processes_give_the_execute_frames(monkeypatch):
    from evalkit import _parallel
    from evalkit.monitor.profile import _execute_each

    con = ibis.duckdb.connect()
    frame = pd.DataFrame({"area": ["A", "B", "A", None, "C", "B"] * 5,
                          "when": pd.date_range("2024-01-01", periods=30, freq="7h"),
                          "knife": [True, False, False, True, False, True] * 5})
    con.con.register("frame", frame)
    con.raw_sql("CREATE TABLE police AS SELECT * FROM frame")
    t = con.table("police")
    exprs = _exprs(t)
    plain = {name: con.execute(e) for name, e in exprs.items()}
    calls = []
    real = _parallel.fork_map
    monkeypatch.setattr(_parallel, "fork_map",
                        lambda fn, items, **kw: calls.append((len(items), _parallel.processes())) or real(fn, items, **kw))
    two = _execute_each(con, exprs)
    monkeypatch.setenv(_parallel.PROCESSES_ENV, "1")
    one = _execute_each(con, exprs)
    assert calls == [(5, 2), (5, 1)]
    assert "compile" not in vars(con)  # the backend's own compile again
    assert list(two) == list(one) == list(plain)
    assert two["count"] == one["count"] == plain["count"] == 30  # a scalar stays a scalar
    for name in ("by_area", "by_hour", "shares", "self_join"):
        pd.testing.assert_frame_equal(two[name], plain[name])
        pd.testing.assert_frame_equal(one[name], plain[name])
        assert two[name].dtypes.to_dict() == plain[name].dtypes.to_dict()
