"""What has been ingested, what is missing or late for which period, which indicators are off target."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from evalkit.monitor.config import Monitoring


@dataclass
class SourceStatus:
    source: str
    label: str
    extracts: int
    rows: int
    first: str | None
    last: str | None
    missing: list[str] = field(default_factory=list)  # gaps between first and last
    late: list[str] = field(default_factory=list)  # expected by now, not yet here
    replacements: int = 0


@dataclass
class Status:
    store: str
    schema_version: int
    as_of: str | None
    sources: list[SourceStatus]
    off_target: pd.DataFrame
    unmapped: pd.DataFrame
    warnings: list = field(default_factory=list)  # indicator definitions (allow_absent values never seen)
    definition: str | None = None  # the serious violence definition's version

    def text(self) -> str:
        lines = [f"store: {self.store} (schema version {self.schema_version})",
                 f"as of: {self.as_of or 'no data yet'}", "",
                 f"{'source':<22} {'extracts':>8} {'rows':>10}  {'periods':<19} missing / late"]
        for s in self.sources:
            span = f"{s.first} to {s.last}" if s.first else "nothing ingested"
            notes = []
            if s.missing:
                notes.append("missing " + ", ".join(s.missing))
            if s.late:
                notes.append("late " + ", ".join(s.late))
            if s.replacements:
                notes.append(f"{s.replacements} replaced")
            state = "; ".join(notes) or ("ok" if s.extracts else "no extracts yet")
            lines.append(f"{s.source:<22} {s.extracts:>8} {s.rows:>10}  {span:<19} {state}")
        lines.append("")
        if len(self.off_target):
            lines.append("off target in the latest period:")
            for r in self.off_target.itertuples():
                value = f"{r.value:.0%}" if r.measure == "proportion" else f"{r.value:g}"
                target = f"{r.target:.0%}" if r.measure == "proportion" else f"{r.target:g}"
                lines.append(f"  {r.intervention}/{r.indicator} {r.period}: {value} against target {target} ({r.rag})")
        else:
            lines.append("no indicator is off target in its latest period")
        if len(self.unmapped):
            version = f" {self.definition}" if self.definition else ""
            lines.append(f"offence types in no list of the serious violence definition{version} (kept, counted as not "
                         "serious violence): " + ", ".join(f"{r.offence_type} ({r.n})" for r in self.unmapped.itertuples()))
        return "\n".join(lines)


def _month(d) -> pd.Timestamp:
    return pd.Timestamp(d).to_period("M").start_time


def expected_last(as_of: dt.date, expected_by_day: int | None) -> pd.Timestamp:
    """The last month whose extract should have arrived by ``as_of``."""
    back = 1 if as_of.day > (expected_by_day or 28) else 2
    return _month(as_of) - pd.DateOffset(months=back)


def source_statuses(store, monitoring: Monitoring, as_of: dt.date | None = None) -> tuple[list[SourceStatus], str | None]:
    ex = store.con.execute("SELECT source, rows, period_start, period_end, status FROM extracts").df()
    active = ex[ex.status == "active"]
    monthly = [s for s in monitoring.sources.values() if s.period == "month"]
    latest = max((_month(d) for d in active[active.source.isin([s.id for s in monthly])].period_end), default=None)
    shown_as_of = f"{as_of}" if as_of else (f"{latest:%Y-%m} (the latest month any source has)" if latest else None)
    out = []
    for src in monitoring.sources.values():
        mine = active[active.source == src.id]
        st = SourceStatus(src.id, src.label, len(mine), int(mine.rows.sum()) if len(mine) else 0, None, None,
                          replacements=int(((ex.source == src.id) & (ex.status == "replaced")).sum()))
        fmt = "%Y" if src.period == "year" else "%Y-%m"
        if len(mine):
            st.first = f"{pd.Timestamp(mine.period_start.min()):{fmt}}"
            st.last = f"{pd.Timestamp(mine.period_end.max()):{fmt}}"
        if src.period == "month":
            have = set()
            for a, b in zip(mine.period_start, mine.period_end):
                have.update(pd.date_range(_month(a), _month(b), freq="MS"))
            if have:
                span = pd.date_range(min(have), max(have), freq="MS")
                st.missing = [f"{m:%Y-%m}" for m in span if m not in have]
            due = expected_last(as_of, src.expected_by_day) if as_of else latest
            if due is not None:
                start = max(have) + pd.DateOffset(months=1) if have else due
                st.late = [f"{m:%Y-%m}" for m in pd.date_range(start, due, freq="MS")]
        out.append(st)
    return out, shown_as_of


def status(store, monitoring: Monitoring, project, as_of: dt.date | None = None, values: pd.DataFrame | None = None
           ) -> Status:
    from evalkit.monitor.indicators import compute_indicators
    from evalkit.monitor.profile import unmapped_offences

    sources, shown = source_statuses(store, monitoring, as_of)
    if values is None:
        values = compute_indicators(store, monitoring, project, save=not getattr(store, "read_only", False))
    overall = values[(values.breakdown == "all") & values.rag.notna()]
    latest = overall.sort_values("period").groupby(["intervention", "indicator"]).tail(1)
    off = latest[latest.rag.isin(["red", "amber"])].sort_values(["intervention", "indicator"], ignore_index=True)
    return Status(str(store.path), store.version, shown, sources, off, unmapped_offences(store, monitoring),
                  list(values.attrs.get("warnings", [])), monitoring.mapping.version if monitoring.mapping else None)
