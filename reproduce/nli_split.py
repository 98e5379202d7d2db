"""Split the NLI pool (../shared/data/nli) into training and held-out pairs for a first FactCC stage.

    python reproduce/nli_split.py [POOL] OUT_DIR

Writes OUT_DIR/nli_train.jsonl.gz and OUT_DIR/nli_dev.jsonl.gz. A pair is held out when the
sha256 of its id falls in 1/20 of the range, so the split depends on nothing but the ids (not on
the order, a seed or the pool's size) and a rebuilt pool splits the same way. The pool has no split
of its own that covers all four of its datasets; ``train-factcc`` reads these records as claims
(premise = document, hypothesis = claim, entailed = label).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

HELD_OUT_EVERY = 20


def held_out(pair_id: str) -> bool:
    return int(hashlib.sha256(pair_id.encode()).hexdigest(), 16) % HELD_OUT_EVERY == 0


def main(argv: list[str]) -> int:
    pool = Path(argv[0]) if len(argv) > 1 else Path("../shared/data/nli/nli_pool.jsonl.gz")
    out = Path(argv[-1])
    out.mkdir(parents=True, exist_ok=True)
    counts = {"train": 0, "dev": 0}
    parts = {name: out / f"nli_{name}.jsonl.gz" for name in counts}
    partial = {name: path.with_name(path.name + ".part") for name, path in parts.items()}
    with gzip.open(pool, "rt", encoding="utf-8") as source, \
            gzip.open(partial["train"], "wt", encoding="utf-8") as train, \
            gzip.open(partial["dev"], "wt", encoding="utf-8") as dev:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if "id" not in record:
                raise SystemExit(f"{pool}:{number}: no id")
            name = "dev" if held_out(str(record["id"])) else "train"
            (dev if name == "dev" else train).write(line if line.endswith("\n") else line + "\n")
            counts[name] += 1
    for name in counts:  # whole files or none: a stopped run leaves only .part files
        partial[name].replace(parts[name])
    print(json.dumps({"pool": str(pool), **{f"n_{k}": v for k, v in counts.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
