"""The publishing layer: every page, figure and export evalkit publishes goes through here.

One publication (``Publication``) holds pages and exports that share one ledger of counts
(:mod:`evalkit.publish.ledger`); ``evalkit report`` publishes the reports and the portfolio page as
one, ``evalkit monitor dashboard`` the dashboard and its data export. Publishing is four steps:

1. **Declare** every count as a typed value and say how counts are linked::

       pub = Publication(project_policy(root), project_root=root, out_root=root / "reports",
                         setting="reports folder")
       page = pub.page("reach-2023-matched/index", "Reach: matched comparison", formats=("html", "typst"))
       cohort = page.count(255, role="headline", label="in the data")     # a Count
       matched = page.count(254, role="headline", label="matched")
       lost = page.count(1, role="detail", label="not matched")
       page.ledger.sum(cohort, [matched, lost])                            # cohort = matched + lost

   Derived values carry the counts they reveal: ``Share(num, den)`` (a percentage),
   ``Rate(count, value)``, ``Stat(value, of=[counts])`` (a mean, an estimate, an interval: hidden
   when its group is small), ``Derived(value, [values])``; prose is written from them with
   ``phrase("{lost} of {pool} have no match", lost=lost, pool=cohort)``. Text written by other
   code (an evidence note, an old warning) goes in through ``page.untrusted_para(text)`` (or
   ``untrusted_col`` / ``untrusted_item``): its numbers that read as counts become counts too.

2. **Add blocks**: adding a tile, a table or a figure is one call with typed values::

       page.add(Tiles([Tile(value, above=["VIP", "Referrals"], below=["target 30"], rag="amber")]))
       page.table(["group", "n"], [[Col("A"), Col(count_a, "n")]], table_id="ek-groups")
       page.figure(spec, caption="...")   # spec.plotly(sink) -> plotly figure; spec.matplotlib() -> static

   A figure spec draws ``value.plot()`` (``None`` when hidden: no bar, no marker at its true
   height) and puts ``markup.plot_meta(values, sink)`` on each trace of counts, so the scan can
   check it; a hidden tile has no RAG colour and no status word (``Tiles`` does this).

3. **Solve** (``Publication.solve``, done by ``publish``): primary suppression by the project's
   policy (``suppress``: counts 1 to threshold-1 hidden; ``round``: HES/ECDS style, 1 to 7 hidden
   and the rest rounded to 5), then complementary suppression until the audit
   (:mod:`evalkit.publish.audit`) finds no hidden count a reader could pin to one value from the
   linked tables: totals and parts, year-ending totals and months, flow stages, percentages and
   their denominators, rates, the same count on another page.

4. **Publish** (``Publication.publish``): each page is written as a ``.qmd`` holding only its
   published values (:mod:`evalkit.publish.document`, jinja2 templates), rendered by Quarto when
   on PATH or by Pandoc/Typst (:mod:`evalkit.publish.render`; settings passed explicitly), scanned
   (:mod:`evalkit.publish.scan`: HTML text, SVG, plotly data, tiles, PDF text, exports, and the
   linked-table arithmetic rebuilt from the page alone), and only then moved into place
   atomically (:mod:`evalkit.publish.atomic`); a failed, killed or disk-full run leaves the
   previous page or nothing. Analysts' exports (not for publication) use
   :func:`evalkit.publish.export.write_table`, which neutralises spreadsheet formulas.

The project's setting lives in ``evalkit.yml`` (``disclosure: {policy, threshold, round_to}``;
see :mod:`evalkit.publish.policy`); ``docs/publishing.md`` says how each output chooses.
"""

from evalkit.publish.document import Col, Tile, Tiles
from evalkit.publish.policy import DisclosureError, Policy, PolicyKind, project_policy
from evalkit.publish.publication import Publication
from evalkit.publish.values import Count, Derived, Fixed, Phrase, Rate, Share, Stat, phrase

__all__ = ["Col", "Count", "Derived", "DisclosureError", "Fixed", "Phrase", "Policy", "PolicyKind", "Publication",
           "Rate", "Share", "Stat", "Tile", "Tiles", "phrase", "project_policy"]
