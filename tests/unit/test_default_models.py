"""Which model each scorer reads when the user names none.

QUALS reads the default QAGen (a trained adapter once one ships); QAGS and the likelihood baselines
prompt the plain base model. A mix-up would silently score with the wrong model, so these tests
make the two defaults differ and check every construction site.
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


@pytest.fixture()
def recorded(monkeypatch):
    """Replace the heavy classes with recorders of the model each was built on."""
    loaded: list[str] = []
    monkeypatch.setattr(qagen, "QAGen", lambda model, **_: loaded.append(model) or SimpleNamespace(model=model))
    monkeypatch.setattr(quals_metric, "QUALS", lambda qagen=None, **_: ("quals", qagen.model))
    monkeypatch.setattr(baselines, "LikelihoodBaselines", lambda qagen: ("likelihood", qagen.model))
    monkeypatch.setattr(qags, "QAGS", lambda model, qagen=None, **_: ("qags", model, qagen.model))
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
    assert make("qags") == ("qags", "packaged:the-base", "packaged:the-base")
    assert recorded == ["packaged:the-qagen", "packaged:the-base"]  # the base is loaded once, shared


def test_meta_eval_explicit_model_is_used_by_every_scorer_and_loaded_once(distinct_defaults, recorded):
    make = _factory("--model", "some/model")
    assert [make(n)[1] for n in ("quals", "likelihood", "qags")] == ["some/model"] * 3
    assert recorded == ["some/model"]


def test_qags_class_default_is_the_base_model():
    import inspect

    assert inspect.signature(qags.QAGS).parameters["model"].default == packaged.DEFAULT_BASE_MODEL
