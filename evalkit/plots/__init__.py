"""Figures of results: each plot has a plotly builder (interactive HTML) and a matplotlib
builder (static, for PDF) drawn from the same plain rows, so both show the same numbers.

Builders take rows already formatted and disclosure-checked by :mod:`evalkit.report`; they
compute nothing. Counts are passed as plain lists on traces marked ``meta="ek-counts"`` so the
disclosure scan can read them. Heavy libraries are imported inside the functions.
"""
