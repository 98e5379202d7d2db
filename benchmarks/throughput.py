"""QUALS summaries per second at the default settings: ours against naive transformers code, one run.

Both sides score the same rows (default: the first 20 of QAGS-X and of QAGS-C, optionally the first
N CNN/DM test articles with their reference summaries for long inputs) with the same loaded
model, device, dtype and thread count, and write the same per-row JSONL records:

- **ours**: ``quals score``'s runner (:func:`quals.batch.runner.score_rows`) over a ``QUALS`` at
  its defaults (packaged QAGen, 10 groups, answer constraint, rescoring), nothing cached;
- **naive**: ``benchmarks/naive_quals.py``: one row at a time, diverse beam search as
  transformers 4's ``generate`` did it (prompt repeated per beam, cache reordered every step, all
  beams running to the end, per-beam constraint calls), one forward per QA pair and context
  window. It returns the same hypotheses; the script checks that it does.

The two alternate chunk by chunk (``--chunk-size`` rows, as ``quals score`` chunks), so a change
in machine load hits both alike. Stages: ``generation`` (QA hypotheses), ``scoring``
(teacher-forced log-probs under document and summary) and ``I/O and other`` (reading the input,
the filter, building and writing records: the rest of the wall time).

Model work is counted while it runs: forward hooks on every linear layer (2 x inputs x outputs per
row, padding and finished rows included) and a wrapper around ``scaled_dot_product_attention``
(2 x query x key positions x head size, twice, masked positions included): FLOPs as a dense
kernel executes them. The machine's matmul peak is measured by the script itself (square fp32
matmuls on CPU, the model's dtype on CUDA, same thread count), before and after the run; the
higher of the two is the peak.

Run: ``OMP_NUM_THREADS=1 python benchmarks/throughput.py --json throughput.json``; on a GPU add
``--device cuda --batch-size 64,256,1024``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import torch
from naive_quals import NaiveQUALS

from quals import QUALS
from quals.batch.output import dumps_record
from quals.batch.runner import RunConfig, score_rows
from quals.data.readers import FieldMap, read_rows
from quals.provenance import versions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
STAGES = ("generation", "scoring", "I/O and other")


class Clock:
    """Wall time and FLOPs per (implementation, stage); the innermost open stage gets both."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.flops: dict[tuple[str, str], float] = defaultdict(float)
        self.stack: list[tuple[str, str]] = []

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextmanager
    def stage(self, implementation: str, name: str):
        self._sync()
        self.stack.append((implementation, name))
        start = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            elapsed = time.perf_counter() - start
            key = self.stack.pop()
            self.seconds[key] += elapsed
            if self.stack:  # the enclosing stage keeps only its own time
                self.seconds[self.stack[-1]] -= elapsed

    def add_flops(self, flops: float) -> None:
        if self.stack:
            self.flops[self.stack[-1]] += flops


def count_flops(model: torch.nn.Module, clock: Clock) -> None:
    """Hooks on every linear layer (plain or dynamically quantized) and a wrapper around SDPA."""
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) or (hasattr(module, "in_features") and hasattr(module, "out_features")
                                                   and "Linear" in type(module).__name__):
            module.register_forward_hook(
                lambda m, inputs, output: clock.add_flops(2.0 * inputs[0].numel() * m.out_features))
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def counted(query, key, value, *args, **kwargs):
        batch, heads, q_len, head_dim = query.shape
        clock.add_flops(2.0 * batch * heads * q_len * key.shape[-2] * (head_dim + value.shape[-1]))
        return sdpa(query, key, value, *args, **kwargs)

    torch.nn.functional.scaled_dot_product_attention = counted


def matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 2.0) -> float:
    """Best FLOP/s of square matmuls of a few sizes, each timed for about ``seconds / 3``."""
    if dtype not in (torch.float32, torch.bfloat16, torch.float16):
        dtype = torch.float32  # int8 models: their peak is quoted against fp32
    best = 0.0
    for n in ((512, 1024, 2048) if device.type == "cpu" else (4096, 8192, 16384)):
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        (a @ b).sum().item()  # warm-up
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            c = a @ b
            count += 1
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        del c
        best = max(best, 2.0 * n ** 3 * count / (time.perf_counter() - start))
    return best


