"""The aggregation study of docs/agreement.md, from finished ``quals meta-eval`` folders.

    python reproduce/aggregation_sweep.py RUN_DIR --bench ../shared/data/bench -o docs/results/agreement

RUN_DIR holds the QUALS score files of the protocol (``scores/qags_cnndm/quals.jsonl``,
``scores/qags_xsum/quals.jsonl``, ``scores/frank/quals.valid200.jsonl``) and, where present, the
baselines' (``lexical*.jsonl``, ``likelihood*.jsonl``). Writes ``sweep.md`` (every setting, best
first, the decision rule's outcome, the baselines on the same rows), ``sweep.json`` and
``sweep.png``. With ``--confirm SETTING`` it instead reports the held-out FRANK test rows
(``scores/frank/quals.test400.jsonl``) for that setting, the reference and the baselines.
With ``--against OTHER_RUN`` (another QAGen's run of the same protocol) it also writes
``against.md``: the setting the rule picks here against OTHER_RUN's paper aggregation, per dev set
and on the criterion, with paired intervals, and the outcome of the QAGen switch rule of
docs/agreement.md (on the dev sets; with ``--confirm``, on FRANK test). With ``--rows`` it also writes
``rows.jsonl.gz``: every dev row's score under the chosen setting and the paper's aggregation, small
enough to commit, so that later comparisons (another metric, another run) can be paired on the same
rows without scoring them again (with ``--confirm``: ``confirm_rows.jsonl.gz``, the held-out rows).
``--compare NAME=FILE.jsonl.gz`` adds another metric's committed per-row scores to the baselines.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from quals.data.benchmarks import benchmark_files, read_benchmark
from quals.evaluation.metaeval import read_values
from quals.evaluation.sweep import (
    PAPER_AGGREGATION,
    SWITCH_RULES,
    DevSet,
    aggregation_grid,
    choose,
    compare_runs,
    compare_with,
    read_row_scores,
    sweep,
    switch,
    write_row_scores,
)

DEV = {  # dataset -> (score file under scores/<dataset>/, split, partial by system)
    "qags_cnndm": ("quals.jsonl", "test", False),
    "qags_xsum": ("quals.jsonl", "test", False),
    "frank": ("quals.valid200.jsonl", "valid", True),
}
CONFIRM = {"frank": ("quals.test400.jsonl", "test", True)}
BASELINES = {"overlap": "lexical", "rouge1": "lexical", "rouge2": "lexical", "rougeL": "lexical",
             "loglik": "likelihood", "pmi": "likelihood"}


def load_sets(run: Path, bench: Path, which: dict) -> list[DevSet]:
    rows = {}
    for path in benchmark_files([bench]):
        for row in read_benchmark(path):
            rows[(row.dataset, row.id)] = row
    sets = []
    for dataset, (name, split, partial) in which.items():
        path = run / "scores" / dataset / name
        text = path.read_text(encoding="utf-8")
        records = tuple(json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n"))
        members = [rows[(dataset, r["id"])] for r in records if rows[(dataset, r["id"])].split == split]
        human = {m.id: m.score for m in members}
        systems = {m.id: m.model_name or "" for m in members} if partial else None
        sets.append(DevSet(f"{dataset}/{split}", tuple(r for r in records if r["id"] in human), human, systems))
    return sets


def baseline_values(run: Path, dataset: str) -> dict[str, dict[str, float | None]]:
    out = {}
    for metric, scorer in BASELINES.items():
        files = [f for f in sorted((run / "scores" / dataset).glob(f"{scorer}*.jsonl"))
                 if json.loads(Path(f"{f}.run.json").read_text()).get("complete")]  # finished runs only
        if files:
            out[metric] = {}
            for path in files:
                out[metric].update({i: v.value for i, v in read_values(path, metric).items()})
    return out


def committed_values(specs: list[str]) -> dict[str, dict[str, dict[str, float | None]]]:
    """``NAME=FILE.jsonl.gz`` per-row scores of other metrics (``read_row_scores``), merged."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"--compare takes NAME=FILE, got {spec!r}")
        for dataset, metrics in read_row_scores(path, name).items():
            out.setdefault(dataset, {}).update(metrics)
    return out


def _baseline_lines(run: Path, sets: list[DevSet], setting, seed: int,
                    others: dict[str, dict[str, dict[str, float | None]]] | None = None) -> list[str]:
    lines = ["| set | metric | rows | its statistic | QUALS setting's | difference [paired 95% CI] |",
             "|---|---|---:|---:|---:|---|"]
    for dev in sets:
        dataset = dev.name.split("/")[0]
        for metric, values in {**baseline_values(run, dataset), **(others or {}).get(dataset, {})}.items():
            if sum(values.get(r["id"]) is not None for r in dev.scored()) < 3:
                continue  # this baseline was run on other rows of the dataset (e.g. test only)
            c = compare_with(dev, setting, metric, values, seed=seed)
            lines.append(f"| {dev.name} | {metric} | {c.n} | {c.metric_statistic:.3f} | {c.setting_statistic:.3f} | "
                         f"{c.difference:+.3f} [{c.interval[0]:+.2f}, {c.interval[1]:+.2f}] |")
    return lines


