"""Evidence strength: EIF levels for interventions, quality checks for studies, the portfolio.

The verbs, the same from Python and from ``evalkit rate`` / ``evalkit compare``:

- :func:`assess_study` (one ResultSet + what its plan says -> design class, SMS level, checks);
- :func:`rate_results` (ResultSets passed in -> one :class:`ProgrammeRating` per intervention);
- :func:`rate_project` (a project folder -> ratings, reading or running each plan's results): it lives
  in :mod:`evalkit.api`, the layer that may run plans (evidence reads results and specs, never ``run``),
  and is forwarded here for ``from evalkit.evidence import rate_project``;
- :func:`build_portfolio` / :func:`write_portfolio` (ratings -> ``evalkit.portfolio/v1``);
- :func:`load_rules` (the versioned rules file, ``rules.yml``).

Imports are lazy: the CLI imports this package on every call.
"""

from __future__ import annotations

_EXPORTS = {
    "assess_study": "evalkit.evidence.assess", "StudyContext": "evalkit.evidence.assess",
    "IndicatorFacts": "evalkit.evidence.assess", "context_from_plan": "evalkit.evidence.assess",
    "rate_results": "evalkit.evidence.rate", "rate_programme": "evalkit.evidence.rate",
    "ProgrammeRating": "evalkit.evidence.rate",
    "rate_project": "evalkit.api", "build_portfolio": "evalkit.evidence.portfolio",
    "write_portfolio": "evalkit.evidence.portfolio",
    "pathway_position": "evalkit.evidence.pathway",
    "load_rules": "evalkit.evidence.rules", "EvidenceError": "evalkit.evidence.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'evalkit.evidence' has no attribute {name!r}")
