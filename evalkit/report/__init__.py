"""Evaluation reports: one page per evaluation, written from its results, and the portfolio page.

Verbs
-----
``evalkit report [EVALUATION ...] [--pdf] [--min-count K] [--allow-stale]``
(``evalkit.report.commands``): for each evaluation with ``.evalkit/results/<id>/results.json`` it checks
the results are current (plan, logic model, data, evidence rules and evalkit unchanged;
:func:`evalkit.run.stale_reasons`), then builds every report and the portfolio page as one
publication of :mod:`evalkit.publish` (:func:`evalkit.report.write.build_reports`) and publishes
``reports/<id>/index.qmd``, ``index.html`` (and ``index.pdf``), ``reports/index.qmd`` and
``reports/index.html``.

What reads what
---------------
- :mod:`evalkit.report.sections` builds a report's blocks from ``results.json`` and the context
  (labels, logic model, evaluator, the programme's EIF rating copied from ``.evalkit/results/portfolio.json``
  when ``evalkit compare`` has written it). Every count is a typed value of the publication's
  ledger and every statistic carries the counts of its group, so no page can show a count its
  table hides; person-level rows (``.evalkit/private/``) are never read.
- Words come from :mod:`evalkit.report.wording` only (significance from the CI at the
  estimate's own level, null 0 or 1, the indicator's good direction), so the summary, the
  table's "significant"/"reading" columns and the forest plot colours cannot disagree.
- Figures: :mod:`evalkit.plots` (plotly for HTML, matplotlib for PDF, from the same typed values);
  the logic model is drawn straight from the model (:mod:`evalkit.plots.logic_model`); the
  participant flow is an SVG from :mod:`evalkit.plots.flow`.
- Text from data or YAML is escaped everywhere (Markdown, HTML, SVG, plotly labels).

Nothing here is imported by estimation, evidence or the store.
"""
