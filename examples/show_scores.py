"""Print a QUALS output file as a small table: id, score, and the worst QA pair."""

import json
import sys

for line in open(sys.argv[1], encoding="utf-8"):
    record = json.loads(line)
    if record.get("error"):
        print(f"{record['id']:<20} error: {record['error']}")
        continue
    score = "null" if record["score"] is None else f"{record['score']:+.3f}"
    pairs = sorted(record.get("pairs", []), key=lambda p: p["difference"])
    worst = ""
    if pairs:
        worst = f"  worst: Q: {pairs[0]['question']} A: {pairs[0]['answer']} ({pairs[0]['difference']:+.2f})"
    print(f"{record['id']:<20} QUALS {score} ({record['n_pairs']} QA pairs){worst}")
