"""Figures of results: each plot has a plotly builder (interactive HTML) and a matplotlib
builder (static, for PDF) drawn from the same plain rows, so both show the same numbers.

Builders take rows already disclosure-controlled by :mod:`evalkit.publish` (a hidden value is
``None``: no bar, no marker); they compute nothing. A trace of counts carries ``meta`` from
:func:`evalkit.publish.markup.plot_meta` (the cells behind its points) so the page scan can check
it. Heavy libraries are imported inside the functions.
"""

# every plotly figure: white template, the legend in a row under the plot, and room for it
LAYOUT = {"template": "plotly_white", "legend_title_text": "",
          "legend": {"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0},
          "margin": {"l": 10, "r": 10, "t": 30, "b": 100}}


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend: figures are saved into documents, never shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
