"""The evidence package's error: a user mistake in a study record, a rules file or a request."""

from __future__ import annotations

from evalkit.errors import EvalkitError


class EvidenceError(EvalkitError):
    """A study cannot be rated as given (unknown design, impossible follow-up, no effect...)."""
