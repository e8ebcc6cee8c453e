"""Evaluation reports: Quarto documents written from results, rendered to HTML and PDF.

Verbs
-----
``evalkit report [EVALUATION ...] [--pdf] [--min-count K]`` (``evalkit.report.commands``):
for each evaluation with ``reports/<id>/results.json`` it writes ``reports/<id>/context.json``
and ``reports/<id>/index.qmd`` (:mod:`evalkit.report.write`), renders ``index.html`` (and
``index.pdf``), checks every rendered page for small counts, then writes the portfolio page and
index ``reports/index.qmd`` -> ``reports/index.html``.

``evalkit.report.render.render_html(qmd_path, out_html) -> Path`` renders any ``.qmd`` to one
self-contained HTML file (Quarto when ``quarto`` is on PATH, otherwise Pandoc from the
``pypandoc-binary`` wheel); ``render_pdf`` renders through Typst. Other packages (the monitoring
dashboard) call ``render_html``; its signature is stable. See :mod:`evalkit.report.render` for
the Quarto features the Pandoc path understands.

What reads what
---------------
- ``index.qmd`` holds no numbers: its chunks call :mod:`evalkit.report.sections` on
  ``results.json`` (the versioned results) and ``context.json`` (labels, logic model, evaluator,
  disclosure threshold, the programme's EIF rating copied from ``reports/portfolio.json`` when
  ``evalkit compare`` has written it). Nothing under ``private/`` is ever read.
- Words come from :mod:`evalkit.report.wording` only (significance from the CI at the
  estimate's own level, null 0 or 1, the indicator's good direction), so the summary, the
  table's "significant"/"reading" columns and the forest plot colours cannot disagree.
- Small counts are suppressed by :mod:`evalkit.report.disclosure` (primary and secondary, the
  same count hidden wherever it appears) and every rendered page is scanned; a slip fails the
  render with ``DisclosureError``.
- Figures: :mod:`evalkit.plots` (plotly for HTML, matplotlib for PDF, from the same rows); the
  logic model is Mermaid (drawn by Quarto, or as SVG by :mod:`evalkit.report.mermaid`); the
  participant flow is an SVG from :mod:`evalkit.plots.flow`.
- Text from data or YAML is escaped everywhere (Markdown, HTML, SVG, plotly labels); the
  Pandoc path also reads Markdown without raw HTML.

Nothing here is imported by estimation, evidence or the store.
"""
