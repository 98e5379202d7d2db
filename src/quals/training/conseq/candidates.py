"""ConSeq stage 1: sample candidate summaries of every training document from the MLE model.

The paper: 6 samples per document, top-k 50, at most 60 and at least 10 tokens
(:class:`quals.training.conseq.config.CandidateConfig`). Each (document, sample) has its own
seeded generator (:class:`quals.training.summarizer.generate.SeededSampler`), so candidates do not depend on
batching or sharding. Output, one JSON line per training row: ``row``, ``id``, ``document``,
``reference``, ``candidates`` (list), ``source_truncated``, ``error``.
"""

from __future__ import annotations

from pathlib import Path

from quals.data.readers import FieldMap
from quals.training.conseq.config import CandidateConfig
from quals.training.summarizer.generate import summarize_file
from quals.training.summarizer.model import Summarizer


def generate_candidates(summarizer: Summarizer, train_path: str | Path, output: str | Path, *,
                        config: CandidateConfig = CandidateConfig(), fields: FieldMap = FieldMap(),
                        input_format: str | None = None, batch_size: int = 8, chunk_size: int = 16,
                        overwrite: bool = False, show_progress: bool = False) -> dict:
    """Write ``config.num_candidates`` sampled summaries of every row of ``train_path`` to ``output``.

    Resumable (rerun the same call), and sharded under ``accelerate launch`` / ``torchrun``.

    Returns:
        Counts: ``n_rows``, ``n_errors``, ``n_truncated``.
    """
    return summarize_file(summarizer, train_path, output, decoding=config.decoding(),
                          document_field=fields.document, reference_field=fields.summary, id_field=fields.id,
                          input_format=input_format, seed=config.seed, batch_size=batch_size,
                          chunk_size=chunk_size, overwrite=overwrite, keep_inputs=True, as_list=True,
                          show_progress=show_progress)
