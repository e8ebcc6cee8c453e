"""Monitoring at scale: ingest 10 million police records and compute the monthly indicators by area.

Run: ``.venv/bin/python bench/bench_monitor.py [--rows 10000000]`` (not part of the test suite).

Both implementations run in the same invocation, each in its own fresh process so peak memory
(``ru_maxrss``) is its own, on the same machine and file:

- **evalkit**: ``evalkit.monitor.ingest.ingest`` (column and type checks, duplicates, period,
  HMAC-SHA256 pseudonymisation, one transaction into the DuckDB store), then
  ``compute_success_measures`` (the Ibis expressions on DuckDB) for the police success
  measures: knife or sharp object offences (the Home Office's selected list, by code else by
  description) and homicides, per month and area and for the whole area, for all victims,
  under-25s and (homicide) non-domestic, with rates per 100,000 / 1,000,000 on the
  matching population.
- **pandas**: the same work written plainly in pandas: read the Parquet file, the same checks,
  the same HMAC pseudonyms (computed once per distinct identifier, kept as the same 16 bytes),
  its checked records written to Parquet as its durable store, the serious violence
  classification with its flags, the same monthly groupings and rates.

The two results are compared cell by cell before the timings are printed.

Then a **CSV extract** (``--csv-rows``, default 3 million police records, written once from the
same generator): evalkit's ingest of the CSV in a fresh process, with no DuckDB memory limit set
(as ``evalkit monitor ingest`` runs) unless ``--csv-memory-limit`` gives one. DuckDB streams the
file into a Parquet copy beside the store and every check reads that copy (nothing is held whole,
nothing is materialised in pandas); the peak memory is printed against the 1 GB target of issue 20.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
KEY = "bench-key-" + "x" * 32
MEMORY_LIMIT = "2GB"
# DuckDB's buffer pool for the CSV phase: none set by default, as `evalkit monitor ingest` runs (DuckDB's
# own default, 80% of RAM); --csv-memory-limit 700MB shows a limit's effect
CSV_MEMORY_LIMIT = ""
TARGET_RATIO = 5.0
TARGET_PEAK_GB = 1.0


def _project(tmp: Path) -> Path:
    root = tmp / "project"
    for folder in ("logic_models", "evaluations"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("data"))
    import yaml

    (root / "monitoring" / "sources").mkdir(parents=True)
    for name in ("monitor.yml", "serious_violence.yml"):
        shutil.copy(REPO / "monitoring" / name, root / "monitoring" / name)
    for name in ("police.yml", "populations.yml"):
        shutil.copy(REPO / "monitoring" / "sources" / name, root / "monitoring" / "sources" / name)
    # only the Home Office police measures: the bench has police data only
    measures = yaml.safe_load((REPO / "monitoring" / "success_measures.yml").read_text())
    measures["measures"] = [m for m in measures["measures"] if m["id"] in POLICE_MEASURES]
    (root / "monitoring" / "success_measures.yml").write_text(yaml.safe_dump(measures, sort_keys=False))
    (root / "monitoring" / "indicators.yml").write_text("version: 1\nindicators: []\n")
    return root


POLICE_MEASURES = ("knife_offences", "homicides")


def _cpu() -> float:
    """This process's CPU seconds (user + system, every thread): on a shared machine the wall clock
    of a two-threaded engine against single-threaded pandas depends on the load, CPU less so."""
    return sum(os.times()[:2])


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_evalkit_csv(root: Path, police: Path, populations: Path, memory_limit: str) -> dict:
    """Ingest a CSV extract alone (no indicators): its time and the process's peak memory."""
    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.ingest import ingest
    from evalkit.store import open_store

    mon = load_monitoring(root)
    store = open_store(root / ".evalkit" / "evalkit.duckdb", memory_limit=memory_limit)
    ingest(store, mon, "populations", populations)
    t0 = time.perf_counter()
    report = ingest(store, mon, "police", police)
    t1 = time.perf_counter()
    store.close()
    return {"rows": report.rows, "ingest_s": t1 - t0, "peak_mb": _peak_mb()}


