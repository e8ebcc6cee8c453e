"""``evalkit init`` and ``evalkit new``: a starter project, and skeleton files in a project.

``init_project`` writes a complete small project: one example intervention (``mentoring``)
with a plan for each design and its own made-up data, monitoring settings with a source and
a few monthly extracts, ``reports/``, ``_quarto.yml``, the JSON Schemas with the editor
settings that use them, a README and a ``.gitignore``. It is built in a temporary folder
beside the target, checked (it must validate with no warning), then moved in: nothing is
half-written, and no file already there is ever replaced.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.errors import ProjectError
from evalkit.project import REPORTS_README

STARTER = Path(__file__).resolve().parent / "starter"
# the months of the example monitoring extracts (the last is the month before "today" in the demo)
EXTRACT_MONTHS = ["2024-07", "2024-08", "2024-09", "2024-10", "2024-11", "2024-12"]
SLUG = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass
class Written:
    root: Path
    files: list[Path] = field(default_factory=list)


def _check_id(kind: str, value: str) -> None:
    if not SLUG.match(value) or len(value) > 80:
        raise ProjectError(f"{value!r}: not a valid {kind} id; expected lowercase letters, digits, '-' or '_', "
                           "starting with a letter (e.g. knife-crime-2025)")


# ---------------------------------------------------------------------------- evalkit init


def _gitignore() -> str:
    return "\n".join([
        "# written by `evalkit init`",
        "# the store, pseudonymised extracts and run state (person-level: never commit)",
        "/.evalkit/",
        "# person-level data: keep it out of version control (`evalkit synth` rewrites the example data)",
        "/evaluations/data/",
        "/monitoring/extracts/",
        "# the rendered site (results files and analysed rows live in .evalkit/, above)",
        "/_site/",
        "*.tmp",
        "",
    ])


def _quarto(title: str) -> str:
    return "\n".join([
        "# The Quarto project: every evaluation report and the portfolio page as one site.",
        "# Rendered with `quarto render` when the Quarto CLI is on PATH; otherwise `evalkit report`",
        "# renders the same .qmd sources with Pandoc.",
        "project:", "  type: website", "  output-dir: _site", "  render:",
        '    - "reports/**/index.qmd"', '    - "reports/index.qmd"', "",
        "website:", f"  title: {json.dumps(title)}", "  navbar:", "    left:",
        "      - href: reports/index.qmd", "        text: Portfolio", "",
        "format:", "  html:", "    toc: true", "    embed-resources: true", ""])


def _vscode() -> str:
    settings = {"yaml.schemas": {
        "./schemas/logic_model.schema.json": ["logic_models/*.yml", "logic_models/*.yaml"],
        "./schemas/evaluation.schema.json": ["evaluations/*.yml", "evaluations/*.yaml"]}}
    return json.dumps(settings, indent=2) + "\n"


def _readme(name: str, plans: list[tuple[str, str]]) -> str:
    from evalkit.spec.raw import TIMEPOINT_NAMES

    from evalkit.evidence.assess import DESIGNS  # the designs in the words reports use

    rows = "\n".join(f"| `{plan}` | {DESIGNS.get(design, (design, design))[1]} |" for plan, design in plans)
    return f"""# {name}

An evalkit project, started with `evalkit init`. It holds one example intervention,
`mentoring` (made up: no real people, places or results), with an evaluation plan for each
design evalkit runs and a little data for each, so every command works before you add your own.

| folder | holds |
|---|---|
| `logic_models/` | one YAML per intervention: theory of change and indicators |
| `evaluations/` | one YAML per evaluation study: design, data, columns, options |
| `evaluations/data/` | the example data (written by `evalkit synth`; `DICTIONARY.md` says what each column is) |
| `monitoring/` | outcomes monitoring: settings, the `referrals` source, how indicators are counted, example extracts |
| `reports/` | what is published: `evalkit report` and `evalkit monitor dashboard` move each page here after its scan (upload this folder) |
| `.evalkit/` | working area, owner-only, never uploaded: results (`evalkit run`, `evalkit compare`), the store, person-level rows |
| `schemas/` | the JSON Schema of both YAML formats; `.vscode/settings.json` points editors at them |

