"""The aggregation sweep: vectorised statistics equal the reference ones, the rule picks as written."""

from __future__ import annotations

import numpy as np
import pytest

from quals.evaluation.statistics import correlation, partial_correlation
from quals.evaluation.sweep import (
    PAPER_AGGREGATION,
    DevSet,
    Setting,
    Comparison,
    RunComparison,
    SweepRow,
    aggregation_grid,
    choose,
    compare_runs,
    compare_with,
    rank_correlation,
    read_row_scores,
    sweep,
    switch,
    write_row_scores,
)
from quals.metrics.aggregation import AggregationConfig


def test_rank_correlation_equals_spearman_and_partial_spearman():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4, 30)), rng.normal(size=(4, 30))
    y[:, :5] = 0.0  # ties, as in FRANK's human scores
    groups = rng.integers(0, 3, size=(4, 30))
    plain, partial = rank_correlation(x, y), rank_correlation(x, y, groups)
    for k in range(4):
        assert plain[k] == pytest.approx(correlation(x[k], y[k], "spearman"), abs=1e-12)
        assert partial[k] == pytest.approx(partial_correlation(x[k], y[k], groups[k], "spearman"), abs=1e-12)
    assert np.isnan(rank_correlation(np.ones((1, 5)), y[:1, :5] + np.arange(5)))[0]


def _records(n: int, rng) -> tuple[tuple[dict, ...], dict[str, float]]:
    """Answer tokens carry the human score, question tokens only noise."""
    records, human = [], {}
    for i in range(n):
        truth = rng.normal()
        pairs = []
        for k in range(3):
            noise = rng.normal(scale=3.0)
            pairs.append({"token_roles": ["q", "q", "s", "a", "e"], "filter_round": k,
                          "token_logprobs_document": [noise, noise, -1.0, truth - 1.0, -2.0],
                          "token_logprobs_summary": [0.0, 0.0, -1.0, -1.0, -1.0 + rng.normal()]})
        records.append({"row": i, "id": f"r{i}", "score": 0.0, "error": None, "pairs": pairs})
        human[f"r{i}"] = truth
    return tuple(records), human


def test_sweep_ranks_the_informative_tokens_first_and_the_rule_adopts_the_simplest():
    rng = np.random.default_rng(0)
    sets = []
    for name in ("a", "b"):
        records, human = _records(60, rng)
        sets.append(DevSet(name, records, human))
    rows = sweep(sets, aggregation_grid(), seed=0, n_resamples=200)
    assert rows[0].setting.aggregation.token_set == "answer"
    assert rows[0].criterion == pytest.approx(1.0)
    paper = next(r for r in rows if r.setting == PAPER_AGGREGATION)
    assert paper.difference == pytest.approx(0.0) and paper.criterion < 0.5
    winner, why = choose(rows)
    # every answer-only setting is perfect here; the one with a single departure from the paper wins
    assert winner.setting == Setting(AggregationConfig(token_set="answer"), 10), why
    assert winner.interval[0] > 0


def _row(name: str, criterion: float, interval: tuple[float, float], **set_differences) -> SweepRow:
    token_set, reduction, aggregation, cap = name.split("/")
    setting = Setting(AggregationConfig(token_set, reduction, aggregation), int(cap))
    return SweepRow(setting, {}, criterion, criterion - 0.30, interval, set_differences or {"x": 0.0})


def test_rule_keeps_the_reference_without_a_paired_interval_above_zero_or_on_a_big_loss():
    reference = _row("all/mean/mean/10", 0.30, (0.0, 0.0))
    unsure = _row("answer/mean/mean/10", 0.36, (-0.01, 0.12))
    assert choose([reference, unsure])[0] is reference
    lossy = _row("answer/mean/mean/10", 0.36, (0.02, 0.12), x=+0.2, y=-0.06)
    winner, why = choose([reference, lossy])
    assert winner is reference and "loses" in why
    fine = _row("answer/mean/mean/10", 0.36, (0.02, 0.12), x=+0.1, y=-0.01)
    complex_ = _row("answer/sum/min/5", 0.365, (0.03, 0.13))
    assert choose([reference, fine, complex_])[0] is fine  # within 0.01 of the best, fewer departures


