"""The value-for-money package's error: a costs block, a unit-cost table, a deflator series or a
request that cannot give an honest answer (a year the series does not cover, an offence the table
does not price, an effect without an interval...)."""

from __future__ import annotations

from evalkit.errors import EvalkitError


class VfmError(EvalkitError):
    """A value-for-money input or request is not usable as given; the message says what to fix."""