| plan | design |
|---|---|
{rows}

## Try it

```sh
evalkit validate                  # every file checked: shape, meaning, data
evalkit run                       # every plan: .evalkit/results/<plan>/results.json
evalkit synth --check             # the true effects built into the data, beside the estimates
evalkit rate                      # the EIF evidence level of the intervention, explained
evalkit compare                   # the portfolio (.evalkit/results/portfolio.json)
evalkit report                    # one HTML page per plan, and reports/index.html
evalkit monitor ingest referrals monitoring/extracts/referrals/*.csv
evalkit monitor status            # what is in, missing or late; what is off target
evalkit monitor dashboard         # reports/monitoring/dashboard.html
```

Every command takes `--quiet` (errors only) and `--json` (its result as JSON).

## Your own intervention

```sh
evalkit new logic-model my-programme
evalkit new evaluation my-programme-prepost --design pre_post --intervention my-programme
```

Each writes a skeleton with every required key; the comments give the valid choices. Write your
own words and column names in place of every `<...>` (`evalkit validate` lists any left), put
your data in `evaluations/data/`, and delete the example files when you no longer need them.
Timepoint names are {", ".join(f"`{t}`" for t in TIMEPOINT_NAMES)} (e.g. `follow_up_12m`).
A matched comparison reads the participants and the comparison pool from two files with the same
columns (`data.path` and `data.comparison`), or from one file with a 0/1 `data.treatment` column.

