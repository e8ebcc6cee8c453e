"""Outcomes monitoring: declared sources, atomic ingest, indicators against targets, the success
measures and the needs-assessment profile, dashboard.

The verbs: :func:`evalkit.monitor.ingest.ingest`, :func:`evalkit.monitor.indicators.compute_indicators`,
:func:`evalkit.monitor.measures.compute_success_measures` and
:func:`evalkit.monitor.measures.export_its_data`, :func:`evalkit.monitor.status.status`,
:func:`evalkit.monitor.dashboard.write_dashboard`. Each is what one ``evalkit monitor`` command
calls. What counts (the local serious violence definition, the Home Office measures) is data:
:mod:`evalkit.monitor.definitions`. Nothing heavy is imported at package level.
"""
