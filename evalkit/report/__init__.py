"""Evaluation reports: Quarto documents written from results, rendered to HTML and PDF.

``evalkit.report.render.render_html(qmd, out_html)`` renders any ``.qmd`` to one
self-contained HTML file (Quarto when on PATH, otherwise Pandoc); ``evalkit.report.write``
writes a report's ``index.qmd`` from an evaluation's ``results.json``. Nothing here is
imported by estimation, evidence or the store.
"""
