"""Issue 20: a publication's pages are written, rendered and scanned in two processes
(evalkit._parallel.fork_map); every published file, the failures and what is logged are as when
one process does them all."""

from __future__ import annotations

from evalkit.errors import EvalkitError


class _Undrawable:
    """A figure whose drawing fails as a user's data can make it fail (an EvalkitError)."""

    def plotly(self, sink):
        raise EvalkitError("this figure cannot be drawn")

    def matplotlib(self):
        raise EvalkitError("this figure cannot be drawn")


def _publish(root):
    from evalkit.monitor import charts
    from evalkit.publish.document import Col
    from evalkit.publish.policy import Policy
    from evalkit.publish.publication import Publication

    pub = Publication(Policy(), project_root=root, out_root=root / "out", setting="--out")
    for i, name in enumerate(["a/index", "b/index", "c/index", "index"]):
        page = pub.page(name, f"Page {name}")
        n = page.count(40 + i, role="headline", label=f"referred {name}")
        page.para("Referred: {n}.", n=n)
        page.table(["", "referred"], [[Col("all"), Col(n, "n", numeric=True)]], table_id=f"ek-t{i}")
        page.figure(_Undrawable() if name == "b/index" else charts.BarSpec("Referred", ["all"], [n]))
    logged = []
    out = pub.publish(log=logged.append)
    files = {str(p.relative_to(root / "out")): p.read_bytes() for p in sorted((root / "out").rglob("*")) if p.is_file()}
    return out, logged, files


def test_pages_published_in_two_processes_are_the_serial_ones(tmp_path, monkeypatch):
    from evalkit import _parallel

    calls = []
    real = _parallel.fork_map
    monkeypatch.setattr(_parallel, "fork_map",
                        lambda fn, items, **kw: calls.append((len(items), _parallel.processes())) or real(fn, items, **kw))
    out2, log2, files2 = _publish(tmp_path / "two")
    monkeypatch.setenv(_parallel.PROCESSES_ENV, "1")
    out1, log1, files1 = _publish(tmp_path / "one")
    assert calls == [(4, 2), (4, 1)]  # the four pages: two processes, then one
    # the page the helper could not draw failed there as here, the others were published
    assert out2.failed == out1.failed == {"b/index": "this figure cannot be drawn"}
    assert log2 == log1 == ["b/index: FAILED: this figure cannot be drawn"]
    assert sorted(out2.pages) == sorted(out1.pages) == ["a/index", "c/index", "index"]
    assert files2.keys() == files1.keys() and "c/index.html" in files2 and "_evalkit/plotly.min.js" in files2
    assert files2 == files1  # byte for byte


def test_pdf_pages_rendered_by_a_helper_after_this_process_has_rendered_a_pdf(tmp_path):
    # typst's compiler keeps a thread pool; a helper forked after this process compiled once
    # inherited a pool without threads and waited forever (it hung the suite). In a fresh
    # interpreter with a time limit, so a hang fails the test instead of the run
    import os
    import subprocess
    import sys

    code = """
import sys
from pathlib import Path
from evalkit import _parallel
from evalkit.publish.render import render_pdf
d = Path(sys.argv[1])
for i in range(4):
    (d / f"p{i}.qmd").write_text(f"---\\ntitle: Page {i}\\n---\\n\\nText {i}.\\n")
render_pdf(d / "p0.qmd", d / "first.pdf")
made = _parallel.fork_map(lambda i: render_pdf(d / f"p{i}.qmd", d / f"p{i}.pdf").read_bytes()[:5], range(4),
                          queue=True)
print(made)
"""
    try:
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "EVALKIT_PROCESSES": "2"})
    except subprocess.TimeoutExpired:
        raise AssertionError("rendering PDFs in a helper hung") from None
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str([b"%PDF-"] * 4)
