"""QUALS against QAGS, side by side in one run: wall time per example by stage, and model work.

Both metrics run on the same examples (default: the first 20 of QAGS-X and the first 20 of QAGS-C),
the same loaded backbone (one ``QAGen`` shared by both scorers), device, dtype, thread count and
batch size, in the same chunks of examples per ``score`` call as ``quals score`` uses
(``--chunk-size``). The two metrics alternate chunk by chunk, so a change in machine load during
the run hits both alike. Nothing is cached: QUALS runs with ``cache_generations=False``.

Stages (wall time, summed over the run, divided by the number of examples):
- QUALS: ``generation`` (diverse beam search of QA pairs from the summary) and ``scoring``
  (teacher-forced log-probs of the kept pairs under document and summary); the answer filter is
  string matching and lands in ``other``.
- QAGS: ``answer extraction`` (spaCy), ``generation`` (answer-conditional beam search),
  ``answering: summary`` (answer-consistency filter; these answers are reused for the score),
  ``answering: document``; ``other`` = token F1 and bookkeeping.

Model work is counted by a thin wrapper around the backbone's ``prefill``/``extend``: every
position the network computes (rows x tokens, padding and finished rows included) and, for
prefill, the real prompt tokens, on every model that runs (the shared backbone, and the QUALS
QAGen / QAGS question generator / QAGS answerer when they are their own models).

Models: by default each metric's own trained components, as a user gets them (issue 19): QUALS the
shipped QAGen, QAGS the shipped question generator and answerer (three LoRA adapters on the same
base). ``--model`` instead makes one backbone do everything (QAGS prompts it), a comparison of the
methods on the same network; ``--quals-model``, ``--qg-model`` and ``--qa-model`` replace single
components. ``--quals-preset paper`` (default) runs QUALS as published (60 groups, no answer
constraint), ``default`` at quals's measured default; QAGS's defaults are the authors' settings.

Run: ``QUALS_CACHE_DIR=/tmp/qcache python benchmarks/quals_vs_qags.py --device cpu``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import torch

from quals import QAGS, QUALS, QAGen
from quals.data.benchmarks import read_benchmark
from quals.provenance import versions

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bench"


class Meter:
    """Wall time and model positions per stage; the innermost active stage gets the tokens."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.positions: dict[tuple[str, str], int] = defaultdict(int)
        self.prompt_tokens: dict[tuple[str, str], int] = defaultdict(int)
        self.metric = "none"
        self.stack: list[str] = []

    @contextmanager
    def stage(self, name: str):
        self.stack.append(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.stack.pop()
            self.seconds[(self.metric, name)] += elapsed
            if self.stack:  # the enclosing stage keeps only its own time
                self.seconds[(self.metric, self.stack[-1])] -= elapsed

    def count(self, positions: int, prompt_tokens: int = 0) -> None:
        key = (self.metric, self.stack[-1] if self.stack else "other")
        self.positions[key] += positions
        self.prompt_tokens[key] += prompt_tokens

    def timed(self, obj, method: str, name) -> None:
        """Replace ``obj.method`` by a version that runs inside stage ``name`` (or ``name()``)."""
        original = getattr(obj, method)

        def wrapper(*args, **kwargs):
            with self.stage(name() if callable(name) else name):
                return original(*args, **kwargs)

        setattr(obj, method, wrapper)


def count_forward_positions(backbone, meter: Meter) -> None:
    """Wrap the backbone's prefill/extend (instance attributes; the class is untouched)."""
    prefill, extend = backbone.prefill, backbone.extend

    def counted_prefill(prompts):
        meter.count(len(prompts) * max(len(p) for p in prompts), sum(len(p) for p in prompts))
        return prefill(prompts)

    def counted_extend(state, tokens):
        meter.count(int(tokens.numel()))
        return extend(state, tokens)

    backbone.prefill, backbone.extend = counted_prefill, counted_extend


def count_packed_positions(meter: Meter) -> None:
    """Count the packed teacher-forced passes too: they call the network directly, not through
    ``prefill``/``extend`` (every row of a packed batch is padded to the widest; prompt tokens are
    the real context tokens, the ones a prefill would read)."""
    from quals.models import scoring

    score_packed = scoring.score_packed

    def counted(backbone, rows):
        meter.count(len(rows) * max(len(r.tokens) for r in rows), sum(r.block.count(-1) for r in rows))
        return score_packed(backbone, rows)

    scoring.score_packed = counted


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-xsum", type=int, default=20, help="First N rows of qags_xsum.jsonl (default: 20).")
    parser.add_argument("--n-cnndm", type=int, default=20, help="First N rows of qags_cnndm.jsonl (default: 20).")
    parser.add_argument("--model", default=None,
                        help="One backbone for both metrics, QAGS prompting it (default: each metric's trained "
                             "components).")
    parser.add_argument("--quals-model", default=None,
                        help="QUALS's QAGen (default: --model, else the shipped QAGen).")
    parser.add_argument("--qg-model", default=None,
                        help="QAGS's question generator (default: --model, else the shipped one).")
    parser.add_argument("--qa-model", default=None, help="QAGS's answerer (default: --model, else the shipped one).")
    parser.add_argument("--quals-preset", choices=("paper", "default"), default="paper",
                        help="QUALS settings: the paper's (60 groups, no constraint) or quals's default.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--batch-size", type=int, default=64, help="Rows per forward pass, both metrics.")
    parser.add_argument("--chunk-size", type=int, default=16, help="Examples per score() call, both metrics.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
    parser.add_argument("--num-groups", type=int, default=None, help="QUALS beam groups (default: the preset's).")
    parser.add_argument("--beam-size", type=int, default=None, help="QAGS beam width (default: QagsConfig's).")
    parser.add_argument("--questions-per-answer", type=int, default=None)
    parser.add_argument("--num-answers", type=int, default=None)
    parser.add_argument("--max-questions", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="Also write all numbers here.")
    return parser.parse_args(argv)


def build(args: argparse.Namespace, meter: Meter):
    from quals.metrics.qags import qags_components
    from quals.metrics.quals_config import preset_config
    from quals.models.packaged import DEFAULT_MODEL

    start = time.perf_counter()
    qagen = QAGen(args.quals_model or args.model or DEFAULT_MODEL, device=args.device, dtype=args.dtype,
                  batch_size=args.batch_size)
    load_backbone = time.perf_counter() - start
    quals_qagen = qagen
    groups = {} if args.num_groups is None else {"num_groups": args.num_groups}
    quals = QUALS(qagen=quals_qagen, config=preset_config(args.quals_preset), cache_generations=False, **groups)
    overrides = {k: getattr(args, k) for k in ("beam_size", "questions_per_answer", "num_answers", "max_questions")
                 if getattr(args, k) is not None}
    qg_model, qa_model = qags_components(args.model, args.qg_model, args.qa_model)
    start = time.perf_counter()
    shared = None  # the named backbone, when it does one of QAGS's jobs (the QUALS QAGen's if the same)
    if qg_model is None or qa_model is None:
        same = args.quals_model is None or args.quals_model == args.model
        shared = qagen if same else QAGen(args.model, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    qags = QAGS(args.model, qg_model=qg_model, qa_model=qa_model, qagen=shared, batch_size=args.batch_size,
                device=args.device, dtype=args.dtype, **overrides)
    load_qags = time.perf_counter() - start
    backbones = {id(b): b for b in (qagen.backbone, quals_qagen.backbone, qags.generator.backbone,
                                    getattr(qags.answerer, "backbone", None)) if b is not None}
    for backbone in backbones.values():
        count_forward_positions(backbone, meter)
    count_packed_positions(meter)
    # Warm up both code paths on a short input with small settings (not timed).
    warm_document, warm_summary = "The mayor opened the new bridge in Leeds on Friday.", "The mayor opened a bridge."
    QUALS(qagen=quals_qagen, cache_generations=False, num_groups=2, max_length=12).score([warm_document],
                                                                                          [warm_summary])
    qags.score([warm_document], [warm_summary])  # the real settings on a one-sentence summary
    meter.seconds.clear(), meter.positions.clear(), meter.prompt_tokens.clear()

    meter.timed(quals, "generate", "generation")
    meter.timed(quals.qagen, "score", "scoring")
    meter.timed(qags, "extract_answers", "answer extraction")
    meter.timed(qags, "generate_questions", "generation")
    meter.timed(qags, "_filter_answers", "answering: summary")
    meter.timed(qags, "answer", lambda: ("answering: summary" if "answering: summary" in meter.stack
                                         else "answering: document"))
    return qagen, quals, qags, {"backbone_s": load_backbone, "qags_models_and_spacy_s": load_qags}


def run(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    meter = Meter()
    qagen, quals, qags, load = build(args, meter)
    datasets = {"qags_xsum": read_benchmark(args.data_dir / "qags_xsum.jsonl")[:args.n_xsum],
                "qags_cnndm": read_benchmark(args.data_dir / "qags_cnndm.jsonl")[:args.n_cnndm]}
    rows = [row for dataset_rows in datasets.values() for row in dataset_rows]
    # Each dataset is its own input file for `quals score`: chunks never mix datasets.
    chunks = [(d, dataset_rows[i:i + args.chunk_size]) for d, dataset_rows in datasets.items()
              for i in range(0, len(dataset_rows), args.chunk_size)]
    totals = defaultdict(float)
    per_dataset = defaultdict(lambda: defaultdict(float))
    results = {"quals": [], "qags": []}
    counts = {"quals": defaultdict(int), "qags": defaultdict(int)}
    load_start = os.getloadavg()
    done = 0
    for dataset, chunk in chunks:
        documents, summaries = [r.document for r in chunk], [r.summary for r in chunk]
        for name, scorer in (("quals", quals), ("qags", qags)):
            meter.metric = name
            began = time.perf_counter()
            with meter.stage("total"):
                result = scorer.score(documents, summaries)
            elapsed = time.perf_counter() - began
            totals[name] += elapsed
            per_dataset[dataset][name] += elapsed
            results[name].extend(result.scores)
            for example in result.examples:  # how much work each metric's later stages had
                record = example.to_dict(details=False)
                for key, value in record.items():
                    if key.startswith("n_"):
                        counts[name][key] += value
        done += len(chunk)
        print(f"  {done}/{len(rows)} examples: QUALS {totals['quals']:.1f} s, QAGS {totals['qags']:.1f} s so far",
              flush=True)
    n = len(rows)
    report = {
        "n_examples": n, "datasets": {d: len(r) for d, r in datasets.items()},
        "seconds_per_example": {m: totals[m] / n for m in totals},
        "ratio_qags_over_quals": totals["qags"] / totals["quals"],
        "stages_seconds_per_example": {f"{m}/{s}": v / n for (m, s), v in sorted(meter.seconds.items())},
        "forward_positions_per_example": {f"{m}/{s}": v / n for (m, s), v in sorted(meter.positions.items())},
        "prefill_prompt_tokens_per_example": {f"{m}/{s}": v / n for (m, s), v in sorted(meter.prompt_tokens.items())},
        "per_dataset_seconds_per_example": {d: {m: v / len(datasets[d]) for m, v in t.items()}
                                            for d, t in per_dataset.items()},
        "scores": {m: {"mean": _mean(v), "n_null": sum(x is None for x in v)} for m, v in results.items()},
        "counts_per_example": {m: {k: v / n for k, v in c.items()} for m, c in counts.items()},
        "load_seconds": load,
        "models": {"quals": {"model": quals.qagen.backbone.model_id, "weights": quals.qagen.backbone.fingerprint},
                   "qags": qags.models()},
        "settings": {"quals": quals.config.to_dict(), "qags": qags.config.to_dict(), "batch_size": args.batch_size,
                     "chunk_size": args.chunk_size, "device": str(qagen.backbone.device),
                     "dtype": str(qagen.backbone.model.dtype), "threads": torch.get_num_threads(),
                     "model": qagen.backbone.model_id},
        "machine": {**versions(), "cpus": os.cpu_count(),
                    "load_average_start": load_start, "load_average_end": os.getloadavg()},
    }
    return report


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def print_report(report: dict) -> None:
    n = report["n_examples"]
    stages = report["stages_seconds_per_example"]
    positions = report["forward_positions_per_example"]
    print(f"\n{n} examples {report['datasets']}; settings: {report['settings']['device']}, "
          f"{report['settings']['dtype']}, {report['settings']['threads']} threads, batch size "
          f"{report['settings']['batch_size']}, {report['settings']['chunk_size']} examples per call")
    print("\n| metric | stage | seconds / example | forward positions / example |\n|---|---|---:|---:|")
    for metric in ("quals", "qags"):
        names = sorted({key.split("/", 1)[1] for key in [*stages, *positions] if key.startswith(metric + "/")},
                       key=_stage_order)
        accounted = 0.0
        for name in names:
            if name == "total":
                continue
            seconds = stages.get(f"{metric}/{name}", 0.0)
            accounted += seconds
            print(f"| {metric.upper()} | {name} | {seconds:.2f} | {positions.get(f'{metric}/{name}', 0):,.0f} |")
        total = stages.get(f"{metric}/total", 0.0) + accounted
        all_positions = sum(v for k, v in positions.items() if k.startswith(metric + "/"))
        print(f"| {metric.upper()} | other | {stages.get(f'{metric}/total', 0.0):.2f} | "
              f"{positions.get(f'{metric}/total', 0):,.0f} |")
        print(f"| **{metric.upper()}** | **total** | **{total:.2f}** | **{all_positions:,.0f}** |")
    q, g = report["seconds_per_example"]["quals"], report["seconds_per_example"]["qags"]
    pos_q = sum(v for k, v in positions.items() if k.startswith("quals/"))
    pos_g = sum(v for k, v in positions.items() if k.startswith("qags/"))
    print(f"\nQAGS / QUALS wall time: {report['ratio_qags_over_quals']:.2f}x ({g:.2f} s vs {q:.2f} s per example)")
    print(f"QAGS / QUALS forward positions: {pos_g / pos_q:.2f}x")
    for dataset, seconds in report["per_dataset_seconds_per_example"].items():
        print(f"  {dataset}: QUALS {seconds['quals']:.2f} s, QAGS {seconds['qags']:.2f} s per example "
              f"({seconds['qags'] / seconds['quals']:.2f}x)")
    print(f"scores: {report['scores']}")
    for metric, values in report["counts_per_example"].items():
        print(f"{metric.upper()} per example: " + ", ".join(f"{k} {v:.1f}" for k, v in values.items()))
    print(f"load average start {report['machine']['load_average_start']}, end {report['machine']['load_average_end']}")


def _stage_order(name: str) -> tuple[int, str]:
    order = ["answer extraction", "generation", "answering: summary", "answering: document", "scoring"]
    return (order.index(name) if name in order else len(order), name)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = run(args)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
