"""Scale-out: two CPU processes under torchrun (gloo) give the single-process output.

``accelerate launch --cpu`` runs one process without MPI, and ``--multi_gpu`` needs GPUs; on GPUs
``accelerate launch --multi_gpu`` sets the same RANK/WORLD_SIZE environment torchrun sets here."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_two_processes_merge_in_input_order(tiny_dirs, tmp_path):
    rows = [{"id": f"r{i}", "document": f"The cat sat on the mat in Paris on day {i}.",
             "summary": f"The cat sat on day {i}."} for i in range(9)]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = [str(FIXTURES / "fake_qa.py"), "score", str(data), "--model", str(tiny_dirs["llama"]),
              "--chunk-size", "2", "--num-groups", "3", "--min-length", "1", "--max-length", "8",
              "--no-progress", "--device", "cpu"]
    # Launchers run one thread per process; match it so floats are bit-identical.
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent), "OMP_NUM_THREADS": "1"}
    single, sharded = tmp_path / "single.jsonl", tmp_path / "sharded.jsonl"
    subprocess.run([sys.executable, *common, "-o", str(single)], env=env, check=True, capture_output=True)
    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--master_addr", "127.0.0.1", "--master_port", str(port), *common, "-o", str(sharded)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sharded.read_bytes() == single.read_bytes()
    assert [json.loads(line)["row"] for line in sharded.read_text().splitlines()] == list(range(9))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("sharded")) == [
        "sharded.jsonl", "sharded.jsonl.run.json"]  # parts merged and removed
    assert json.loads((tmp_path / "sharded.jsonl.run.json").read_text())["merged_from"] == 2
