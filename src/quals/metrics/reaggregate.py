"""Recompute QUALS scores from a score file's per-token log-probs under other aggregation settings.

Generation and teacher forcing are the whole cost of QUALS; the token set, the per-pair reduction,
the aggregation over pairs and a smaller ``max_pairs`` only change arithmetic on what a detailed
score file already holds. So a sweep over them reads one scoring run instead of running again,
and gives the numbers a fresh run with those settings would give (tested).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from quals.metrics.aggregation import AggregationConfig, rounds_within

_NEEDED = ("token_roles", "filter_round", "token_logprobs_document", "token_logprobs_summary")


def reaggregate_record(record: dict, aggregation: AggregationConfig, max_pairs: int | None = None) -> dict:
    """A copy of one QUALS score record with ``score``, ``n_pairs`` and each pair's ``value``
    recomputed; error and null records come back unchanged.

    Raises:
        ValueError: the record has no per-pair details, or details from a quals version that did
            not write token roles and filter rounds (rescore it).
    """
    if record.get("error") or record.get("score") is None:
        return dict(record)
    where = f"row {record.get('row')} (id {record.get('id')!r})"
    pairs = record.get("pairs")
    if pairs is None:
        raise ValueError(f"{where}: no QA pair details (scored with --no-details); rescore with details")
    missing = sorted({key for pair in pairs for key in _NEEDED if key not in pair})
    if missing:
        raise ValueError(f"{where}: pairs lack {', '.join(missing)} (written by an older quals); rescore")
    keep = rounds_within([p["filter_round"] for p in pairs], max_pairs) if max_pairs else [True] * len(pairs)
    kept = []
    for pair, wanted in zip(pairs, keep, strict=True):
        if wanted:
            value = aggregation.pair_value(pair["token_logprobs_document"], pair["token_logprobs_summary"],
                                           pair["token_roles"])
            kept.append({**pair, "value": value})
    return {**record, "score": aggregation.combine([p["value"] for p in kept]), "n_pairs": len(kept),
            "pairs": kept}


def recorded_settings(scores_path: str | Path) -> dict:
    """The QUALS settings a score file's run sidecar recorded."""
    sidecar = Path(f"{scores_path}.run.json")
    try:
        run = json.loads(sidecar.read_text(encoding="utf-8"))["run"]
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{sidecar}: no readable run record ({err}); "
                         f"cannot tell how {scores_path} was scored") from None
    if run.get("metric") != "quals":
        raise ValueError(f"{scores_path} holds {run.get('metric')!r} scores, not QUALS")
    return run["settings"]


def check_reaggregation(scores_path: str | Path, max_pairs: int | None) -> dict:
    """The recorded settings, after checking that ``max_pairs`` can be derived from them."""
    settings = recorded_settings(scores_path)
    if max_pairs is not None and max_pairs > settings["max_pairs"]:
        raise ValueError(f"{scores_path} kept at most {settings['max_pairs']} pairs per summary; "
                         f"max_pairs={max_pairs} needs a new scoring run")
    return settings


def reaggregate_file(scores_path: str | Path, aggregation: AggregationConfig,
                     max_pairs: int | None = None) -> Iterator[dict]:
    """Every complete record of a score file, re-aggregated (a last line still being written is skipped)."""
    check_reaggregation(scores_path, max_pairs)
    with open(scores_path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break
            yield reaggregate_record(json.loads(line), aggregation, max_pairs)


def restrict_answers(record: dict, allowed_answers: frozenset[str]) -> dict:
    """A copy of a QUALS record keeping only pairs whose SQuAD-normalised answer is allowed
    (``answer_types='entities'`` after the fact).

    Equal to a fresh run with that filter when the filter's cap did not bind (no kept pair was
    left out for the cap: ``n_pairs < max_pairs`` or every in-summary pair kept), since dropping
    answers then only removes pairs. The caller checks that; a record left with no pair becomes a
    null score with the fresh run's reason.
    """
    from quals.metrics.answers import normalize_answer
    from quals.metrics.filtering import NO_ENTITY_ANSWER

    if record.get("error") or record.get("score") is None:
        return dict(record)
    pairs = [p for p in record["pairs"] if normalize_answer(p["answer"]) in allowed_answers]
    if not pairs:
        return {**record, "score": None, "n_pairs": 0, "pairs": [],
                "reason": NO_ENTITY_ANSWER}
    return {**record, "pairs": pairs, "n_pairs": len(pairs)}
