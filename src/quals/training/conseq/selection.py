"""ConSeq stage 2: score every candidate and every reference, pick S+ and S-, write triples.

Scores go to a JSONL file with one line per (document, summary): the reference first, then the
candidates, documents in input order. QUALS scores come from the batch scorer
(:func:`quals.batch.runner.score_rows`: QA-generation cache, resume, sharding); ConSeq-ROUGE
scores (mean ROUGE-1/2/L F1 of a candidate against the reference) from the same runner. The rule
itself is :func:`quals.training.conseq.select.select_documents`.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from quals.batch.output import dumps_record, sidecar_path
from quals.batch.runner import RunConfig, map_rows, score_rows
from quals.data.readers import Row
from quals.distributed import is_main_process
from quals.files import atomic_open, atomic_write_json
from quals.training.conseq.config import SelectionConfig
from quals.training.conseq.select import select_documents, selection_report

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentCandidates:
    """A training document with its reference and sampled candidates."""

    row: int
    id: str | None
    document: str
    reference: str
    candidates: tuple[str, ...]


def read_candidates(path: str | Path) -> tuple[list[DocumentCandidates], int]:
    """Documents of a ``quals conseq candidates`` output, and how many rows were unusable."""
    documents, skipped = [], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            candidates = record.get("candidates")
            if record.get("error") or not candidates or not isinstance(record.get("reference"), str):
                skipped += 1
                logger.warning("%s row %s skipped: %s", path, record.get("row"), record.get("error") or "no candidates")
                continue
            documents.append(DocumentCandidates(record["row"], record.get("id"), record["document"],
                                                record["reference"], tuple(candidates)))
    return documents, skipped


def flatten(documents: list[DocumentCandidates], *, against_reference: bool = False) -> list[Row]:
    """One row per (document, reference) and (document, candidate); ids ``ROW:reference`` and
    ``ROW:candidate-J``. With ``against_reference`` the row's ``document`` is the reference
    (what ROUGE compares with)."""
    rows = []
    for doc in documents:
        context = doc.reference if against_reference else doc.document
        for j, text in [(-1, doc.reference), *enumerate(doc.candidates)]:
            label = "reference" if j < 0 else f"candidate-{j}"
            rows.append(Row(len(rows), f"{doc.row}:{label}", context, text,
                            None if text.strip() else "empty summary"))
    return rows


class RougeMapper:
    """Per-row mean of ROUGE-1/2/L F1 of the summary against the reference (in ``Row.document``)."""

    def run_info(self) -> dict:
        from quals.metrics.rouge import rouge_signature

        return {"metric": "rouge", "rouge": rouge_signature("mean-F1-1-2-L")}

    def records(self, rows: list[Row]) -> list[dict]:
        from quals.metrics.rouge import rouge_f

        out = []
        for row in rows:
            if row.error:
                out.append({"row": row.index, "id": row.id, "score": None, "error": row.error})
                continue
            scores = rouge_f(row.document, row.summary)
            out.append({"row": row.index, "id": row.id, "score": math.fsum(scores.values()) / 3, **scores,
                        "error": None})
        return out


def _candidates_run(path: Path) -> dict | None:
    try:
        return json.loads(sidecar_path(path).read_text()).get("run")
    except (OSError, ValueError):
        return None


def score_candidates(documents: list[DocumentCandidates], scores_path: Path, *, by: str, candidates_path: Path,
                     scorer=None, run_config: RunConfig = RunConfig(details=False), show_progress: bool = False
                     ) -> tuple[list[float | None] | None, list[list[float | None]]]:
    """Reference scores (None for ROUGE) and candidate scores of every document (resumable)."""
    info = {"stage": "conseq-scores", "by": by, "candidates": str(candidates_path.resolve()),
            "candidates_run": _candidates_run(candidates_path)}
    rows = flatten(documents, against_reference=by == "rouge")
    if by == "quals":
        if scorer is None:
            raise ValueError("selection by quals needs a QUALS scorer")
        score_rows(scorer, rows, scores_path, info=info, config=run_config, show_progress=show_progress,
                   count=lambda: len(rows))
    else:
        mapper = RougeMapper()
        info = {**info, "run": mapper.run_info(), "chunk_size": run_config.chunk_size}
        map_rows(mapper, rows, scores_path, info=info,
                 chunk_size=run_config.chunk_size, overwrite=run_config.overwrite, show_progress=show_progress,
                 count=lambda: len(rows), desc="rouge")
    with open(scores_path, encoding="utf-8") as handle:
        scores = [json.loads(line) for line in handle if line.strip()]
    if [s["id"] for s in scores] != [r.id for r in rows]:
        raise ValueError(f"{scores_path} does not match {candidates_path}; pass --overwrite to rescore")
    values = iter(s.get("score") for s in scores)
    references, candidates = [], []
    for doc in documents:
        references.append(next(values))
        candidates.append([next(values) for _ in doc.candidates])
    return (references if by == "quals" else None), candidates


def select_triples(candidates_path: str | Path, output: str | Path, *, config: SelectionConfig = SelectionConfig(),
                   scorer=None, scores_path: str | Path | None = None, report_path: str | Path | None = None,
                   run_config: RunConfig = RunConfig(details=False), show_progress: bool = False) -> dict:
    """Score candidates and references, apply the ConSeq rule, write triples and a report.

    Args:
        candidates_path: output of :func:`quals.training.conseq.candidates.generate_candidates`.
        output: JSONL of (document, positive, negative) triples, one per kept document.
        config: ``by`` (quals or rouge) and the S+/S- shares.
        scorer: a loaded :class:`quals.QUALS` (for ``by='quals'``).
        scores_path: per-summary scores (default: ``OUTPUT_STEM.BY-scores.jsonl``); resumable.
        report_path: distributions and counts (default: ``OUTPUT_STEM.report.json``).
        run_config: chunking, QA details and overwrite of the scoring run.
        show_progress: progress bar on stderr.

    Returns:
        The report (also written to ``report_path`` by the first process).
    """
    candidates_path, output = Path(candidates_path), Path(output)
    scores_path = Path(scores_path) if scores_path else output.with_name(f"{output.stem}.{config.by}-scores.jsonl")
    report_path = Path(report_path) if report_path else output.with_name(f"{output.stem}.report.json")
    documents, skipped = read_candidates(candidates_path)
    if not documents:
        raise ValueError(f"{candidates_path} holds no document with candidates")
    references, candidates = score_candidates(documents, scores_path, by=config.by, candidates_path=candidates_path,
                                              scorer=scorer, run_config=run_config, show_progress=show_progress)
    selection = select_documents(references, candidates, negative_share=config.negative_share,
                                 positive_share=config.positive_share)
    report = {"selection": config.to_dict(), "candidates": str(candidates_path), "scores": str(scores_path),
              "triples": str(output), "n_skipped_rows": skipped,
              "signature": scorer.signature if config.by == "quals" else RougeMapper().run_info()["rouge"],
              **selection_report(selection, references, candidates)}
    if is_main_process():
        _write_triples(output, documents, selection, references)
        atomic_write_json(report_path, report)
    return report


def _write_triples(output: Path, documents: list[DocumentCandidates], selection, references) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(output) as handle:
        for i in selection.kept:
            doc, (j, worst) = documents[i], selection.worst[i]
            handle.write(dumps_record({
                "row": doc.row, "id": doc.id, "document": doc.document, "positive": doc.reference,
                "negative": doc.candidates[j], "negative_candidate": j,
                "positive_score": references[i] if references is not None else None, "negative_score": worst,
            }) + "\n")