def run_evalkit(root: Path, police: Path, populations: Path) -> dict:
    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.ingest import ingest
    from evalkit.monitor.measures import compute_success_measures
    from evalkit.store import open_store

    mon = load_monitoring(root)
    store = open_store(root / ".evalkit" / "evalkit.duckdb", memory_limit=MEMORY_LIMIT)
    ingest(store, mon, "populations", populations)
    t0, c0 = time.perf_counter(), _cpu()
    report = ingest(store, mon, "police", police)
    t1 = time.perf_counter()
    values = compute_success_measures(store, mon)[["measure", "variant", "area", "period", "count", "population",
                                                   "rate"]]
    t2, c2 = time.perf_counter(), _cpu()
    store.close()
    values.to_parquet(root / "evalkit_values.parquet")
    return {"rows": report.rows, "ingest_s": t1 - t0, "indicators_s": t2 - t1, "total_s": t2 - t0,
            "cpu_s": c2 - c0, "peak_mb": _peak_mb(), "cells": len(values)}


def run_pandas(root: Path, police: Path, populations: Path) -> dict:
    import hashlib
    import hmac

    import numpy as np
    import pandas as pd
    import yaml

    mapping = yaml.safe_load((root / "monitoring" / "serious_violence.yml").read_text())
    bands = [0, 10, 18, 25, 35, 50, 65]
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(bands, bands[1:])] + [f"{bands[-1]}+"]
    t0, c0 = time.perf_counter(), _cpu()
    # ingest: read, check, pseudonymise. The checks are evalkit's: the file's SHA-256 (so the same
    # file again is a no-op), string values trimmed with empty ones counted as missing, required
    # values present, no duplicate key, the months the extract covers.
    digest = hashlib.sha256()
    with open(police, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    df = pd.read_parquet(police)
    t_read = time.perf_counter()
    for col in df.columns[df.dtypes == object]:
        text = df[col].str.strip()
        df[col] = text.mask(text == "")
    t_trim = time.perf_counter()
    required = ["crime_ref", "occurred_at", "offence_type", "knife_flag", "domestic_flag", "area"]
    if df[required].isna().any().any():
        raise SystemExit("missing values")
    months = df["occurred_at"].dt.to_period("M")
    _span = (months.min(), months.max(), months.nunique())
    if df["crime_ref"].duplicated().any():
        raise SystemExit("duplicates")
    key = KEY.encode()
    for col in ("victim_id", "suspect_id"):
        uniques = df[col].dropna().unique()
        # the same pseudonym as evalkit stores: HMAC-SHA256 truncated to 128 bits (16 bytes)
        hashed = {v: hmac.new(key, v.encode(), hashlib.sha256).digest()[:16] for v in uniques}
        df[col] = df[col].map(hashed)
    t_checked = time.perf_counter()
    # a durable store for the checked, pseudonymised records (evalkit's ingest writes its DuckDB store)
    df.to_parquet(root / "pandas_store.parquet", index=False)
    t1 = time.perf_counter()
    persist_s = t1 - t_checked
    # the measures: the offence lists keyed by Home Office code, else by description (normalised as
    # evalkit does), the knife flag, the victim's age, the domestic flag; every loaded month and area
    import re

    def norm_code(c):
        return re.sub(r"\s+", "", str(c)).upper().replace(".", "/")

    def norm_desc(d):
        for dash in ("\u2013", "\u2014", "\u2012", "\u2212"):
            d = str(d).replace(dash, "-")
        return re.sub(r"\s+", " ", d).strip().lower()

    spec = {m["id"]: m for m in yaml.safe_load((root / "monitoring" / "success_measures.yml").read_text())["measures"]}
    code = df["offence_code"].map(norm_code, na_action="ignore")
    desc = df["offence_type"].map(norm_desc)
    df["period"] = df["occurred_at"].dt.to_period("M").dt.to_timestamp()
    pops = pd.read_csv(populations)
    young = [label for lo, label in zip(bands, labels) if lo < 25]
    loaded = pd.date_range(df["period"].min(), df["period"].max(), freq="MS")
    out = []
    for mid in ("knife_offences", "homicides"):
        m = spec[mid]
        codes = {norm_code(c) for o in m["offences"] for c in o.get("codes", [])}
        descs = {norm_desc(d) for o in m["offences"] for d in [o["name"], *o.get("descriptions", [])]}
        listed = code.isin(codes) | (~code.isin(codes) & desc.isin(descs))
        sel = df[listed & (df["knife_flag"] if m.get("where", {}).get("knife") else True)]
        for variant in m["variants"]:
            part = sel
            if variant == "under_25":
                part = sel[sel["victim_age"] < 25]
            elif variant == "non_domestic":
                part = sel[~sel["domestic_flag"]]
            p = pops[pops["age_band"].isin(young)] if variant == "under_25" else pops
            p = p.groupby(["year", "area"])["population"].sum().rename("population").reset_index()
            areas = sorted(set(pops["area"]) | set(part["area"]))
            g = part.groupby(["period", "area"]).size()
            grid = pd.MultiIndex.from_product([loaded, areas], names=["period", "area"])
            g = g.reindex(grid, fill_value=0).rename("count").reset_index()
            total = g.groupby("period", as_index=False)["count"].sum().assign(area="all")
            p_all = p.groupby("year", as_index=False)["population"].sum().assign(area="all")
            g = pd.concat([total, g], ignore_index=True)
            p = pd.concat([p_all, p], ignore_index=True)
            maxyear = p.groupby("area")["year"].max().rename("max_year")
            g = g.merge(maxyear, left_on="area", right_index=True, how="left")
            g["year"] = np.minimum(g["period"].dt.year, g["max_year"])
            g = g.merge(p, on=["year", "area"], how="left")
            g["rate"] = g["count"] / g["population"] * m["rate_per"]
            out.append(g.assign(measure=mid, variant=variant)[
                ["measure", "variant", "area", "period", "count", "population", "rate"]])
    values = pd.concat(out, ignore_index=True)
    t2, c2 = time.perf_counter(), _cpu()
    values.to_parquet(root / "pandas_values.parquet")
    return {"rows": len(df), "ingest_s": t1 - t0, "indicators_s": t2 - t1, "total_s": t2 - t0,
            "cpu_s": c2 - c0, "peak_mb": _peak_mb(), "cells": len(values), "persist_s": persist_s, "trim_s": t_trim - t_read}


def compare(root: Path) -> str:
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(root / "evalkit_values.parquet")
    b = pd.read_parquet(root / "pandas_values.parquet")
    a = a.assign(period=pd.to_datetime(a["period"]))
    m = a.merge(b, on=["measure", "variant", "area", "period"], suffixes=("_ek", "_pd"), how="outer",
                indicator=True)
    both = m[m["_merge"] == "both"]
    if not (m["_merge"] == "both").all():
        return f"MISMATCH: {int((m['_merge'] != 'both').sum())} cells in one result only"
    if not np.allclose(both["count_ek"], both["count_pd"]) or not np.allclose(
            both["rate_ek"].fillna(-1), both["rate_pd"].fillna(-1)):
        return "MISMATCH in counts or rates"
    return f"identical: {len(both)} cells (count and rate)"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 ** 2:.0f} GB RAM"
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} CPU(s){mem}, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--csv-rows", type=int, default=3_000_000, help="rows of the CSV extract (0: skip)")
    parser.add_argument("--csv-memory-limit", default=CSV_MEMORY_LIMIT)
    parser.add_argument("--skip-parquet", action="store_true", help="only the CSV phase")
    parser.add_argument("--worker", choices=("evalkit", "pandas", "evalkit-csv"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        root = Path(args.dir)
        data = Path(args.data)
        if args.worker == "evalkit-csv":
            print(json.dumps(run_evalkit_csv(root, data / "police.csv", data / "populations.csv",
                                             args.csv_memory_limit)))
            return
        fn = run_evalkit if args.worker == "evalkit" else run_pandas
        print(json.dumps(fn(root, data / "police.parquet", data / "populations.csv")))
        return

    import duckdb
    import ibis
    import pandas as pd

    OUT.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    if not args.skip_parquet:
        parquet_phase(args, duckdb, ibis, pd)
    if args.csv_rows:
        csv_phase(args)


def csv_phase(args) -> None:
    police = OUT / f"police_{args.csv_rows}.csv"
    if not police.exists():
        print(f"generating {args.csv_rows:,} police records as CSV (once; cached in {police}) ...", flush=True)
        subprocess.run([sys.executable, "-c", f"from evalkit.monitor.synth import big_police_file; "
                        f"big_police_file({str(police)!r}, {args.csv_rows})"], check=True)
    from evalkit.monitor.synth import populations

    with tempfile.TemporaryDirectory(prefix="bench-monitor-csv-") as tmp:
        tmp = Path(tmp)
        shutil.copy(police, tmp / "police.csv")
        populations(2010, 2026).to_csv(tmp / "populations.csv", index=False)
        root = _project(tmp / "evalkit-csv")
        env = dict(os.environ, EVALKIT_PSEUDONYM_KEY=KEY)
        done = subprocess.run([sys.executable, __file__, "--worker", "evalkit-csv", "--dir", str(root), "--data", str(tmp),
                               "--csv-memory-limit", args.csv_memory_limit], env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"evalkit CSV ingest failed:\n{done.stderr[-3000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
    gb = r["peak_mb"] / 1024
    print(f"\nCSV extract: {r['rows']:,} police records ({police.stat().st_size / 1e6:.0f} MB) ingested in {r['ingest_s']:.1f} s; "
          f"DuckDB memory_limit {args.csv_memory_limit or 'not set (DuckDB default, as evalkit monitor ingest)'}; "
          f"peak memory {gb:.2f} GB "
          f"(target < {TARGET_PEAK_GB:.0f} GB: {'met' if gb < TARGET_PEAK_GB else 'NOT met'})")


def parquet_phase(args, duckdb, ibis, pd) -> None:
    from evalkit.monitor.synth import populations

    police = OUT / f"police_{args.rows}.parquet"
    if not police.exists():
        t = time.perf_counter()
        print(f"generating {args.rows:,} police records (once; cached in {police}) ...", flush=True)
        subprocess.run([sys.executable, "-c", f"from evalkit.monitor.synth import big_police_file; "
                        f"big_police_file({str(police)!r}, {args.rows})"], check=True)
        print(f"  {time.perf_counter() - t:.0f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        tmp = Path(tmp)
        shutil.copy(police, tmp / "police.parquet")
        populations(2010, 2026).to_csv(tmp / "populations.csv", index=False)
        results = {}
        for worker in ("evalkit", "pandas"):
            root = _project(tmp / worker) if worker == "evalkit" else (tmp / worker)
            root.mkdir(parents=True, exist_ok=True)
            if worker == "pandas":
                shutil.copytree(REPO / "monitoring", root / "monitoring", ignore=shutil.ignore_patterns("extracts"))
            env = dict(os.environ, EVALKIT_PSEUDONYM_KEY=KEY)
            done = subprocess.run([sys.executable, __file__, "--worker", worker, "--dir", str(root), "--data", str(tmp)], env=env,
                                  capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{worker} failed:\n{done.stderr[-3000:]}")
            results[worker] = json.loads(done.stdout.strip().splitlines()[-1])
        shutil.copy(tmp / "pandas" / "pandas_values.parquet", tmp / "evalkit" / "project" / "pandas_values.parquet")
        agreement = compare(tmp / "evalkit" / "project")
    e, p = results["evalkit"], results["pandas"]
    print(f"\nmachine: {machine()}")
    print(f"duckdb {duckdb.__version__}, ibis {ibis.__version__}, pandas {pd.__version__}; "
          f"DuckDB memory_limit {MEMORY_LIMIT}")
    print(f"police records: {e['rows']:,}; success measure cells: {e['cells']:,}; results {agreement}\n")
    print(f"{'':<10} {'ingest s':>9} {'measures s':>13} {'total s':>8} {'CPU s':>8} {'peak MB':>8}")
    for name, r in (("evalkit", e), ("pandas", p)):
        print(f"{name:<10} {r['ingest_s']:>9.1f} {r['indicators_s']:>13.1f} {r['total_s']:>8.1f} {r['cpu_s']:>8.1f} "
              f"{r['peak_mb']:>8.0f}")
    p_mem = p["total_s"] - p["persist_s"]
    print(f"pandas ingest includes {p['persist_s']:.1f} s writing its checked records to Parquet (its durable "
          f"store; without it pandas takes {p_mem:.1f} s in all) and {p['trim_s']:.1f} s trimming strings "
          f"(empty = missing, as evalkit checks; without both {p_mem - p['trim_s']:.1f} s)")
    ratio = p["total_s"] / e["total_s"]
    print(f"\nspeed-up (pandas / evalkit): measures {p['indicators_s'] / e['indicators_s']:.1f}x; ingest + "
          f"measures {ratio:.1f}x ({p_mem / e['total_s']:.1f}x against in-memory pandas); "
          f"evalkit peak memory {e['peak_mb'] / 1024:.2f} GB, pandas {p['peak_mb'] / 1024:.2f} GB")
    print(f"ratio  ingest + measures, pandas / evalkit = {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x: "
          f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}); evalkit peak {e['peak_mb'] / 1024:.2f} GB "
          f"(target < {TARGET_PEAK_GB:.0f} GB: {'met' if e['peak_mb'] / 1024 < TARGET_PEAK_GB else 'NOT met'})")
    print(f"CPU seconds (user + system), pandas / evalkit = {p['cpu_s'] / e['cpu_s']:.1f}x; load average "
          f"{os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