def select_rows(args: argparse.Namespace) -> list[dict]:
    rows = []
    for name, n in (("qags_xsum", args.n_xsum), ("qags_cnndm", args.n_cnndm)):
        with open(args.data_dir / "bench" / f"{name}.jsonl", encoding="utf-8") as handle:
            for line, _ in zip(handle, range(n), strict=False):
                record = json.loads(line)
                rows.append({"id": record["id"], "document": record["document"], "summary": record["summary"]})
    if args.n_cnndm_test:
        with gzip.open(args.data_dir / "train" / "cnndm_test.jsonl.gz", "rt", encoding="utf-8") as handle:
            for line, _ in zip(handle, range(args.n_cnndm_test), strict=False):
                record = json.loads(line)
                rows.append({"id": f"cnndm_test-{record['id']}", "document": record["document"],
                             "summary": record["summary"]})
    return rows


def run_ours(scorer: QUALS, path: Path, chunk: range, out: Path, clock: Clock, label: str, chunk_size: int) -> None:
    with clock.stage(label, "I/O and other"):
        rows = [row for row in read_rows(path, FieldMap()) if row.index in chunk]
        score_rows(scorer, rows, out, info={"benchmark": label}, config=RunConfig(chunk_size=chunk_size))


def run_naive(naive: NaiveQUALS, path: Path, chunk: range, out: Path, clock: Clock, generated: dict) -> None:
    with clock.stage("naive", "I/O and other"):
        rows = [row for row in read_rows(path, FieldMap()) if row.index in chunk]
        with open(out, "w", encoding="utf-8") as handle:
            for row in rows:
                with clock.stage("naive", "generation"):
                    hyps = naive.generate(row.summary)
                generated[row.index] = [h.hypothesis.token_ids for h in hyps]
                with clock.stage("naive", "scoring"):
                    example = naive.score(row.document, row.summary, hyps)
                handle.write(dumps_record({"row": row.index, "id": row.id, **example.to_dict(True), "error": None})
                             + "\n")


def timed_scorer(scorer: QUALS, clock: Clock, label: dict, generated: dict) -> None:
    """Wrap the scorer's two model stages (instance attributes; the classes are untouched); their
    time goes to ``label["name"]``, the implementation running at the moment."""
    generate, score = scorer.generate, scorer.qagen.score

    def timed_generate(summaries):
        with clock.stage(label["name"], "generation"):
            result = generate(summaries)
        for summary, hyps in zip(summaries, result, strict=True):
            generated.setdefault(summary, [h.hypothesis.token_ids for h in hyps])
        return result

    def timed_score(contexts, qa_lists):
        with clock.stage(label["name"], "scoring"):
            return score(contexts, qa_lists)

    scorer.generate, scorer.qagen.score = timed_generate, timed_score


def read_records(paths: list[Path]) -> dict[int, dict]:
    return {r["row"]: r for p in paths for r in map(json.loads, p.read_text().splitlines())}


