"""Resumable, shardable batch scoring of files."""

from quals.batch.output import CorpusSummary, summarize
from quals.batch.runner import RunConfig, score_file

__all__ = ["CorpusSummary", "RunConfig", "score_file", "summarize"]
