"""Outcomes monitoring: declared sources, atomic ingest, indicators against targets, dashboard.

The verbs: :func:`evalkit.monitor.ingest.ingest`, :func:`evalkit.monitor.indicators.compute_indicators`,
:func:`evalkit.monitor.status.status`, :func:`evalkit.monitor.dashboard.write_dashboard`. Each is
what one ``evalkit monitor`` command calls. Nothing heavy is imported at package level.
"""
