"""Do two versions of the engine give the same QUALS results? Dump with each, then compare.

``dump`` scores the first N rows of QAGS-X and QAGS-C with QUALS at its defaults (nothing cached)
using whichever ``quals`` is importable, and writes every generated hypothesis (token ids,
log-probs, beam scores) and every kept pair's teacher-forced log-probs and score. ``compare``
reads two dumps and prints how many rows have identical hypotheses and the largest absolute
differences. Run the dump once on the old code and once on the new::

    PYTHONPATH=/path/to/old/src python benchmarks/engine_equivalence.py dump old.json
    PYTHONPATH=src python benchmarks/engine_equivalence.py dump new.json
    python benchmarks/engine_equivalence.py compare old.json new.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bench"


def dump(args: argparse.Namespace) -> None:
    import torch

    from quals import QUALS
    from quals.data.benchmarks import read_benchmark

    torch.set_num_threads(args.threads)
    rows = [row for name, n in (("qags_xsum", args.n_xsum), ("qags_cnndm", args.n_cnndm))
            for row in read_benchmark(args.data_dir / f"{name}.jsonl")[:n]]
    scorer = QUALS(*([args.model] if args.model else []), device="cpu", dtype=args.dtype, cache_generations=False)
    out = []
    for first in range(0, len(rows), args.chunk_size):
        chunk = rows[first:first + args.chunk_size]
        generated = scorer.generate([r.summary for r in chunk])
        examples = scorer._score_generated([r.document for r in chunk], [r.summary for r in chunk], generated)
        for hyps, example in zip(generated, examples, strict=True):
            out.append({
                "hypotheses": [[list(h.hypothesis.token_ids), list(h.hypothesis.token_logprobs),
                                list(h.hypothesis.beam_token_scores), h.hypothesis.score] for h in hyps],
                "score": example.score,
                "pairs": [[list(p.token_ids), list(p.token_logprobs_document), list(p.token_logprobs_summary)]
                          for p in example.pairs],
            })
        print(f"{len(out)}/{len(rows)}", flush=True)
    Path(args.output).write_text(json.dumps({"signature": scorer.signature, "rows": out}))


def _max_diff(a: list[float], b: list[float]) -> float:
    return max((abs(x - y) for x, y in zip(a, b, strict=True)), default=0.0)


def compare(args: argparse.Namespace) -> dict:
    old, new = (json.loads(Path(p).read_text())["rows"] for p in (args.old, args.new))
    if len(old) != len(new):
        raise ValueError(f"{len(old)} rows against {len(new)}")
    same, hyp_lp, pair_lp, scores, nulls, over, total = 0, 0.0, 0.0, 0.0, 0, 0, 0
    for a, b in zip(old, new, strict=True):
        same += [h[0] for h in a["hypotheses"]] == [h[0] for h in b["hypotheses"]]
        if [h[0] for h in a["hypotheses"]] == [h[0] for h in b["hypotheses"]]:
            for ha, hb in zip(a["hypotheses"], b["hypotheses"], strict=True):
                hyp_lp = max(hyp_lp, _max_diff(ha[1], hb[1]), _max_diff(ha[2], hb[2]), abs(ha[3] - hb[3]))
        if [p[0] for p in a["pairs"]] == [p[0] for p in b["pairs"]]:
            for pa, pb in zip(a["pairs"], b["pairs"], strict=True):
                pair_lp = max(pair_lp, _max_diff(pa[1], pb[1]), _max_diff(pa[2], pb[2]))
                diffs = [abs(x - y) for k in (1, 2) for x, y in zip(pa[k], pb[k], strict=True)]
                over, total = over + sum(d > 1e-5 for d in diffs), total + len(diffs)
        nulls += (a["score"] is None) != (b["score"] is None)
        if a["score"] is not None and b["score"] is not None:
            scores = max(scores, abs(a["score"] - b["score"]))
    result = {"rows": len(old), "rows_with_identical_hypotheses": same,
              "max_abs_generation_logprob_difference": hyp_lp, "max_abs_scoring_logprob_difference": pair_lp,
              "scoring_logprobs_compared": total, "scoring_logprobs_over_1e-5": over,
              "max_abs_score_difference": scores, "null_mismatches": nulls}
    print(json.dumps(result, indent=2))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser("dump", help="Score rows and write everything to OUTPUT.")
    d.add_argument("output")
    d.add_argument("--data-dir", type=Path, default=DATA)
    d.add_argument("--n-xsum", type=int, default=20)
    d.add_argument("--n-cnndm", type=int, default=20)
    d.add_argument("--chunk-size", type=int, default=16, help="Rows per call, as quals score chunks them.")
    d.add_argument("--model", default=None, help="QAGen (default: QUALS's default).")
    d.add_argument("--dtype", default="float32")
    d.add_argument("--threads", type=int, default=1)
    c = commands.add_parser("compare", help="Compare two dumps.")
    c.add_argument("old")
    c.add_argument("new")
    args = parser.parse_args(argv)
    dump(args) if args.command == "dump" else compare(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
