"""Evaluation runs and their estimates in the store, so the dashboard can show them beside monitoring."""

from __future__ import annotations

import hashlib

from evalkit.store.db import Store


def save_results(store: Store, result) -> int:
    """Store one :class:`~evalkit.results.ResultSet`; the same results twice are stored once. Returns the run id."""
    text = result.to_json()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    row = store.con.execute("SELECT run_id FROM evaluation_runs WHERE results_sha256 = ?", [digest]).fetchone()
    if row:
        return int(row[0])
    with store.transaction():
        run_id = store.con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM evaluation_runs").fetchone()[0]
        store.con.execute("INSERT INTO evaluation_runs VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                          [run_id, result.evaluation, result.intervention, result.design, digest, text])
        for e in result.estimates:
            store.con.execute("INSERT INTO evaluation_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              [run_id, e.indicator, e.subgroup, e.estimand, e.comparison, e.n, e.estimate,
                               e.std_error, e.ci_low, e.ci_high, e.p_value, e.primary])
    return int(run_id)
