"""Write the example data files a project's plans name, with a data dictionary beside them.

Only files that some plan names and that a generator knows are written. A file already there
is replaced only if synth wrote it (its hash is in the dictionary) or ``force`` is given, so
running synth in a project with real data never overwrites it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evalkit.errors import EvalkitError

DICTIONARY_JSON = "dictionary.json"
DICTIONARY_MD = "DICTIONARY.md"
DEFAULT_SEED = 20240301


@dataclass
class SynthReport:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # real data, left alone
    unknown: list[tuple[str, str]] = field(default_factory=list)  # (plan, data file) with no generator


def _tidy(frame):
    """Whole-number float columns (with gaps) become nullable integers: 17, not 17.0."""
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_float_dtype(s):
            vals = s.dropna()
            if len(vals) and (vals == vals.round()).all() and vals.abs().max() < 2**53:
                out[col] = s.astype("Int64")
    return out


def frame_to_csv_bytes(frame) -> bytes:
    return _tidy(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")


def _markdown(entries: dict) -> str:
    lines = ["# Data dictionary", "",
             "Synthetic data written by `evalkit synth` for the example project. Not real people.", ""]
    for name, e in sorted(entries.items()):
        lines += [f"## {name}", "", e["description"], "",
                  f"Rows: {e['rows']}. Seed: {e['seed']}. SHA-256: `{e['sha256']}`.", "",
                  "| column | meaning |", "|---|---|"]
        lines += [f"| `{c}` | {d} |" for c, d in e["columns"].items()]
        if e["true_effects"]:
            lines += ["", "True effects built in:", "", "| evaluation | indicator | estimand | value | meaning |",
                      "|---|---|---|---|---|"]
            lines += [f"| {t.get('evaluation', '')} | {t['indicator']} | {t['estimand']} | {t['value']:.6g} | "
                      f"{t['description']} |" for t in e["true_effects"]]
        if e["notes"]:
            lines += [""] + [f"- {n}" for n in e["notes"]]
        lines.append("")
    return "\n".join(lines)


def synthesise(project: Path | str | None = None, seed: int = DEFAULT_SEED, force: bool = False) -> SynthReport:
    """Write every data file the project's plans name that a generator knows; see module doc."""
    from evalkit.data.load import sha256
    from evalkit.project import validate_project
    from evalkit.synth._util import rng_for
    from evalkit.synth.starter import COMPANIONS as STARTER_COMPANIONS
    from evalkit.synth.starter import GENERATORS as STARTER
    from evalkit.synth.datasets import COMPANIONS as EXAMPLE_COMPANIONS
    from evalkit.synth.datasets import DEMOGRAPHICS
    from evalkit.synth.datasets import GENERATORS as EXAMPLE

    # the example project's files and those of the starter project `evalkit init` writes
    generators = {**EXAMPLE, **STARTER}
    companions = {**EXAMPLE_COMPANIONS, **STARTER_COMPANIONS}

    validation = validate_project(project, check_data=False)
    targets: dict[Path, str] = {}
    report = SynthReport()
    for ev in validation.evaluations.values():
        if ev.data is None:
            continue
        for _role, path, written in ev.data.files:  # one file, or participants and comparison pool
            if path.name in generators and path.suffix == ".csv":
                targets[path] = path.name
            else:
                report.unknown.append((ev.id, written))
        sessions = ev.feasibility.sessions if ev.feasibility is not None else None
        if sessions is None and getattr(ev, "delivery", None) is not None:  # routine delivery's records
            sessions = ev.delivery.sessions
        if sessions is not None:  # a feasibility plan's session records
            extra = (ev.source.parent / sessions.path).resolve()
            if extra.name in generators and extra.suffix == ".csv":
                targets[extra] = extra.name
            else:
                report.unknown.append((ev.id, sessions.path))
    if not targets and not validation.evaluations and validation.errors:
        raise EvalkitError("no plan could be read, so synth does not know which files to write:\n"
                           + "\n".join(str(p) for p in validation.errors))

    by_folder: dict[Path, list[Path]] = {}
    for path in sorted(targets):
        by_folder.setdefault(path.parent, []).append(path)
    for folder, paths in by_folder.items():
        dict_path = folder / DICTIONARY_JSON
        entries = {}
        if dict_path.exists():
            try:
                entries = json.loads(dict_path.read_text(encoding="utf-8")).get("files", {})
            except (json.JSONDecodeError, AttributeError):
                entries = {}
        folder.mkdir(parents=True, exist_ok=True)
        for path in paths:
            name = path.name
            if path.exists() and not force:
                known = entries.get(name, {}).get("sha256")
                if known is None or known != sha256(path):
                    report.kept.append(path)
                    continue
            frame, entry = generators[name](rng_for(seed, companions.get(name, name)))
            if name in DEMOGRAPHICS:  # new columns from their own streams; the generator's stay as they are
                frame, entry = DEMOGRAPHICS[name](frame, entry, seed)
            data = frame_to_csv_bytes(frame)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            record = asdict(entry)
            record.update(rows=int(len(frame)), seed=seed, sha256=sha256(path))
            entries[name] = record
            report.written.append(path)
        doc = {"schema": "evalkit.data_dictionary/v1", "generator": "evalkit synth", "files": entries}
        text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
        (folder / DICTIONARY_JSON).write_text(text, encoding="utf-8")
        (folder / DICTIONARY_MD).write_text(_markdown(entries), encoding="utf-8")
    return report


def true_effects(folder: Path) -> list[dict]:
    """The true effects recorded in a data folder's dictionary (for tests and the demo)."""
    doc = json.loads((Path(folder) / DICTIONARY_JSON).read_text(encoding="utf-8"))
    return [t for e in doc["files"].values() for t in e["true_effects"]]
