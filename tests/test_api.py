"""The Python API as a notebook user meets it: stable verbs, readable results, evalkit's own errors."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys
from html.parser import HTMLParser

import pytest

import evalkit
from evalkit.errors import EvalkitError, ProjectError


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (import order matters here, so no shared state)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_public_names_are_listed():
    for name in ("load_project", "validate_project", "run", "rate", "report", "ResultSet", "EvalkitError",
                 "init_project", "new_logic_model", "new_evaluation"):
        assert name in evalkit.__all__ and name in dir(evalkit), name
        assert getattr(evalkit, name) is not None
    assert "importlib" not in dir(evalkit) and "_Verb" not in dir(evalkit)  # helpers stay out of sight


@pytest.mark.parametrize("first", ["import evalkit.run", "import evalkit.report.write", "import evalkit.report",
                                   "from evalkit.run import run_and_write", "import evalkit.api"])
def test_importing_a_module_never_replaces_a_verb(first):
    code = (f"{first}\nimport evalkit, inspect\n"
            "print(callable(evalkit.run), callable(evalkit.report), callable(evalkit.rate),\n"
            "      list(inspect.signature(evalkit.run).parameters)[:1],\n"
            "      list(inspect.signature(evalkit.report).parameters)[:2])")
    assert _fresh(code) == "True True True ['evaluation'] ['project', 'evaluations']"


def test_verbs_still_reach_their_modules():
    # code written against the modules keeps working: attributes, `import ... as`, patch strings
    code = ("import evalkit.report.write as write, evalkit.run as run_module, evalkit\n"
            "from unittest import mock\n"
            "print(write.__name__, evalkit.report.write is write, callable(run_module))\n"
            "print(evalkit.run.run_and_write.__module__)\n"
            "with mock.patch('evalkit.run.evalkit_version', lambda: 'patched'):\n"
            "    from evalkit.run import evalkit_version; print(evalkit_version())\n")
    assert _fresh(code).splitlines() == ["evalkit.report.write True True", "evalkit.run", "patched"]


def test_verbs_document_themselves():
    assert "Run one evaluation" in evalkit.run.__doc__
    assert "EIF evidence level" in evalkit.rate.__doc__
    assert list(inspect.signature(evalkit.rate).parameters)[:2] == ["project", "interventions"]
    assert repr(evalkit.report) == "<evalkit verb report: evalkit.api.report>"


def test_import_stays_light():
    code = ("import sys, evalkit; evalkit.run; evalkit.report; evalkit.rate\n"
            "print([m for m in ('pandas', 'scipy', 'statsmodels', 'pydantic', 'duckdb') if m in sys.modules])")
    assert _fresh(code) == "[]"


def test_unknown_plan_id_lists_the_valid_ones(example_project_ro):
    project = evalkit.load_project(example_project_ro)
    with pytest.raises(ProjectError) as err:
        project.evaluation("reach-prepost")
    assert isinstance(err.value, EvalkitError)
    assert str(err.value).startswith(f"'reach-prepost': no evaluation plan with this id in {project.root}; "
                                     "expected one of ")
    assert "reach-2023-prepost" in str(err.value)
    with pytest.raises(ProjectError, match="no logic model with this id .* expected one of .*reach"):
        project.intervention("rech")
    assert "8 logic model(s)" in repr(project) and "reach-2023-prepost" in repr(project)


@pytest.fixture(scope="module")
def result(example_result):
    return example_result("reach-2023-matched")  # evalkit.run of the plan, shared with other modules


def test_to_frame_numbers_are_floats_with_nan(result):
    frame = result.to_frame()
    for column in ("estimate", "std_error", "ci_low", "ci_high", "p_value", "p_value_holm", "effect_size",
                   "n_treated", "n_comparison"):
        assert frame[column].dtype == "float64", column
    assert frame["n"].dtype == "int64" and frame["primary"].dtype == "bool"
    assert frame["direction_good"].dtype == "boolean"
    # no Holm p for the secondary estimands: NaN, not None, and sums skip it
    assert frame["p_value_holm"].isna().any() and not frame["p_value_holm"].map(lambda v: v is None).any()
    assert math.isfinite(frame["p_value_holm"].sum())
    assert frame["estimate"].tolist() == [e.estimate for e in result.estimates]
    # results.json keeps null
    assert any(e["p_value_holm"] is None for e in result.to_dict()["estimates"])


def test_summary_is_a_text_table(result):
    text = result.summary()
    lines = text.splitlines()
    assert lines[0] == f"evalkit results: {result.title}"
    assert "Evaluation:      reach-2023-matched" in text and "Design:    matched_comparison" in text
    assert "Seed:            20240301" in text
    primary = next(line for line in lines if line.startswith("suspended *"))
    e = next(e for e in result.estimates if e.primary)
    assert f"{e.estimate:.3f}" in primary and f"[{e.ci_low:.3f}, {e.ci_high:.3f}]" in primary
    assert "* primary outcome. Methods:" in text and "[1] " + result.estimates[0].method in text
    assert "Balance after matching" in text and all(w.message in text for w in result.warnings)
    assert repr(result).startswith("<ResultSet reach-2023-matched: matched_comparison, 5 estimate(s)")


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.tables, self.cells, self._text = [], 0, [], None

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "hr", "img"):  # void elements have no end tag
            return
        self.stack.append(tag)
        self.tables += tag == "table"
        if tag in ("td", "th"):
            self._text = ""

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()
        if tag in ("td", "th"):
            self.cells.append(self._text)
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text += data


def test_repr_html_is_a_compact_table(result):
    html = result._repr_html_()
    parser = _Cells()
    parser.feed(html)
    assert parser.stack == [] and parser.tables == 2  # well formed: a header table and the estimates
    for e in result.estimates:
        assert f"{e.estimate:.3f}" in parser.cells and e.estimand in parser.cells
    assert "suspended *" in parser.cells and "95% CI" in parser.cells
    assert "<script" not in html and "&lt;" not in result.title  # text is escaped, nothing runs


def test_repr_html_escapes_text(result):
    import dataclasses

    odd = dataclasses.replace(result, title="A <b>bold</b> & risky title")
    html = odd._repr_html_()
    assert "A &lt;b&gt;bold&lt;/b&gt; &amp; risky title" in html and "<b>bold</b>" not in html


def test_a_notebook_shows_the_results_table(example_project_ro, tmp_path):
    """A real Jupyter kernel runs the README's calls; the cell's display is the HTML table."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import evalkit\n"
        f"project = evalkit.load_project({str(example_project_ro)!r})\n"
        "import evalkit.run  # the module: the verb stays the verb\n"
        "result = evalkit.run(project.evaluation('reach-2023-prepost'))",
        "result",
        "frame = result.to_frame()\nprint(frame['p_value_holm'].dtype, frame['estimate'].dtype)",
        "project.evaluation('reach-prepost')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    shown = notebook.cells[1].outputs[0]
    assert shown["output_type"] == "execute_result"
    html = shown["data"]["text/html"]
    assert html.startswith('<div class="evalkit-results">') and "sdq_total *" in html and "mean_change" in html
    assert shown["data"]["text/plain"].startswith("<ResultSet reach-2023-prepost: pre_post")
    assert notebook.cells[2].outputs[0]["text"] == "float64 float64\n"
    error = notebook.cells[3].outputs[0]
    assert error["ename"] == "ProjectError" and "expected one of" in error["evalue"]
