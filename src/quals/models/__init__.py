"""Backbone loading, device/dtype, packaged models, batched sequence log-probs."""

from quals.models.backbone import Backbone, DecodeState
from quals.models.formats import QAFormat, causal_format, seq2seq_format
from quals.models.loading import load_backbone, save_format
from quals.models.packaged import DEFAULT_MODEL
from quals.models.scoring import score_sequences

__all__ = [
    "DEFAULT_MODEL",
    "Backbone",
    "DecodeState",
    "QAFormat",
    "causal_format",
    "load_backbone",
    "save_format",
    "score_sequences",
    "seq2seq_format",
]
