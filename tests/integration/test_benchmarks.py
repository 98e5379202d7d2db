"""The benchmark scripts run end to end on a tiny random model and a tiny benchmark.

They are standalone scripts (not imported by the package), so nothing else would notice when a
change to the library breaks one; their numbers are meaningless here, only their shape is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ("The mayor of Leeds opened the new bridge over the river Aire on Friday. "
            "It cost 12 million pounds and took three years to build.")
SUMMARIES = ("The mayor opened a bridge in Leeds.", "The bridge cost 12 million pounds.",
             "A new bridge opened on Friday.")


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    for name in ("qags_cnndm", "qags_xsum"):
        rows = [{"id": f"{name}-{i}", "dataset": name, "origin": name, "split": "test", "document": DOCUMENT,
                 "summary": summary, "model_name": None, "label": None, "score": i / 2}
                for i, summary in enumerate(SUMMARIES)]
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _run(script: str, *args: str, cache: Path) -> str:
    env = os.environ | {"QUALS_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_quals_vs_qags_reports_a_ratio(tiny_dirs, bench_dir, tmp_path):
    out = tmp_path / "report.json"
    _run("quals_vs_qags.py", "--data-dir", str(bench_dir), "--n-xsum", "2", "--n-cnndm", "1",
         "--model", str(tiny_dirs["llama"]), "--num-groups", "2", "--num-answers", "2", "--beam-size", "2",
         "--questions-per-answer", "1", "--max-questions", "2", "--chunk-size", "2", "--json", str(out),
         cache=tmp_path / "cache")
    report = json.loads(out.read_text())
    assert report["n_examples"] == 3 and report["datasets"] == {"qags_xsum": 2, "qags_cnndm": 1}
    assert report["ratio_qags_over_quals"] > 0
    assert set(report["seconds_per_example"]) == {"quals", "qags"}


def test_quals_vs_qags_with_each_metric_on_its_own_models(tiny_dirs, bench_dir, tmp_path):
    out = tmp_path / "report.json"
    _run("quals_vs_qags.py", "--data-dir", str(bench_dir), "--n-xsum", "1", "--n-cnndm", "1",
         "--model", str(tiny_dirs["llama"]), "--quals-model", str(tiny_dirs["bart"]), "--qg-model",
         str(tiny_dirs["t5"]), "--qa-model", str(tiny_dirs["bart"]), "--num-groups", "2", "--num-answers", "2",
         "--beam-size", "2", "--questions-per-answer", "1", "--max-questions", "2", "--json", str(out),
         cache=tmp_path / "cache")
    report = json.loads(out.read_text())
    assert report["models"]["quals"]["model"] == str(tiny_dirs["bart"])
    qags = report["models"]["qags"]
    assert (qags["qg"]["model"], qags["qa"]["model"], qags["qa"]["kind"]) == (
        str(tiny_dirs["t5"]), str(tiny_dirs["bart"]), "backbone-greedy")
    positions = report["forward_positions_per_example"]
    assert positions["quals/generation"] > 0 and positions["qags/generation"] > 0  # every model is counted


def test_qagen_backbones_compares_every_model(tiny_dirs, bench_dir, tmp_path):
    out = tmp_path / "report.json"
    stdout = _run("qagen_backbones.py", str(tiny_dirs["llama"]), str(tiny_dirs["bart"]), "--data-dir",
                  str(bench_dir), "--per-dataset", "2", "--num-groups", "2", "--chunk-size", "2", "--json", str(out),
                  cache=tmp_path / "cache")
    report = json.loads(out.read_text())
    assert report["rows"] == 4 and list(report["models"]) == [str(tiny_dirs["llama"]), str(tiny_dirs["bart"])]
    first = report["models"][str(tiny_dirs["llama"])]
    assert first["ratio_to_first"] == 1.0 and first["seconds_per_summary"] > 0
    assert all(m["fingerprint"].startswith("sha256:") for m in report["models"].values())
    assert "s/summary" in stdout


def test_answer_constraint_measures_both_settings(tiny_dirs, bench_dir, tmp_path):
    out = tmp_path / "report.json"
    _run("answer_constraint.py", "--data", str(bench_dir), "--per-dataset", "3", "--num-groups", "2",
         "--model", str(tiny_dirs["llama"]), "--json", str(out), cache=tmp_path / "cache")
    results = json.loads(out.read_text())["results"]
    assert set(results) == {f"{d}/{c}" for d in ("qags_cnndm", "qags_xsum") for c in ("none", "summary_span")}
    assert all(r["rows"] == 3 for r in results.values())


def test_qagen_speed_checks_its_scoring_against_the_naive_loop(tiny_dirs, bench_dir, tmp_path):
    stdout = _run("qagen_speed.py", "--data", str(bench_dir / "qags_xsum.jsonl"), "--n-summaries", "2",
                  "--n-documents", "1", "--groups", "2", "--model", str(tiny_dirs["llama"]),
                  cache=tmp_path / "cache")
    assert "tokens/s" in stdout and "(ok)" in stdout


def test_throughput_compares_ours_with_the_naive_implementation(tiny_dirs, bench_dir, tmp_path):
    data = tmp_path / "data"
    (data / "bench").mkdir(parents=True)
    for name in ("qags_xsum", "qags_cnndm"):
        (data / "bench" / f"{name}.jsonl").write_text((bench_dir / f"{name}.jsonl").read_text())
    out = tmp_path / "report.json"
    stdout = _run("throughput.py", "--data-dir", str(data), "--n-xsum", "2", "--n-cnndm", "1", "--chunk-size", "2",
                  "--model", str(tiny_dirs["llama"]), "--batch-size", "8,64", "--peak-seconds", "0.1",
                  "--json", str(out), cache=tmp_path / "cache")
    report = json.loads(out.read_text())
    assert report["rows"] == 3 and set(report["implementations"]) == {"naive", "ours (batch 8)", "ours (batch 64)"}
    for r in report["implementations"].values():
        assert set(r["seconds_per_summary"]) == {"generation", "scoring", "I/O and other"}
        assert r["summaries_per_s"] > 0 and r["gflop_per_summary"]["generation"] > 0
    assert report["peak_flops_per_s"] > 0
    agreement = report["agreement"]  # the naive code runs the same method: the same hypotheses
    assert agreement["rows_with_identical_hypotheses"] == 3 and agreement["null_agreement"] == 3
    assert agreement["max_abs_score_difference"] < 1e-4
    assert "summaries/s" in stdout


def test_engine_equivalence_dumps_and_compares(tiny_dirs, bench_dir, tmp_path):
    dumps = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in dumps:
        _run("engine_equivalence.py", "dump", str(path), "--data-dir", str(bench_dir), "--n-xsum", "2",
             "--n-cnndm", "1", "--model", str(tiny_dirs["llama"]), cache=tmp_path / "cache")
    stdout = _run("engine_equivalence.py", "compare", *map(str, dumps), cache=tmp_path / "cache")
    result = json.loads(stdout)
    assert result["rows"] == 3 and result["rows_with_identical_hypotheses"] == 3
    assert result["max_abs_score_difference"] == 0.0


def test_int8_effect_reports_speed_and_score_differences(tiny_dirs, bench_dir, tmp_path):
    out = tmp_path / "report.json"
    _run("int8_effect.py", "--data-dir", str(bench_dir), "--n-xsum", "2", "--n-cnndm", "1", "--chunk-size", "2",
         "--model", str(tiny_dirs["llama"]), "--json", str(out), cache=tmp_path / "cache")
    report = json.loads(out.read_text())
    assert report["rows"] == 3 and report["speedup_int8"] > 0
    assert set(report["correlation_with_humans"]) == {"float32", "int8"}
    assert "int8-dynamic" in report["signatures"]["int8"]


def test_quals_vs_qags_counts_the_packed_teacher_forcing(tiny_backbones, monkeypatch):
    """QUALS's scoring of a decoder-only model calls the network directly (packed rows), not
    prefill/extend: its positions must still be counted (a tiny random model keeps no pair, so
    the end-to-end runs above cannot see this)."""
    import importlib.util

    from quals.models import packing, scoring

    spec = importlib.util.spec_from_file_location("quals_vs_qags", ROOT / "benchmarks" / "quals_vs_qags.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(scoring, "score_packed", packing.score_packed)  # restored after the test
    meter = bench.Meter()
    meter.metric = "quals"
    bench.count_packed_positions(meter)
    rows = [packing.pack_row([5, 6, 7], [[8, 9], [10]]), packing.pack_row([5, 6], [[11, 12, 13]])]
    with meter.stage("scoring"):
        values = scoring.score_packed(tiny_backbones["llama"], rows)
    assert [len(v) for per_row in values for v in per_row] == [2, 1, 3]
    width = max(len(r.tokens) for r in rows)
    assert meter.positions[("quals", "scoring")] == 2 * width
    assert meter.prompt_tokens[("quals", "scoring")] == 3 + 2
