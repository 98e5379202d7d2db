"""Carry a ``reproduce/conseq_cnndm.sh`` run from one machine (or session) to the next.

The at-scale run takes about 30 core-hours, longer than any one session here, and only what is
committed survives a session. ``save`` writes what the later stages need into a directory small
enough to commit: finished models (adapters, info files; never checkpoints), candidates, per-summary
scores, test summaries and per-row evaluation scores, gzipped, with a manifest of their sha256.
``restore`` writes them back byte for byte into the work directory, where every stage then
resumes (the run's files name their absolute paths, so restore into the same WORK path); a file
already there is newer and is kept.

No data is copied: the split files (train, test, pool) are rebuilt by the script's step 0 from
``../shared/data``, triples are re-derived from the scores by ``conseq select``, and the
document and reference texts of candidate rows are dropped on save and filled back from the pool
file on restore.

    python reproduce/conseq_state.py save WORK STATE
    python reproduce/conseq_state.py restore STATE WORK    # after the script's step 0 has run
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import hashlib
import json
import shutil
import sys
from pathlib import Path

from quals.batch.output import dumps_record  # how the run wrote its lines: restored lines match them

MANIFEST = "manifest.json"
# Rebuilt by the script from ../shared/data (split, QAGS subset, study) or from the scores (triples):
# never stored. Patterns of paths relative to WORK.
REBUILT = ("train.jsonl", "test.jsonl", "pool.jsonl", "triples-quals.jsonl", "triples-rouge.jsonl", "qags*/*",
           "study.jsonl", "table.md")
# Candidate rows keep their document and reference; those texts come back from the pool file.
REFILL = {"candidates.jsonl": ("pool.jsonl", {"document": "document", "reference": "summary"})}
DATA_FIELDS = ("document", "reference", "positive", "negative")
MODEL_INFO = ("quals_summarizer.json",)
# The project tracks no file over 5 MB: a LoRA r16 adapter of the 135M backbone (9.8 MB in float16)
# does not fit, one of rank 8 (4.9 MB) does.
MAX_STORED_BYTES = 5_000_000


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rule(name: str):
    """The refill rule of an output or of its shard parts (not of its ``.run.json`` sidecar)."""
    base = name.split(".part-")[0]
    return next((rule for pattern, rule in REFILL.items() if base == pattern), None)


def _is_jsonl(rel: Path) -> bool:
    """One JSON record per line: outputs and their shard parts (``NAME.jsonl.part-R-of-W``)."""
    if rel.name.endswith(".run.json"):  # a sidecar, also a shard part's: indented JSON
        return False
    return rel.name.endswith(".jsonl") or fnmatch.fnmatch(rel.name, "*.jsonl.part-*")


def _finished_model(path: Path) -> bool:
    return any((path / info).is_file() for info in MODEL_INFO)


def _files(work: Path) -> list[Path]:
    """Files of ``work`` to store: everything but rebuilt files, checkpoints and unfinished models."""
    keep = []
    for path in sorted(work.rglob("*")):
        rel = path.relative_to(work)
        if not path.is_file() or "checkpoints" in rel.parts:
            continue
        if any(fnmatch.fnmatch(str(rel), p) for p in REBUILT):
            continue
        model_dir = work / rel.parts[0]
        if len(rel.parts) > 1 and (model_dir / "adapter_config.json").exists() and not _finished_model(model_dir):
            continue  # a training run still going: its checkpoints are too large to carry
        keep.append(rel)
    return keep


def _strip(rel: Path, data: bytes) -> bytes:
    """The file without data texts; refuses a file that would carry texts of the data set."""
    rule = _rule(rel.name)
    lines = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip() or not _is_jsonl(rel):
            lines.append(line)
            continue
        record = json.loads(line)
        fields = rule[1] if rule else {}
        for field in fields:
            if field in record:
                record[field] = None
        carried = [f for f in DATA_FIELDS if isinstance(record.get(f), str) and f not in fields]
        if carried:
            raise ValueError(f"{rel} line {number} holds data text ({', '.join(carried)}); add a REFILL rule")
        lines.append(dumps_record(record))
    return ("\n".join(lines) + ("\n" if data.endswith(b"\n") else "")).encode("utf-8")


def save(work: Path, state: Path) -> dict:
    """Write the state beside ``state`` and swap it in only when complete: a save that fails (a file
    over the size limit, data text in a record) leaves the previous state as it was."""
    final, state = state, state.with_name(state.name + ".partial")
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    entries = []
    for rel in _files(work):
        data = (work / rel).read_bytes()
        stored = _strip(rel, data) if rel.suffix != ".safetensors" and _is_text(data) else data
        target = state / (str(rel) + ".gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        packed = gzip.compress(stored, mtime=0)
        if len(packed) > MAX_STORED_BYTES:
            raise ValueError(f"{rel} is {len(packed) / 1e6:.1f} MB gzipped, over the {MAX_STORED_BYTES / 1e6:.0f} MB "
                             "a committed file may have (a smaller adapter: --lora-r 8)")
        target.write_bytes(packed)
        entries.append({"path": str(rel), "sha256": _sha256(data), "bytes": len(data)})
    manifest = {"files": entries}
    (state / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    if final.exists():
        shutil.rmtree(final)
    state.rename(final)
    return manifest


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _refill(rel: Path, data: bytes, work: Path) -> bytes:
    rule = _rule(rel.name)
    if rule is None:
        return data
    source_name, fields = rule
    source = [json.loads(line) for line in (work / source_name).read_text(encoding="utf-8").splitlines()
              if line.strip()]
    lines = []
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            row = source[record["row"]]
            for field, source_field in fields.items():
                if field in record:
                    record[field] = row[source_field]
            line = dumps_record(record)
        lines.append(line)
    return ("\n".join(lines) + ("\n" if data.endswith(b"\n") else "")).encode("utf-8")


def restore(state: Path, work: Path) -> dict:
    manifest = json.loads((state / MANIFEST).read_text())
    for name in {_rule(Path(e["path"]).name)[0] for e in manifest["files"] if _rule(Path(e["path"]).name)}:
        if not (work / name).is_file():
            raise FileNotFoundError(f"{work / name} is missing: run the script's step 0 (the split) first")
    kept = []
    for entry in manifest["files"]:
        rel = Path(entry["path"])
        target = work / rel
        if target.exists():  # written here since the state was saved: newer, resumes from there
            kept.append(str(rel))
            continue
        data = _refill(rel, gzip.decompress((state / (entry["path"] + ".gz")).read_bytes()), work)
        if _sha256(data) != entry["sha256"]:
            raise ValueError(f"{rel}: restored bytes differ from the saved file (other split or data?)")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return {**manifest, "kept": kept}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    save_parser = sub.add_parser("save", help="Store WORK's results in STATE (replaced).")
    save_parser.add_argument("work", type=Path)
    save_parser.add_argument("state", type=Path)
    restore_parser = sub.add_parser("restore", help="Write STATE's files back into WORK, checked by sha256.")
    restore_parser.add_argument("state", type=Path)
    restore_parser.add_argument("work", type=Path)
    args = parser.parse_args(argv)
    if args.action == "save":
        manifest = save(args.work, args.state)
        size = sum(p.stat().st_size for p in args.state.rglob("*") if p.is_file())
        print(f"{len(manifest['files'])} files of {args.work} -> {args.state} ({size / 1e6:.1f} MB)", file=sys.stderr)
    else:
        manifest = restore(args.state, args.work)
        kept = f"; {len(manifest['kept'])} already there kept" if manifest["kept"] else ""
        print(f"{len(manifest['files'])} files of {args.state} -> {args.work}, sha256 checked{kept}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
