"""Realistic synthetic data for the example project, seeded and deterministic.

Each generator makes one data file and says what its columns mean and which true effects
were built into it, so that tests can check estimators recover them. See :mod:`.datasets`.
"""

from evalkit.synth.writer import SynthReport, synthesise  # noqa: F401
