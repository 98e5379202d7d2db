"""Scorers by name: shared backbones, and the device/dtype/batch size reaching every scorer."""

from __future__ import annotations

import pytest

from quals.metrics.registry import SCORERS, ScorerFactory, ScorerOptions


def test_scorers_on_one_model_share_its_backbone_and_get_every_loading_setting(tiny_dirs):
    factory = ScorerFactory(ScorerOptions(model=str(tiny_dirs["llama"]), device="cpu", dtype="float32", batch_size=3,
                                          quals_settings={"num_groups": 2, "window_overlap": 16},
                                          qags_settings={"num_answers": 4}))
    quals, qags, likelihood = (factory.build(name) for name in ("quals", "qags", "likelihood"))
    assert quals.qagen is qags.qagen is likelihood.qagen  # loaded once
    assert quals.qagen.batch_size == 3 and qags.batch_size == 3
    assert quals.qagen.window_overlap == 16 and quals.config.generation.num_groups == 2
    assert qags.config.num_answers == 4
    assert str(quals.qagen.backbone.device) == "cpu" and quals.qagen.info.dtype == "float32"
    assert factory.build("lexical").run_info()["metric"] == "lexical"


def test_paper_preset_and_unknown_names(tiny_dirs):
    factory = ScorerFactory(ScorerOptions(model=str(tiny_dirs["llama"]), device="cpu", quals_preset="paper"))
    assert factory.build("quals").config.generation.num_groups == 60
    with pytest.raises(ValueError, match="unknown scorer 'bleurt'"):
        factory.build("bleurt")
    assert set(SCORERS) == {"quals", "qags", "factcc", "lexical", "likelihood"}


def test_factcc_reads_its_own_classifier_with_the_loading_settings(tmp_path):
    from fixtures.tiny_models import build_bert_classifier

    classifier = build_bert_classifier(tmp_path / "clf")
    options = ScorerOptions(model="ignored-by-factcc", device="cpu", dtype="float32", batch_size=5,
                            factcc_model=str(classifier), factcc_settings={"sentence_aggregation": "min"})
    factcc = ScorerFactory(options).build("factcc")
    assert factcc.batch_size == 5 and factcc.config.sentence_aggregation == "min"
    assert str(factcc.model.device) == "cpu"
    assert factcc.run_info()["metric"] == "factcc" and factcc.model_id == str(classifier)


def test_factcc_without_a_shipped_classifier_says_how_to_train_one(tmp_path, monkeypatch):
    from quals.models import packaged

    monkeypatch.setattr(packaged, "ADAPTERS_ROOT", tmp_path)  # an install without the adapter's files
    with pytest.raises(FileNotFoundError, match="reproduce/train_factcc.sh"):
        ScorerFactory(ScorerOptions(device="cpu")).build("factcc")