def _answer_type_lines(sets: list[DevSet], bench: Path, settings, seed: int) -> list[str]:
    """``answer_types='entities'`` after the fact, each setting against itself with every answer, on
    the rows both score. The restricted pairs are capped like a fresh run's (the first
    ``max_pairs`` filter rounds among them), which is exact when the scored run's own cap never
    bound (a cap at least the number of groups, as in the study's runs)."""
    from quals.metrics.answer_extraction import AnswerExtractor
    from quals.metrics.reaggregate import reaggregate_record, restrict_answers

    summaries = {}
    for path in benchmark_files([bench]):
        for row in read_benchmark(path):
            summaries[(row.dataset, row.id)] = row.summary
    extractor = AnswerExtractor()
    lines = ["| set | setting | rows scored: any / entities | entities' statistic | any's "
             "| difference [paired 95% CI] |",
             "|---|---|---|---:|---:|---|"]
    for dev in sets:
        dataset = dev.name.split("/")[0]
        records = dev.scored()
        allowed = extractor.answer_kinds([summaries[(dataset, r["id"])] for r in records])
        for setting in settings:
            if setting.max_pairs != 10:
                continue
            entity_values = {r["id"]: reaggregate_record(restrict_answers(r, a), setting.aggregation,
                                                         setting.max_pairs)["score"]
                             for r, a in zip(records, allowed, strict=True)}
            c = compare_with(dev, setting, "entities", entity_values, seed=seed)
            n_entities = sum(v is not None for v in entity_values.values())
            low, high = -c.interval[1], -c.interval[0]
            lines.append(f"| {dev.name} | {setting.name} | {len(records)} / {n_entities} | {c.metric_statistic:.3f} | "
                         f"{c.setting_statistic:.3f} | {-c.difference:+.3f} [{low:+.2f}, {high:+.2f}] |")
    return lines


def _against_lines(sets: list[DevSet], other: list[DevSet], setting, args, *, rule: bool = False) -> list[str]:
    """This run's ``setting`` against the other run's paper aggregation, and with ``rule`` the outcome
    of the switch rule ``args.switch`` (docs/agreement.md; ``quals.evaluation.sweep.switch``)."""
    c = compare_runs(sets, other, setting, PAPER_AGGREGATION, label=args.against_name, seed=args.seed)
    lines = [f"This run at {setting.name} against {args.against_name} at {PAPER_AGGREGATION.name} "
             "(rows both scored; difference = this run minus the other):", "",
             "| set | rows | this run | the other | difference [paired 95% CI] |", "|---|---:|---:|---:|---|"]
    for s in c.by_set:
        lines.append(f"| {s.dataset} | {s.n} | {s.setting_statistic:.3f} | {s.metric_statistic:.3f} | "
                     f"{s.difference:+.3f} [{s.interval[0]:+.2f}, {s.interval[1]:+.2f}] |")
    lines.append(f"| criterion (mean) | | | | {c.difference:+.3f} [{c.interval[0]:+.2f}, {c.interval[1]:+.2f}] |")
    if rule:
        adopt, why = switch(c, args.switch)
        lines += ["", f"{args.switch.capitalize()} switch rule: **{'adopt this run' if adopt else 'keep the other'}**"
                  f" ({why})."]
    return lines


