"""Dashboard layout headings degrade cleanly in the Pandoc path."""

from __future__ import annotations

from evalkit.publish.render import RenderSettings, render

BODY = "\n# Page\n\n## Row\n\nFirst row text.\n\n## Column\n\nSecond.\n\n## Rowing club\n\nKept.\n"


def test_row_and_column_headings_are_layout_in_a_dashboard(tmp_path):
    qmd = tmp_path / "d.qmd"
    qmd.write_text("---\ntitle: Dash\nformat: dashboard\n---\n" + BODY)
    page = render(qmd, tmp_path / "d.html", RenderSettings("html", engine="pandoc")).read_text()
    assert ">Row<" not in page and ">Column<" not in page
    assert "First row text." in page and "Rowing club" in page


def test_the_same_headings_stay_in_an_ordinary_document(tmp_path):
    qmd = tmp_path / "r.qmd"
    qmd.write_text("---\ntitle: Report\n---\n" + BODY)
    page = render(qmd, tmp_path / "r.html", RenderSettings("html", engine="pandoc")).read_text()
    assert ">Row<" in page and ">Column<" in page


def test_a_figure_with_nothing_to_draw_and_a_malformed_rule_do_not_crash(tmp_path):
    from evalkit.publish.document import Figure, Writer
    from evalkit.publish.markup import Sink
    from evalkit.report import wording

    class Empty:
        def plotly(self, sink):
            return None

        def matplotlib(self):
            return None

    for fmt in ("html", "typst"):
        assert "nothing to draw" in Figure(Empty()).markdown(Writer(fmt, Sink(), tmp_path, "a"))
    assert wording.rule_from_context({"significance": True}) == wording.default_rule()
