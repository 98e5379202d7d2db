"""``quals annotate build|serve|export``: a local pairwise human-evaluation study.

- ``build A.jsonl B.jsonl -o study.jsonl``: sample N ids present in both systems' summary files;
- ``serve study.jsonl``: make the study database on the first run (``--annotators``, ``--per-item``,
  ``--seed``), print each annotator's personal link, and serve the annotation page until Ctrl-C;
  later runs reopen the database and print the same links;
- ``export study.jsonl -o DIR``: Markdown + JSON statistics, the bar chart and every judgment.

The database defaults to the study file with the suffix ``.sqlite``. A study built with
``--no-embed-documents`` holds only the documents' hashes: ``serve`` and ``export`` take
``--documents`` (the test file it was built from) and join the texts back from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quals.cli.config_flags import add_config_flags, config_from_args
from quals.cli.runtime import add_overwrite_flag

HELP = "Pairwise human evaluation of two systems' summaries: build a study, serve it locally, export results."


def register(parser: argparse.ArgumentParser) -> None:
    from quals.annotate.app import DEFAULT_HOST, DEFAULT_PORT
    from quals.annotate.build import BuildConfig

    sub = parser.add_subparsers(dest="annotate_command", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="Make a study file from two systems' summary files.",
                           description="Make a study file from two systems' summary files (JSONL, as written by "
                                       "quals summarize), joined on id; samples --n-items ids with --seed.")
    build.add_argument("summaries_a", type=Path, help="JSONL summaries of system A (the baseline).")
    build.add_argument("summaries_b", type=Path, help="JSONL summaries of system B (compared against A).")
    build.add_argument("-o", "--output", type=Path, required=True, help="Study file to write (JSONL).")
    build.add_argument("--documents", type=Path, default=None,
                       help="The test file both systems summarized (JSONL, id and document fields): documents "
                            "are joined from it on id (quals summarize writes none into summary files).")
    add_config_flags(build, BuildConfig)
    build.add_argument("--name-a", default=None, help="Name of system A (default: its file name without extensions).")
    build.add_argument("--name-b", default=None, help="Name of system B (default: its file name without extensions).")
    add_overwrite_flag(build, "Replace an existing study file.")

    serve = sub.add_parser("serve", help="Serve the annotation page locally and print the annotators' links.",
                           description="Serve the annotation page of STUDY. The first run creates the database "
                                       "with the design flags; later runs reopen it (and resume).")
    serve.add_argument("study", type=Path, help="Study file (JSONL, from quals annotate build).")
    serve.add_argument("--db", type=Path, default=None, help="SQLite database (default: STUDY with suffix .sqlite).")
    _add_documents_flags(serve)
    design = serve.add_argument_group("design (used when the database is created; later runs must agree)")
    design.add_argument("--annotators", type=int, default=None,
                        help="Annotators, one personal link each (default: 3).")
    design.add_argument("--per-item", type=int, default=None,
                        help="Annotators who judge each item; 2 or more to measure agreement "
                             "(default: 3, or --annotators when fewer).")
    design.add_argument("--seed", type=int, default=None,
                        help="Seed of the assignment, item order and left/right order (default: 0).")
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"Address to listen on (default: {DEFAULT_HOST}, this machine only).")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"Port to listen on; 0 picks a free one (default: {DEFAULT_PORT}).")

    export = sub.add_parser("export", help="Write the study's statistics, chart and judgments.",
                            description="Per attribute: shares of B better / equal / worse than A, a two-sided "
                                        "sign test and Krippendorff's alpha; as Markdown, JSON and a bar chart.")
    export.add_argument("study", type=Path, help="Study file (JSONL).")
    export.add_argument("--db", type=Path, default=None, help="SQLite database (default: STUDY with suffix .sqlite).")
    _add_documents_flags(export)
    export.add_argument("-o", "--output", type=Path, required=True,
                        help="Directory for human-eval.md/.json/.png/.svg and judgments.jsonl (created if missing).")


def _add_documents_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("documents of a study built with --no-embed-documents")
    group.add_argument("--documents", type=Path, default=None,
                       help="The test file the study was built from (JSONL or .jsonl.gz); each document is checked "
                            "against the hash in the study.")
    group.add_argument("--id-field", default="id", help="Field with the row id in --documents (default: id).")
    group.add_argument("--document-field", default="document",
                       help="Field with the document in --documents (default: document).")


def _read_study(args: argparse.Namespace):
    from quals.annotate import read_study

    return read_study(args.study, args.documents, id_field=args.id_field, document_field=args.document_field)


def run(args: argparse.Namespace) -> int:
    return {"build": _build, "serve": _serve, "export": _export}[args.annotate_command](args)


def default_db(study: Path) -> Path:
    """Where a study's database lives unless ``--db`` says otherwise."""
    return study.with_suffix(".sqlite")


def _build(args: argparse.Namespace) -> int:
    from quals.annotate import BuildConfig, build_study, write_study

    config = config_from_args(BuildConfig, args)
    if args.output.exists() and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; pass --overwrite to replace it")
    study = build_study(args.summaries_a, args.summaries_b, args.name_a, args.name_b, config, documents=args.documents)
    write_study(study, args.output, overwrite=args.overwrite)
    kept = "document hashes only: serve and export need --documents" if study.detached else "documents included"
    print(f"{len(study.items)} items, {study.system_a} (A) vs {study.system_b} (B), {kept} -> {args.output}",
          file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from quals.annotate import AssignmentConfig, StudyStore
    from quals.annotate.app import annotator_links, make_server

    study = _read_study(args)
    db = args.db or default_db(args.study)
    if db.exists():
        store = StudyStore.open(db, study)
        given = {"--annotators": (args.annotators, store.config.annotators),
                 "--per-item": (args.per_item, store.config.per_item), "--seed": (args.seed, store.config.seed)}
        clash = [f"{flag} {value} (database: {stored})" for flag, (value, stored) in given.items()
                 if value is not None and value != stored]
        if clash:
            raise ValueError(f"{db} was created with another design: {', '.join(clash)}; drop the flags to resume, "
                             "or give a new --db for a new study")
    else:
        annotators = 3 if args.annotators is None else args.annotators
        per_item = min(3, annotators) if args.per_item is None else args.per_item
        config = AssignmentConfig(annotators=annotators, per_item=per_item, seed=args.seed or 0)
        store = StudyStore.create(db, study, config)
    try:
        server = make_server(store, args.host, args.port)
    except OSError as err:
        raise ValueError(f"cannot listen on {args.host}:{args.port} ({err.strerror}); pick another --port") from None
    config = store.config
    lines = [f"Study {args.study}: {len(study.items)} items, A = {study.system_a}, B = {study.system_b} "
             "(annotators see neither name)",
             f"Database {db}: {config.annotators} annotators, {config.per_item} per item, seed {config.seed}",
             "Personal links (a link is its annotator's login: send each one privately):"]
    for annotator, link in annotator_links(store, server.base_url):
        lines.append(f"  {annotator.name}  {annotator.done}/{annotator.assigned} done  {link}")
    lines.append(f"Serving at {server.base_url}; answers are saved as they are given. Ctrl-C stops.")
    print("\n".join(lines), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def _export(args: argparse.Namespace) -> int:
    from quals.annotate import StudyStore, export_study

    study = _read_study(args)
    store = StudyStore.open(args.db or default_db(args.study), study)
    paths = export_study(store, args.output)
    n_done, n_assigned = len(store.judgments()), store.n_assignments()
    print(f"{n_done} of {n_assigned} assigned judgments -> {args.output}", file=sys.stderr)
    for path in paths:
        print(path)
    return 0