def _plot(rows, path: Path) -> None:
    """Left: every setting's criterion against the paper's aggregation. Right: the token set alone
    (mean, mean, 10 pairs) per dev set, where its effects go opposite ways."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 0.22 * len(rows) + 1.5), width_ratios=(3, 2))
    names = [r.setting.name for r in rows][::-1]
    y = list(range(len(rows)))
    diffs = [r.difference for r in rows][::-1]
    lows = [r.difference - r.interval[0] for r in rows][::-1]
    highs = [r.interval[1] - r.difference for r in rows][::-1]
    ax.errorbar(diffs, y, xerr=[lows, highs], fmt="o", ms=3, color="#1f77b4", ecolor="#9ecae1")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, names, fontsize=7)
    ax.set_xlabel("criterion minus the paper's aggregation (mean dev Spearman), paired 95% CI")
    ax.set_title("QUALS aggregation settings (token set/reduction/over pairs/cap)", fontsize=10)
    by_token = {r.setting.aggregation.token_set: r for r in rows
                if r.setting.max_pairs == 10 and r.setting.aggregation.pair_reduction == "mean"
                and r.setting.aggregation.pair_aggregation == "mean"}
    sets = list(next(iter(by_token.values())).by_set)
    width = 0.8 / len(by_token)
    for k, (token_set, r) in enumerate(by_token.items()):
        bx.bar([i + k * width for i in range(len(sets))], [r.by_set[s] for s in sets], width, label=token_set)
    bx.set_xticks([i + 0.4 - width / 2 for i in range(len(sets))], sets, fontsize=8)
    bx.axhline(0, color="grey", lw=0.8)
    bx.set_ylabel("dev statistic (Spearman; FRANK: partial by system)")
    bx.set_title("Which tokens count (mean, mean, 10 pairs)", fontsize=10)
    bx.legend(title="token set", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--bench", type=Path, default=Path("../shared/data/bench"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--confirm", default=None,
                        help="Setting names, comma-separated, the chosen one first (token_set/reduction/over/cap).")
    parser.add_argument("--against", type=Path, default=None,
                        help="Another QAGen's run folder of the same protocol, compared at its paper aggregation.")
    parser.add_argument("--against-name", default="the other run")
    parser.add_argument("--switch", choices=SWITCH_RULES, default="qagen",
                        help="Rule for --against: qagen (adopt unless worse) or generation (adopt only if the "
                             "paired interval lies above 0).")
    parser.add_argument("--caps", default="5,10", help="Pair caps of the grid, comma-separated (at most the "
                        "scored --max-pairs).")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=FILE.jsonl.gz",
                        help="Another metric's committed per-row scores (dataset, id, score per line), paired with "
                             "the chosen setting like the baselines; repeatable.")
    parser.add_argument("--rows", action="store_true",
                        help="Also write each scored row's value under the chosen setting and the paper's: "
                             "rows.jsonl.gz (dev rows) or, with --confirm, confirm_rows.jsonl.gz (held-out rows).")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    grid = aggregation_grid(caps=[int(c) for c in args.caps.split(',')])
    if args.confirm:
        by_name = {s.name: s for s in grid}
        chosen = [by_name[name] for name in args.confirm.split(",")]
        setting = chosen[0]
        sets = load_sets(args.run, args.bench, CONFIRM)
        rows = sweep(sets, list(dict.fromkeys([*chosen, PAPER_AGGREGATION])), seed=args.seed)
        lines = ["| setting | " + " | ".join(f"{d.name} {d.statistic} (n={len(d.scored())})" for d in sets)
                 + " | difference to all/mean/mean/10 [paired 95% CI] |", "|---|---:|---|"]
        for r in rows:
            lines.append(f"| {r.setting.name} | " + " | ".join(f"{v:.3f}" for v in r.by_set.values())
                         + f" | {r.difference:+.3f} [{r.interval[0]:+.2f}, {r.interval[1]:+.2f}] |")
        lines += ["", f"Baselines on the same rows (difference = {setting.name} minus the baseline):", "",
                  *_baseline_lines(args.run, sets, setting, args.seed, committed_values(args.compare))]
        if args.against:
            lines += ["", *_against_lines(sets, load_sets(args.against, args.bench, CONFIRM), setting, args)]
        (args.output / "confirm.md").write_text("\n".join(lines) + "\n")
        if args.rows:  # the held-out rows too, so a later run (e.g. another setting) pairs with them unscored
            write_row_scores(sets, list(dict.fromkeys([*chosen, PAPER_AGGREGATION])),
                             args.output / "confirm_rows.jsonl.gz")
        print("\n".join(lines))
        return
    sets = load_sets(args.run, args.bench, DEV)
    rows = sweep(sets, grid, seed=args.seed)
    winner, why = choose(rows)
    header = ("| setting | " + " | ".join(f"{d.name} ({d.statistic}, n={len(d.scored())})" for d in sets)
              + " | criterion | difference to all/mean/mean/10 [paired 95% CI] |")
    lines = [header, "|---|" + "---:|" * (len(sets) + 1) + "---|"]
    for r in rows:
        mark = "**" if r.setting == winner.setting else ""
        lines.append(f"| {mark}{r.setting.name}{mark} | " + " | ".join(f"{v:.3f}" for v in r.by_set.values())
                     + f" | {r.criterion:.3f} | {r.difference:+.3f} [{r.interval[0]:+.2f}, {r.interval[1]:+.2f}] |")
    lines += ["", f"Decision: **{winner.setting.name}**. {why}.", "",
              "Baselines on the same rows (difference = the chosen setting minus the baseline):", "",
              *_baseline_lines(args.run, sets, winner.setting, args.seed, committed_values(args.compare)), "",
              "Answers restricted to named entities, noun chunks and numbers (difference = entities minus any):", "",
              *_answer_type_lines(sets, args.bench, list(dict.fromkeys([winner.setting, PAPER_AGGREGATION])),
                                  args.seed)]
    (args.output / "sweep.md").write_text("\n".join(lines) + "\n")
    if args.against:
        against = _against_lines(sets, load_sets(args.against, args.bench, DEV), winner.setting, args, rule=True)
        (args.output / "against.md").write_text("\n".join(against) + "\n")
        print("\n".join(against))
    (args.output / "sweep.json").write_text(json.dumps(
        {"decision": {"setting": winner.setting.name, "why": why},
         "rows": [{"setting": r.setting.name, "aggregation": asdict(r.setting.aggregation),
                   "max_pairs": r.setting.max_pairs, "by_set": r.by_set, "criterion": r.criterion,
                   "difference": r.difference, "interval": list(r.interval)} for r in rows]}, indent=1) + "\n")
    _plot(rows, args.output / "sweep.png")
    if args.rows:
        write_row_scores(sets, list(dict.fromkeys([winner.setting, PAPER_AGGREGATION])), args.output / "rows.jsonl.gz")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
