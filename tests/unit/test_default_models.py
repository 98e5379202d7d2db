"""Which model each scorer reads when the user names none.

QUALS reads the default QAGen; QAGS its two trained components (question generator, answerer);
the likelihood baselines the plain base model. A named ``--model`` replaces all of them (QAGS then
prompts it). A mix-up would silently score with the wrong model, so these tests make the defaults
differ and check every construction site.
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

import quals.metrics.baselines as baselines
import quals.metrics.qags as qags
import quals.metrics.quals as quals_metric
import quals.qagen as qagen
from quals.cli import meta_eval
from quals.models import packaged


@pytest.fixture()
def distinct_defaults(monkeypatch):
    monkeypatch.setattr(packaged, "DEFAULT_MODEL", "packaged:the-qagen")
    monkeypatch.setattr(packaged, "DEFAULT_BASE_MODEL", "packaged:the-base")
    monkeypatch.setattr(qags, "DEFAULT_QAGS_QG", "packaged:the-qg")
    monkeypatch.setattr(qags, "DEFAULT_QAGS_QA", "packaged:the-qa")


@pytest.fixture()
def recorded(monkeypatch):
    """Replace the heavy classes with recorders of the model each was built on."""
    loaded: list[str] = []
    monkeypatch.setattr(qagen, "QAGen", lambda model, **_: loaded.append(model) or SimpleNamespace(model=model))
    monkeypatch.setattr(quals_metric, "QUALS", lambda qagen=None, **_: ("quals", qagen.model))
    monkeypatch.setattr(baselines, "LikelihoodBaselines", lambda qagen: ("likelihood", qagen.model))
    monkeypatch.setattr(qags, "QAGS", lambda model, qagen=None, qg_model=None, qa_model=None, **_: (
        "qags", model, qagen and qagen.model, qg_model, qa_model))
    return loaded


def _factory(*argv: str):
    parser = argparse.ArgumentParser()
    meta_eval.register(parser)
    args = parser.parse_args(["-o", "out", *argv])
    return meta_eval._scorer_factory(args, SimpleNamespace(scorers=("quals", "qags", "likelihood", "lexical")))


def test_meta_eval_defaults_route_quals_to_the_qagen_and_the_rest_to_the_base(distinct_defaults, recorded):
    make = _factory()
    assert make("quals") == ("quals", "packaged:the-qagen")
    assert make("likelihood") == ("likelihood", "packaged:the-base")
    # QAGS loads no backbone: its own trained question generator and answerer do both jobs
    assert make("qags") == ("qags", None, None, "packaged:the-qg", "packaged:the-qa")
    assert recorded == ["packaged:the-qagen", "packaged:the-base"]


def test_meta_eval_explicit_model_is_used_by_every_scorer_and_loaded_once(distinct_defaults, recorded):
    make = _factory("--model", "some/model")
    assert [make(n)[1] for n in ("quals", "likelihood", "qags")] == ["some/model"] * 3
    assert make("qags")[2:] == ("some/model", None, None)  # the named backbone, prompted, does both jobs
    assert recorded == ["some/model"]


def test_meta_eval_one_named_qags_component_keeps_the_other_default(distinct_defaults, recorded):
    make = _factory("--qg-model", "my/qg")
    assert make("qags") == ("qags", None, None, "my/qg", "packaged:the-qa")
    make = _factory("--model", "some/model", "--qa-model", "my/qa")
    assert make("qags") == ("qags", "some/model", "some/model", None, "my/qa")


def test_qags_components_resolve_defaults_only_without_a_named_backbone(distinct_defaults):
    assert qags.qags_components(None, None, None) == ("packaged:the-qg", "packaged:the-qa")
    assert qags.qags_components(None, "a", None) == ("a", "packaged:the-qa")
    assert qags.qags_components("m", None, None) == (None, None)
    assert qags.qags_components("m", "a", "b") == ("a", "b")


def test_qags_class_default_names_no_backbone():
    import inspect

    assert inspect.signature(qags.QAGS).parameters["model"].default is None
