"""``evalkit init`` and ``evalkit new``: a CLI plug-in (imports nothing heavy at module level)."""

from __future__ import annotations

from pathlib import Path

from evalkit.spec.design_list import design_names

# the designs a plan can have (the registry's list, which imports nothing, so `--help` imports no pydantic)
DESIGNS = design_names()


def register(subparsers, add_common) -> dict:
    p = subparsers.add_parser(
        "init", help="start a new project: an example intervention, plans for every design, data, monitoring",
        description="Write a starter project into DIR (default: the current folder): logic_models/, evaluations/ "
                    "with a plan for each design and a little made-up data, monitoring/ with a source and example "
                    "extracts, reports/, _quarto.yml, the JSON Schemas with editor settings, a README. It validates "
                    "with no warning and every command runs on it. No file already there is replaced.")
    p.add_argument("dir", nargs="?", default=None, metavar="DIR", help="the new project's folder (default: .)")
    p.add_argument("--title", default=None, help="the project's name, for the README and the site")
    add_common(p)

    p = subparsers.add_parser(
        "new", help="write a skeleton logic model or evaluation plan into the project",
        description="Write a skeleton with every required key, the valid choices as comments and <placeholders> "
                    "where your words and column names go; `evalkit validate` lists the placeholders left.")
    sub = p.add_subparsers(dest="new_kind", metavar="KIND")
    sub.required = True
    q = sub.add_parser("logic-model", help="logic_models/ID.yml: theory of change and indicators")
    q.add_argument("id", metavar="ID", help="the intervention's id, e.g. knife-crime")
    q.add_argument("--force", action="store_true", help="replace the file if it exists")
    add_common(q)
    q = sub.add_parser("evaluation", help="evaluations/ID.yml: one study of one intervention")
    q.add_argument("id", metavar="ID", help="the plan's id, e.g. knife-crime-2025-prepost")
    q.add_argument("--design", required=True, choices=DESIGNS, help="the study design")
    q.add_argument("--intervention", required=True, metavar="ID",
                   help="the logic model it evaluates (its indicator ids are used when it is in the project)")
    q.add_argument("--outcomes", metavar="IDS", default=None,
                   help="indicator ids to measure, comma-separated, the primary outcome first "
                        "(default: one of the logic model's outcome indicators)")
    q.add_argument("--force", action="store_true", help="replace the file if it exists")
    add_common(q)
    return {"init": cmd_init, "new": cmd_new}


def cmd_init(args) -> int:
    from evalkit.console import output, progress
    from evalkit.scaffold.project import init_project

    out = output(args)
    target = args.dir or getattr(args, "project", None)
    with progress(out, None, "writing the starter project"):
        written = init_project(target, title=args.title)
    root = written.root
    out.say(f"wrote {len(written.files)} files into {root}")
    out.say(f"next: cd {root} && evalkit validate && evalkit run   (see {root / 'README.md'})")
    out.result({"root": str(root), "files": [str(p.relative_to(root)) for p in written.files]})
    return 0


def cmd_new(args) -> int:
    from evalkit.console import output
    from evalkit.scaffold.project import new_evaluation, new_logic_model

    out = output(args)
    project = Path(args.project) if getattr(args, "project", None) else None
    known = True
    if args.new_kind == "logic-model":
        path = new_logic_model(args.id, project, force=args.force)
    else:
        outcomes = [o.strip() for o in args.outcomes.split(",") if o.strip()] if args.outcomes else None
        path, known = new_evaluation(args.id, args.design, args.intervention, project, outcomes=outcomes,
                                     force=args.force)
    out.say(f"wrote {path}")
    if not known:
        out.note(f"note: no valid logic model '{args.intervention}' in the project yet, so its indicator ids "
                 "are placeholders too")
    out.say("next: write your own values in place of every <...>, then `evalkit validate`")
    out.result({"written": str(path), "intervention_found": known})
    return 0
