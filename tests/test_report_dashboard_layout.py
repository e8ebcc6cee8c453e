"""Dashboard layout headings degrade cleanly in the Pandoc path."""

from __future__ import annotations

from evalkit.report.render import render_html

BODY = "\n# Page\n\n## Row\n\nFirst row text.\n\n## Column\n\nSecond.\n\n## Rowing club\n\nKept.\n"


def test_row_and_column_headings_are_layout_in_a_dashboard(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # make sure the Pandoc path is used, not a quarto on PATH
    qmd = tmp_path / "d.qmd"
    qmd.write_text("---\ntitle: Dash\nformat: dashboard\n---\n" + BODY)
    page = render_html(qmd, tmp_path / "d.html").read_text()
    assert ">Row<" not in page and ">Column<" not in page
    assert "First row text." in page and "Rowing club" in page


def test_the_same_headings_stay_in_an_ordinary_document(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    qmd = tmp_path / "r.qmd"
    qmd.write_text("---\ntitle: Report\n---\n" + BODY)
    page = render_html(qmd, tmp_path / "r.html").read_text()
    assert ">Row<" in page and ">Column<" in page


def test_a_figure_with_no_builder_and_a_malformed_rule_do_not_crash(monkeypatch):
    from evalkit.report import figures, wording

    monkeypatch.setenv("EVALKIT_REPORT_TO", "html")
    assert "No figure" in figures.emit(None, None)
    assert wording.rule_from_context({"significance": True}) == wording.default_rule()