def test_compare_with_a_baseline_on_shared_rows():
    rng = np.random.default_rng(1)
    records, human = _records(40, rng)
    dev = DevSet("a", records, human, systems={i: "s" + str(int(i[1:]) % 2) for i in human})
    perfect = {i: h for i, h in human.items()}
    perfect["r0"] = None  # not scored by the baseline: left out
    c = compare_with(dev, Setting(AggregationConfig(token_set="question"), 10), "oracle", perfect, n_resamples=200)
    assert c.n == 39 and c.metric_statistic == pytest.approx(1.0) and c.difference < 0 and c.interval[1] < 0


def test_compare_runs_pairs_rows_by_id_and_averages_the_sets():
    rng = np.random.default_rng(2)
    ours, theirs = [], []
    for name in ("a", "b"):
        records, human = _records(50, rng)
        ours.append(DevSet(name, records, human))
        theirs.append(DevSet(name, tuple(reversed(records[5:])), human))  # other order, 5 rows fewer
    answer = Setting(AggregationConfig(token_set="answer"), 10)
    same = compare_runs(ours, theirs, answer, answer, n_resamples=200)
    assert [c.n for c in same.by_set] == [45, 45]
    assert same.difference == pytest.approx(0.0) and same.interval == pytest.approx((0.0, 0.0))
    better = compare_runs(ours, theirs, answer, PAPER_AGGREGATION, n_resamples=200)
    per_set = [c.difference for c in better.by_set]
    assert better.difference == pytest.approx(np.mean(per_set)) and min(per_set) > 0
    assert better.interval[0] > 0  # answer tokens carry the truth here; all tokens are noisier
    worse = compare_runs(ours, theirs, PAPER_AGGREGATION, answer, n_resamples=200)
    assert worse.difference == pytest.approx(-better.difference) and worse.interval[1] < 0
    with pytest.raises(ValueError, match="no dev set"):
        compare_runs(ours, theirs[:1], answer)


def _run(difference: float, interval: tuple[float, float], *per_set: float) -> RunComparison:
    by_set = [Comparison("other", f"s{k}", 10, 0.5 + d, 0.5, d, (d - 0.1, d + 0.1)) for k, d in enumerate(per_set)]
    return RunComparison(by_set, difference, interval)


def test_switch_rules_differ_only_in_whether_the_interval_must_lie_above_zero():
    level = _run(0.01, (-0.02, 0.04), 0.0, 0.02)
    assert switch(level, "qagen")[0] and not switch(level, "generation")[0]
    clear = _run(0.03, (0.01, 0.05), 0.02, 0.04)
    assert switch(clear, "qagen")[0] and switch(clear, "generation")[0]
    worse = _run(-0.01, (-0.04, 0.02), -0.03, 0.01)
    assert not switch(worse, "qagen")[0] and not switch(worse, "generation")[0]
    lossy = _run(0.05, (0.01, 0.09), -0.06, 0.16)  # better on average, but one set loses more than 0.05
    adopt, why = switch(lossy, "generation")
    assert not adopt and "-0.060 (s0)" in why
    assert not switch(lossy, "qagen")[0]
    with pytest.raises(ValueError, match="rule"):
        switch(clear, "paper")


def test_committed_row_scores_pair_with_the_run_they_came_from(tmp_path):
    """A row file read back as another metric's values is that setting exactly: the paired
    difference is 0 on every row, and a row the file lacks is left out, not guessed."""
    rng = np.random.default_rng(2)
    records, human = _records(30, rng)
    dev = DevSet("qags_x/test", records, human)
    answer = Setting(AggregationConfig(token_set="answer"), 10)
    path = tmp_path / "rows.jsonl.gz"
    write_row_scores([dev], [answer, PAPER_AGGREGATION], path)
    write_row_scores([dev], [answer, PAPER_AGGREGATION], tmp_path / "again.gz")
    assert path.read_bytes() == (tmp_path / "again.gz").read_bytes()  # no timestamp in the gzip header
    values = read_row_scores(path, "QUALS")["qags_x"]
    assert set(values) == {"QUALS answer/mean/mean/10", "QUALS all/mean/mean/10"}
    same = compare_with(dev, answer, "itself", values["QUALS answer/mean/mean/10"], n_resamples=50)
    assert same.n == 30 and same.difference == 0.0 and same.interval == (0.0, 0.0)
    other = dict(values["QUALS all/mean/mean/10"])
    del other["r3"]
    c = compare_with(dev, answer, "paper", other, n_resamples=50)
    assert c.n == 29 and c.difference > 0.3  # answer tokens carry the human score here, questions noise
