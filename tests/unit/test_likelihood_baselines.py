"""log p(summary | document) and its PMI against an empty text, by hand on tiny models."""

from __future__ import annotations

import pytest
from fixtures import reference

from quals.metrics.baselines import LikelihoodBaselines, LikelihoodScores
from quals.qagen import QAGen

DOCUMENT = "The cat sat on the mat in Paris on Monday. Officials said 12 people were hurt near Leeds."
SUMMARIES = ["The cat sat on the mat in Paris.", "A dog ran in Rome.", "  "]


@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_loglik_and_pmi_by_hand(tiny_dirs, kind):
    scorer = LikelihoodBaselines(QAGen(str(tiny_dirs[kind]), device="cpu", dtype="float32", batch_size=4))
    result = scorer.score([DOCUMENT] * 3, SUMMARIES)
    backbone = scorer.backbone
    for example, summary in zip(result.examples[:2], SUMMARIES[:2], strict=True):
        tokens = scorer._continuation(summary)
        given_document = reference.sequence_logprobs(backbone, backbone.prompt_ids(backbone.tokenize(DOCUMENT)), tokens)
        given_nothing = reference.sequence_logprobs(backbone, backbone.prompt_ids([]), tokens)
        loglik = sum(given_document) / len(tokens)
        assert example.values.loglik == pytest.approx(loglik, abs=1e-5)
        assert example.values.pmi == pytest.approx(loglik - sum(given_nothing) / len(tokens), abs=1e-5)
        assert example.score == example.values.loglik
    assert result.examples[2].values == LikelihoodScores(loglik=None, pmi=None)
    assert result.examples[2].reason == "empty summary"


def test_documents_and_summaries_must_pair_up(tiny_dirs):
    scorer = LikelihoodBaselines(QAGen(str(tiny_dirs["llama"]), device="cpu", dtype="float32", batch_size=4))
    with pytest.raises(ValueError, match="2 documents but 1 summaries"):
        scorer.score([DOCUMENT, DOCUMENT], SUMMARIES[:1])
