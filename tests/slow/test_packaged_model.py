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


def test_default_qagen_is_the_shipped_adapter_on_the_converted_packaged_base(qagen):
    import json

    from quals.models.packaged import DEFAULT_BASE_MODEL, DEFAULT_MODEL, packaged_adapter_dir, packaged_model_dir

    directory = packaged_model_dir(DEFAULT_BASE_MODEL)
    assert (directory / "model.safetensors").is_file() and (directory / "quals-packaged.json").is_file()
    assert qagen.info.model == DEFAULT_MODEL == "packaged:smollm2-135m-qagen"
    # base weights, adapter weights and adapter config: any change to them changes every score
    assert qagen.info.fingerprint == "sha256:e5d3f8e627c66ed03f037e919e656cf10287953df269ebd803d5f31842849f2f"
    info = json.loads((packaged_adapter_dir(DEFAULT_MODEL) / "quals_qagen.json").read_text())
    assert info["base_fingerprint"] == "sha256:b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert qagen.backbone.family == "causal"


def test_generates_qa_pairs_from_a_news_text(qagen):
    from quals import GenerationConfig

    hyps = qagen.generate([NEWS], GenerationConfig(num_groups=12))[0]
    assert len(hyps) == 12
    well_formed = [h for h in hyps if h.well_formed]
    assert len(well_formed) >= 10
    assert all(h.question.strip().endswith("?") and h.answer.strip() for h in well_formed)
    # Trained as a QAGen, the shipped adapter copies its answers from the text (the prompted base
    # model rarely did): the paper's filter keeps such pairs.
    spans = [h for h in well_formed if h.answer.lower() in NEWS.lower()]
    assert len(spans) >= 0.8 * len(well_formed)
    # Diverse beam search: the penalty is soft, so two groups may meet, but most beams differ.
    assert len({h.hypothesis.token_ids for h in hyps}) >= 10


def test_quals_separates_faithful_from_unfaithful(qagen):
    from quals import QUALS

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


def test_qags_defaults_to_its_trained_components_and_keeps_questions():
    from quals import QAGS
    from quals.models.packaged import DEFAULT_QAGS_QA, DEFAULT_QAGS_QG

    scorer = QAGS(device="cpu")
    models = scorer.models()
    assert models["qg"]["model"] == DEFAULT_QAGS_QG and models["qa"]["model"] == DEFAULT_QAGS_QA
    assert "prompt" in models["qg"]  # the trained generator reads back the prompt it was trained with
    wrong = "Forty people were taken to hospital after a train crashed near Manchester on Monday."
    result = scorer.score([NEWS, NEWS], [SUMMARY, wrong])
    faithful, unfaithful = result.examples
    # The prompted base kept a question for about half of the summaries; the trained pair keeps several.
    assert faithful.score is not None and faithful.to_dict()["n_questions"] >= 3
    assert unfaithful.score is not None and faithful.score > unfaithful.score


ARTICLE = ("a double-decker bus crashed into a wall near leeds city centre on friday evening . police said 12 people "
           "were taken to hospital . the driver , a 45-year-old man , was arrested on suspicion of dangerous driving .")


def test_default_factcc_is_the_shipped_classifier_and_flags_a_corrupted_claim():
    from quals.metrics.factcc import DEFAULT_FACTCC_MODEL, FactCC

    scorer = FactCC(device="cpu")
    assert scorer.model_id == DEFAULT_FACTCC_MODEL == "packaged:minilm-l6-factcc"
    # base weights, adapter weights (with the pooler and head) and adapter config
    assert scorer.fingerprint == "sha256:1097e94b5107510e05984463a29e296013c12f4b3c33c33384f8aff47969373e"
    assert scorer.label == 1 and scorer.max_length == 128  # from its quals_classifier.json
    claims = ["police said 12 people were taken to hospital .",  # a sentence of the article
              "police said 12 people were not taken to hospital .",  # negation added
              "the driver , a 45-year-old man , was arrested on suspicion of dangerous driving .",
              "the driver , a 45-year-old man , was arrested on suspicion of drunk driving in london ."]
    scores = scorer.score([ARTICLE] * 4, claims).scores
    assert scores[0] > scores[1] and scores[2] > scores[3]  # each corruption lowers p(consistent)
