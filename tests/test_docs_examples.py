"""Every example in README.md and docs/ runs, so the docs cannot drift from the code.

Fenced blocks are read by language: ``yaml`` blocks must validate (a logic model on its own, an
evaluation plan in the example project, with its data where the files are there, a costs block
with the value-for-money checks); ``sh`` blocks
run as one script in a throw-away copy of the example project; ``console`` blocks are
transcripts: each ``$ command`` runs and its output must match the lines shown (``...`` stands
for any text within a line, or alone on a line for any number of lines); ``python`` blocks run
there too. A block after ``<!-- not run: why -->`` is only compiled. ``make`` lines are the
set-up contract itself (CI runs ``make test``), so they are not run from inside the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO

from evalkit.project import validate_project
from evalkit.spec.yamlio import parse_yaml

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")  # also inside list items (indented)
NOT_RUN = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->")


@dataclass
class Block:
    file: str
    line: int
    lang: str
    text: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def blocks() -> list[Block]:
    out = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            start, indent, lang = i, len(m.group(1)), m.group(2)
            i += 1
            body = []
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
                i += 1
            before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
            note = NOT_RUN.search(before)
            out.append(Block(str(path.relative_to(REPO)), start + 1, lang, "\n".join(body) + "\n",
                             note.group(1) if note else None))
            i += 1
    return out


ALL = blocks()


def _of(*langs: str) -> list[Block]:
    return [b for b in ALL if b.lang in langs]


def test_the_examples_are_found():
    kinds = {lang: len(_of(lang)) for lang in ("yaml", "sh", "console", "python")}
    assert kinds["yaml"] >= 4 and kinds["sh"] >= 3 and kinds["console"] >= 2 and kinds["python"] >= 3, kinds


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == ""], ids=lambda b: b.id)
def test_a_block_without_a_language_is_not_a_command(block):
    # a command example must say its language, or it would escape this test
    for line in block.text.splitlines():
        assert not re.match(r"^\s*(\$ |evalkit |make |python )", line), f"{block.id}: label this block sh or console"


# ---------------------------------------------------------------------------- a project to run in


@pytest.fixture
def docs_project(example_project_ro, tmp_path, monkeypatch) -> Path:
    """A copy of the example project as this repository has it: plans, data, monitoring, schemas."""
    root = tmp_path / "vrn"
    # the monitoring folder as the repository has it (the session copy also holds generated extracts)
    shutil.copytree(example_project_ro, root, ignore=shutil.ignore_patterns("reports", ".evalkit", "*.tmp", "monitoring"))
    for folder in ("monitoring", "schemas"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("extracts"))
    (root / "reports").mkdir()
    monkeypatch.setenv("EVALKIT_KEY_FILE", str(tmp_path / "keys" / "pseudonym.key"))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return root


@pytest.fixture
def docs_project_run(docs_project, example_run) -> Path:
    """``docs_project`` after `evalkit run` (the README's order: run, then rate): the results files of
    conftest's example_run (`evalkit run --no-store` of every plan, shared with other modules) in
    ``.evalkit/``. The Python examples rate the project, which reads these files (and would run a
    missing or stale plan itself: `rate_project` running every design is test_evidence_project's)."""
    for folder in ("results", "private"):
        shutil.copytree(example_run / ".evalkit" / folder, docs_project / ".evalkit" / folder)
    return docs_project


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


# ---------------------------------------------------------------------------- yaml


@pytest.mark.parametrize("block", _of("yaml"), ids=lambda b: b.id)
def test_yaml_example_validates(block, example_project_ro, tmp_path):
    doc = parse_yaml(block.text, block.id)
    assert doc.problems == [] and isinstance(doc.data, dict), doc.problems
    data = doc.data
    if "theory_of_change" in data:  # a logic model: on its own, it must be complete and clean
        root = tmp_path / "p"
        (root / "logic_models").mkdir(parents=True)
        (root / "evaluations").mkdir()
        (root / "logic_models" / f"{data['id']}.yml").write_text(block.text)
        found = validate_project(root, check_data=False).problems
    elif "design" in data:  # an evaluation plan: in the example project, next to the plan it may show
        root = tmp_path / "p"
        shutil.copytree(example_project_ro, root, ignore=shutil.ignore_patterns("reports"))
        for plan in (root / "evaluations").glob("*.yml"):
            if (parse_yaml(plan.read_text(), plan.name).data or {}).get("id") == data["id"]:
                plan.unlink()
        name = f"docs-{data['id']}.yml"
        (root / "evaluations" / name).write_text(block.text)
        files = [data.get("data", {}).get(k) for k in ("path", "comparison")] if isinstance(data.get("data"), dict) else []
        sessions = ((data.get("feasibility") or {}).get("sessions") or {}).get("path")
        present = all((root / "evaluations" / f).exists() for f in [*files, sessions] if f)
        found = [p for p in validate_project(root, check_data=present).problems if p.file == f"evaluations/{name}"]
    elif set(data) == {"costs"}:  # a costs block (value for money), as a logic model will hold it
        from evalkit.vfm.costs import check_costs_mapping

        _costs, found = check_costs_mapping(data["costs"], file=block.id, lines=doc.lines)
    elif set(data) <= {"disclosure", "data_roots"}:  # project settings: evalkit.yml at a project's top
        root = tmp_path / "p"
        for folder in ("logic_models", "evaluations", *data.get("data_roots", [])):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "evalkit.yml").write_text(block.text)
        found = [p for p in validate_project(root, check_data=False).problems if p.file == "evalkit.yml"]
    else:
        pytest.fail(f"{block.id}: a YAML example that is neither a logic model, an evaluation plan, costs nor "
                    "project settings")
    assert [str(p) for p in found] == []


# ---------------------------------------------------------------------------- sh


def _runnable(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not re.match(r"^\s*make\b", line))


@pytest.mark.parametrize("block", _of("sh"), ids=lambda b: b.id)
def test_shell_example_runs(block, docs_project):
    script = _runnable(block.text)
    if not script.strip():
        pytest.skip("only `make` lines: the set-up contract, which CI runs (`make test` is .ci/run)")
    result = _bash(script, docs_project)
    assert result.returncode == 0, f"{block.id} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- console


def _matches(expected: list[str], actual: list[str]) -> bool:
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(_matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    pattern = "^" + ".*".join(re.escape(part) for part in head.split("...")) + "$"
    return bool(re.match(pattern, actual[0])) and _matches(rest, actual[1:])


def transcript(text: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before any command: {line!r}"
            steps[-1][1].append(line)
    return steps


@pytest.mark.parametrize("block", _of("console"), ids=lambda b: b.id)
def test_console_example_prints_what_it_shows(block, docs_project):
    for command, expected in transcript(block.text):
        result = _bash(command + " 2>&1", docs_project)
        actual = result.stdout.splitlines()
        assert _matches(expected, actual), (f"{block.id}: `{command}` printed\n" + "\n".join(actual[:60])
                                            + "\n--- expected ---\n" + "\n".join(expected))


# ---------------------------------------------------------------------------- python


@pytest.mark.parametrize("block", _of("python"), ids=lambda b: b.id)
def test_python_example_runs(block, docs_project_run):
    code = textwrap.dedent(block.text)
    compile(code, block.id, "exec")
    if block.not_run:
        pytest.skip(f"compiled only: {block.not_run}")
    result = subprocess.run([sys.executable, "-c", code], cwd=docs_project_run, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, f"{block.id} failed:\n{result.stderr[-3000:]}"
