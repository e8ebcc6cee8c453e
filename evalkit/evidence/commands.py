"""``evalkit rate`` and ``evalkit compare``: thin calls of the rating verbs.

Imported on every ``evalkit`` call, so nothing heavy at module level.
"""

from __future__ import annotations

from pathlib import Path

SORT_KEYS = ("level", "name", "step", "studies", "reach")


def register(subparsers, add_common) -> dict:
    p = subparsers.add_parser(
        "rate", help="EIF evidence level of each intervention, with its explanation",
        description="Rate each intervention's evidence (EIF levels NL2, 2, 3, 4, '+' and the NE flag) from its "
                    "studies' results, and explain each rating: which study, which checks, why not the next "
                    "level, and which rules are EIF's and which are toolkit defaults. Reads "
                    ".evalkit/results/<evaluation>/results.json, running a plan in memory when its results are missing "
                    "or out of date.")
    p.add_argument("interventions", nargs="*", metavar="INTERVENTION", help="intervention ids (default: all)")
    p.add_argument("--rules", metavar="FILE", default=None, help="a rules file (default: evalkit's rules.yml)")
    p.add_argument("--no-run", action="store_true", help="use saved results only; never run a plan")
    p.add_argument("--checks", action="store_true", help="also list every study's checks")
    add_common(p)

    p = subparsers.add_parser(
        "compare", help="the portfolio: every intervention's level, pathway step, reach and effect",
        description="Print the portfolio table (one row per intervention: EIF level, NE, pathway step, studies, "
                    "reach, headline effect on the primary outcome with its CI, YEF rating of the approach) and "
                    "write it to .evalkit/results/portfolio.json (schema evalkit.portfolio/v1; owner-only, not "
                    "for upload: `evalkit report` publishes the portfolio page from it).")
    p.add_argument("--sort", default="level", choices=SORT_KEYS, help="row order (default: level)")
    p.add_argument("--out", metavar="FILE", default=None, help="portfolio file (default: PROJECT/.evalkit/results/portfolio.json; not under reports/)")
    p.add_argument("--rules", metavar="FILE", default=None, help="a rules file (default: evalkit's rules.yml)")
    p.add_argument("--no-run", action="store_true", help="use saved results only; never run a plan")
    add_common(p)
    return {"rate": cmd_rate, "compare": cmd_compare}


def _project(args):
    return Path(args.project) if getattr(args, "project", None) else None


def _rated(args, only=()):
    from evalkit.console import output, progress
    from evalkit.api import rate_project
    from evalkit.evidence.rules import load_rules

    out = output(args)
    rules = load_rules(args.rules)
    with progress(out, None, "rating (plans without current results are run)"):
        ratings, notes, project = rate_project(_project(args), rules=rules, run_missing=not args.no_run, only=only)
    for note in notes:
        out.note(f"note: {note}")
    return rules, ratings, project


def cmd_rate(args) -> int:
    from evalkit.console import output
    from evalkit.evidence.portfolio import portfolio_json, sort_ratings
    from evalkit.evidence.text import rating_text

    rules, ratings, _project_ = _rated(args, tuple(args.interventions))
    ratings = sort_ratings(ratings, "level")
    if getattr(args, "json", False):
        from evalkit.results import _plain

        print(portfolio_json({"schema": "evalkit.ratings/v1", "rules_version": rules.version,
                              "ratings": _plain([r.to_dict() for r in ratings])}), end="")
        return 0
    output(args).say("\n\n".join(rating_text(r, checks=args.checks) for r in ratings))
    return 0


def cmd_compare(args) -> int:
    from evalkit.console import output
    from evalkit.evidence.portfolio import build_portfolio, portfolio_json, write_portfolio
    from evalkit.evidence.text import portfolio_table

    import os

    from evalkit.project import results_path
    from evalkit.run import check_out_folder

    rules, ratings, project = _rated(args)
    from evalkit.vfm.portfolio import add_value_for_money

    portfolio = build_portfolio(ratings, rules, sort=args.sort)
    # value for money beside the level: costs from the logic models, the headline study's results
    portfolio = add_value_for_money(portfolio, project, lambda e: results_path(project.root, e))
    if args.out:
        check_out_folder(project.root, Path(args.out).parent)
    out = Path(args.out) if args.out else results_path(project.root, None, "portfolio.json", create=True)
    write_portfolio(portfolio, out)
    os.chmod(out, 0o600)  # unsuppressed reach and counts: the analyst's, like results.json
    if getattr(args, "json", False):
        print(portfolio_json(portfolio), end="")
    else:
        output(args).say(portfolio_table(portfolio) + f"\n\nwrote {out}")
    return 0
