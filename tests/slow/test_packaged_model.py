"""End to end with the real packaged model (SmolLM2-135M-Instruct from PyPI). Marked slow; runs in CI."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

NEWS = ("A double-decker bus crashed into a wall near Leeds city centre on Friday evening. Police said 12 people "
        "were taken to hospital. The driver was arrested on suspicion of dangerous driving.")
SUMMARY = "Twelve people were taken to hospital after a bus crashed near Leeds on Friday, and the driver was arrested."


@pytest.fixture(scope="module")
def qagen():
    from quals import QAGen

    return QAGen(device="cpu")


def test_packaged_model_is_converted_cached_and_fingerprinted(qagen):
    from quals.models.packaged import DEFAULT_BASE_MODEL, packaged_model_dir

    directory = packaged_model_dir(DEFAULT_BASE_MODEL)
    assert (directory / "model.safetensors").is_file() and (directory / "quals-packaged.json").is_file()
    assert qagen.info.fingerprint == "sha256:b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert qagen.backbone.family == "causal"


def test_generates_qa_pairs_from_a_news_text(qagen):
    from quals import GenerationConfig

    hyps = qagen.generate([NEWS], GenerationConfig(num_groups=12))[0]
    assert len(hyps) == 12
    well_formed = [h for h in hyps if h.well_formed]
    assert len(well_formed) >= 3
    assert all(h.question.strip() and h.answer.strip() for h in well_formed)
    # The untuned chat model rarely copies answers verbatim; the words it answers with come from the text.
    text_words = set(NEWS.lower().replace(".", " ").split())
    assert any(set(h.answer.lower().rstrip(".").split()) & text_words for h in well_formed)
    assert len({h.hypothesis.token_ids for h in hyps}) == 12  # diversity: no two beams alike


def test_quals_separates_faithful_from_unfaithful(qagen):
    from quals import QUALS

    # The untuned default keeps few pairs without the span constraint; with it every row is scored.
    scorer = QUALS(qagen=qagen, num_groups=20, answer_constraint="summary_span", cache_generations=False)
    wrong = "Forty people died after a train crashed near Manchester on Monday, and the driver escaped."
    result = scorer.score([NEWS, NEWS], [SUMMARY, wrong])
    faithful, unfaithful = result.scores
    assert faithful is not None and unfaithful is not None
    assert faithful > unfaithful


def test_span_constraint_keeps_every_answer_in_the_summary(qagen):
    from quals import QUALS

    scorer = QUALS(qagen=qagen, num_groups=12, answer_constraint="summary_span", cache_generations=False)
    hyps = scorer.generate([SUMMARY])[0]
    answers = [h.answer for h in hyps if h.well_formed]
    assert answers
    assert all(a.lower() in SUMMARY.lower() for a in answers)