def compare(ours: dict[int, dict], naive: dict[int, dict], ours_generated: dict, naive_generated: dict,
            rows: list[dict]) -> dict:
    same_hyps = sum(ours_generated[rows[i]["summary"]] == naive_generated[i] for i in naive_generated)
    score_diffs, token_diffs, null_agree = [], [], 0
    for i, record in naive.items():
        mine = ours[i]
        null_agree += (mine["score"] is None) == (record["score"] is None)
        if mine["score"] is not None and record["score"] is not None:
            score_diffs.append(abs(mine["score"] - record["score"]))
        for a, b in zip(mine.get("pairs", []), record.get("pairs", []), strict=False):
            for key in ("token_logprobs_document", "token_logprobs_summary"):
                token_diffs.extend(abs(x - y) for x, y in zip(a[key], b[key], strict=True))
    return {"rows": len(naive), "rows_with_identical_hypotheses": same_hyps, "null_agreement": null_agree,
            "max_abs_score_difference": max(score_diffs, default=0.0),
            "max_abs_token_logprob_difference": max(token_diffs, default=0.0)}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA, help="Folder with bench/ and train/.")
    parser.add_argument("--n-xsum", type=int, default=20, help="First N rows of bench/qags_xsum.jsonl.")
    parser.add_argument("--n-cnndm", type=int, default=20, help="First N rows of bench/qags_cnndm.jsonl.")
    parser.add_argument("--n-cnndm-test", type=int, default=0,
                        help="First N articles of train/cnndm_test.jsonl.gz (long documents).")
    parser.add_argument("--model", default=None, help="QAGen (default: QUALS's default, the shipped adapter).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--batch-size", default="64", help="Ours: rows per forward pass; a comma list runs each.")
    parser.add_argument("--chunk-size", type=int, default=16, help="Rows per score() call (quals score's default).")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1; 0: torch's choice).")
    parser.add_argument("--naive", action=argparse.BooleanOptionalAction, default=True, help="Run the naive side.")
    parser.add_argument("--peak-seconds", type=float, default=3.0, help="Time spent measuring the matmul peak.")
    parser.add_argument("--json", type=Path, default=None, help="Also write every number here.")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    batch_sizes = [int(b) for b in args.batch_size.split(",")]
    labels = [f"ours (batch {b})" if len(batch_sizes) > 1 else "ours" for b in batch_sizes]
    kwargs = {"model": args.model} if args.model else {}
    start = time.perf_counter()
    scorer = QUALS(device=args.device, dtype=args.dtype, batch_size=batch_sizes[0], cache_generations=False, **kwargs)
    load_s = time.perf_counter() - start
    backbone = scorer.qagen.backbone
    naive = NaiveQUALS(scorer)
    warm_document, warm_summary = "The mayor opened the new bridge in Leeds on Friday.", "The mayor opened a bridge."
    scorer.score([warm_document], [warm_summary])  # warm-up, not timed
    if args.naive:
        naive.score(warm_document, warm_summary, naive.generate(warm_summary))
    peak_before = matmul_peak(backbone.device, backbone.model.dtype, args.peak_seconds)
    clock = Clock(backbone.device)
    count_flops(backbone.model, clock)
    current, ours_generated, naive_generated = {"name": labels[0]}, {}, {}
    timed_scorer(scorer, clock, current, ours_generated)
    rows = select_rows(args)
    load_start = os.getloadavg()
    memory: dict[str, int] = defaultdict(int)
    outputs: dict[str, list[Path]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        for k, first in enumerate(range(0, len(rows), args.chunk_size)):
            chunk = range(first, min(first + args.chunk_size, len(rows)))
            if args.naive:
                outputs["naive"].append(Path(tmp) / f"naive-{k}.jsonl")
                with _memory(backbone.device, memory, "naive"):
                    run_naive(naive, path, chunk, outputs["naive"][-1], clock, naive_generated)
            for batch_size, label in zip(batch_sizes, labels, strict=True):
                scorer.qagen.batch_size, current["name"] = batch_size, label
                outputs[label].append(Path(tmp) / f"ours-{batch_size}-{k}.jsonl")
                with _memory(backbone.device, memory, label):
                    run_ours(scorer, path, chunk, outputs[label][-1], clock, label, args.chunk_size)
            done = {name: sum(v for (i, _), v in clock.seconds.items() if i == name) for name in outputs}
            print(f"  {chunk.stop}/{len(rows)} rows: " + ", ".join(f"{k} {v:.1f} s" for k, v in done.items()),
                  flush=True)
        records = {name: read_records(paths) for name, paths in outputs.items()}
    peak = max(peak_before, matmul_peak(backbone.device, backbone.model.dtype, args.peak_seconds))
    report = _report(args, rows, clock, records, labels, peak, memory)
    if args.naive:
        report["agreement"] = compare(records[labels[0]], records["naive"], ours_generated, naive_generated, rows)
    report["model_load_s"] = load_s
    report["machine"]["load_average_start"] = load_start
    return report


@contextmanager
def _memory(device: torch.device, memory: dict, label: str):
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    yield
    if device.type == "cuda":
        memory[label] = max(memory[label], torch.cuda.max_memory_allocated(device))


def _report(args, rows, clock: Clock, records, labels, peak: float, memory) -> dict:
    n = len(rows)
    implementations = (["naive"] if args.naive else []) + labels
    report = {"rows": n, "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "peak_flops_per_s": peak, "implementations": {}}
    for name in implementations:
        seconds = {s: clock.seconds.get((name, s), 0.0) for s in STAGES}
        flops = {s: clock.flops.get((name, s), 0.0) for s in STAGES}
        total = sum(seconds.values())
        report["implementations"][name] = {
            "summaries_per_s": n / total, "seconds_per_summary": {s: v / n for s, v in seconds.items()},
            "gflop_per_summary": {s: v / n / 1e9 for s, v in flops.items()},
            "share_of_peak": {s: (flops[s] / seconds[s] / peak if seconds[s] else 0.0) for s in STAGES},
            "overall_share_of_peak": sum(flops.values()) / total / peak,
            "max_memory_bytes": memory.get(name) or None,
            "null_rows": sum(r["score"] is None for r in records[name].values()),
            "hours_for_1.2M_scores_on_8_devices": 1.2e6 / (n / total) / 8 / 3600,
        }
    if args.naive:
        report["ratio_ours_over_naive"] = {label: report["implementations"][label]["summaries_per_s"]
                                           / report["implementations"]["naive"]["summaries_per_s"] for label in labels}
    report["machine"] = {**versions(), "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                         "device": str(args.device), "dtype": str(args.dtype),
                         "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                         "load_average_end": os.getloadavg()}
    return report


def print_report(report: dict) -> None:
    machine = report["machine"]
    print(f"\n{report['rows']} rows; {machine['device']}, dtype {machine['dtype']}, {machine['threads']} threads; "
          f"measured matmul peak {report['peak_flops_per_s'] / 1e9:.1f} GFLOP/s")
    print("\n| implementation | stage | s / summary | GFLOP / summary | share of matmul peak |\n"
          "|---|---|---:|---:|---:|")
    for name, r in report["implementations"].items():
        for stage in STAGES:
            print(f"| {name} | {stage} | {r['seconds_per_summary'][stage]:.3f} | {r['gflop_per_summary'][stage]:.1f} | "
                  f"{100 * r['share_of_peak'][stage]:.1f}% |")
        print(f"| **{name}** | **total: {r['summaries_per_s']:.3f} summaries/s** | "
              f"**{sum(r['seconds_per_summary'].values()):.3f}** | **{sum(r['gflop_per_summary'].values()):.1f}** | "
              f"**{100 * r['overall_share_of_peak']:.1f}%** |")
    for label, ratio in report.get("ratio_ours_over_naive", {}).items():
        print(f"\n{label} / naive: {ratio:.2f}x summaries/s")
    for name, r in report["implementations"].items():
        memory = f", peak memory {r['max_memory_bytes'] / 2**30:.2f} GiB" if r["max_memory_bytes"] else ""
        print(f"{name}: 1.2M scores on 8 such devices: {r['hours_for_1.2M_scores_on_8_devices']:.1f} h; "
              f"{r['null_rows']} null rows{memory}")
    if "agreement" in report:
        a = report["agreement"]
        print(f"agreement ours vs naive over {a['rows']} rows: identical hypotheses in "
              f"{a['rows_with_identical_hypotheses']}, null/non-null agreement {a['null_agreement']}, max |score "
              f"difference| {a['max_abs_score_difference']:.2e}, max |token log-prob difference| "
              f"{a['max_abs_token_logprob_difference']:.2e}")
    print(f"load average start {machine['load_average_start']}, end {machine['load_average_end']}")


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