Monitoring pseudonymises person identifiers on ingest with a key kept outside the project
(`~/.config/evalkit/pseudonym.key`, made on first use, or `$EVALKIT_PSEUDONYM_KEY`).
"""


def init_project(path: Path | str | None = None, *, title: str | None = None) -> Written:
    """Write the starter project into ``path`` (default: the current folder); see the module doc.

    ``path`` may exist; a file the starter would write that is already there is an error (the
    folder is left as it was). Returns the files written.
    """
    from evalkit.monitor.synth import _to_file
    from evalkit.project import is_project, validate_project
    from evalkit.spec.schema import write_schemas
    from evalkit.synth._util import rng_for
    from evalkit.synth.writer import DEFAULT_SEED, synthesise

    from evalkit.synth.starter import referral_extracts

    target = Path(path if path is not None else os.getcwd()).resolve()
    if target.exists() and not target.is_dir():
        raise ProjectError(f"{target}: is a file; expected a folder for the new project")
    if is_project(target):
        raise ProjectError(f"{target}: already an evalkit project (it has logic_models/ and evaluations/); "
                           "expected a new or empty folder")
    name = title or target.name.replace("-", " ").replace("_", " ").strip().capitalize() or "Evaluations"

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(target.parent / f".{target.name}.evalkit-init.tmp")
    if work.exists():
        shutil.rmtree(work)
    try:
        shutil.copytree(STARTER, work, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        plans = sorted((p.stem, _design_of(p)) for p in (work / "evaluations").glob("*.yml"))
        (work / "reports").mkdir()
        (work / "reports" / "README.md").write_text(REPORTS_README, encoding="utf-8")
        write_schemas(work / "schemas")
        (work / ".vscode").mkdir()
        (work / ".vscode" / "settings.json").write_text(_vscode(), encoding="utf-8")
        (work / "_quarto.yml").write_text(_quarto(f"{name}: evaluations and outcomes"), encoding="utf-8")
        (work / "README.md").write_text(_readme(name, plans), encoding="utf-8")
        (work / ".gitignore").write_text(_gitignore(), encoding="utf-8")
        synthesise(work, seed=DEFAULT_SEED)
        extracts = work / "monitoring" / "extracts" / "referrals"
        for file, frame in referral_extracts(rng_for(DEFAULT_SEED, "referral extracts"), EXTRACT_MONTHS).items():
            _to_file(frame, extracts / file)
        check = validate_project(work)
        if check.problems:  # evalkit's own starter must be clean: a failure here is a bug, not the user's
            raise RuntimeError("the starter project does not validate cleanly:\n"
                               + "\n".join(str(p) for p in check.problems))
        clashes = sorted(str(target / p.relative_to(work)) for p in work.rglob("*")
                         if p.is_file() and (target / p.relative_to(work)).exists())
        if clashes:
            raise ProjectError(f"{target}: would replace {len(clashes)} file(s) already there ({', '.join(clashes[:3])}"
                               f"{' ...' if len(clashes) > 3 else ''}); expected a new or empty folder")
        target.mkdir(exist_ok=True)
        written = Written(target)
        for entry in sorted(work.iterdir()):
            _move(entry, target / entry.name, written)
        return written
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _design_of(plan: Path) -> str:
    from evalkit.spec.yamlio import read_yaml

    data = read_yaml(plan).data or {}
    return str(data.get("design", ""))


def _move(source: Path, dest: Path, written: Written) -> None:
    """Move ``source`` into ``dest``, merging into folders already there (no file is replaced)."""
    if source.is_dir() and dest.is_dir():
        for entry in sorted(source.iterdir()):
            _move(entry, dest / entry.name, written)
        return
    os.replace(source, dest)
    written.files += sorted(p for p in dest.rglob("*") if p.is_file()) if dest.is_dir() else [dest]


# ---------------------------------------------------------------------------- evalkit new


def _write(path: Path, text: str, force: bool) -> Path:
    if path.exists() and not force:
        raise ProjectError(f"{path}: already exists; expected a new file (--force replaces it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def new_logic_model(model_id: str, project: Path | str | None = None, *, force: bool = False) -> Path:
    """Write ``logic_models/<model_id>.yml``: a skeleton logic model (see :mod:`.skeleton`)."""
    from evalkit.project import LOGIC_MODELS, find_project

    from evalkit.scaffold.skeleton import logic_model_skeleton

    _check_id("logic model", model_id)
    root = find_project(project)
    return _write(root / LOGIC_MODELS / f"{model_id}.yml", logic_model_skeleton(model_id), force)


def new_evaluation(plan_id: str, design: str, intervention: str, project: Path | str | None = None, *,
                   outcomes: list[str] | None = None, force: bool = False) -> tuple[Path, bool]:
    """Write ``evaluations/<plan_id>.yml``: a skeleton plan for ``design``.

    Uses the indicator ids of ``intervention``'s logic model when the project has it (valid):
    ``outcomes`` (the first is the primary outcome), else one the design suits. Returns the path
    and whether the logic model was found (else the indicators are placeholders).
    """
    from evalkit.errors import check_choice
    from evalkit.project import EVALUATIONS, find_project, validate_project
    from evalkit.spec.raw import Design

    from evalkit.scaffold.skeleton import evaluation_skeleton

    _check_id("evaluation", plan_id)
    _check_id("logic model", intervention)
    check_choice("--design", design, [d.value for d in Design])
    root = find_project(project)
    logic_model = validate_project(root, check_data=False).interventions.get(intervention)
    indicators = dict(logic_model.indicators) if logic_model is not None else None
    if outcomes:
        for ind in outcomes:
            if not re.match(r"^[a-z][a-z0-9_]*$", ind):
                raise ProjectError(f"--outcomes: {ind!r} is not an indicator id; expected lowercase letters, "
                                   "digits or '_', starting with a letter")
            if indicators is not None and ind not in indicators:
                raise ProjectError(f"--outcomes: {ind!r} is not an indicator of logic model '{intervention}'; "
                                   f"expected one of {', '.join(indicators)}")
    text = evaluation_skeleton(plan_id, design, intervention, indicators, outcomes)
    return _write(root / EVALUATIONS / f"{plan_id}.yml", text, force), logic_model is not None
