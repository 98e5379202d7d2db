"""Run records: one version spelling, and signature strings that stay the same for the same settings.

Score sidecars and caches are compared on resume, so the strings pinned here must not change
without a reason (a changed one makes every existing output refuse to resume).
"""

from __future__ import annotations

import platform
from importlib.metadata import version
from types import SimpleNamespace

import spacy
import torch
import transformers

from quals import __version__
from quals.evaluation.summaries import SummaryEvaluator
from quals.metrics.baselines import LexicalBaselines, LikelihoodBaselines
from quals.metrics.rouge import rouge_scorer
from quals.provenance import signature, version_fields, versions
from quals.qagen import ModelInfo
from quals.training.conseq.selection import RougeMapper
from quals.types import ScoreSignature

ROUGE = f"rouge-score:{version('rouge-score')}|stemmer:true"


def test_versions_use_one_spelling_and_the_modules_own_strings():
    assert versions() == {"quals": __version__, "python": platform.python_version(), "torch": torch.__version__,
                          "transformers": transformers.__version__}
    assert list(versions("peft", "torch")) == ["quals", "python", "torch", "transformers", "peft"]
    assert versions("peft")["peft"] == version("peft")


def test_sidecar_spelling_carries_the_same_numbers():
    assert version_fields() == {f"{k}_version": v for k, v in versions().items()}
    assert version_fields("quals", "torch") == {"quals_version": __version__, "torch_version": torch.__version__}
    info_fields = {"quals_version", "python_version", "torch_version", "transformers_version"}
    assert info_fields <= set(ModelInfo.__dataclass_fields__)


def test_signature_joins_parts_then_fields_in_order():
    assert signature("x:1") == "x:1"
    assert signature("x:1", "a", "b=2", z=3, y="v|w") == "x:1|a|b=2|z:3|y:v|w"


def test_quals_signature_string_is_pinned():
    sig = ScoreSignature("0.1.0", "packaged:smollm2", "sha256:ab", "sha256:cd", "float32", "cpu",
                         '{"max_pairs":10}', '{"beams":4}', "2.13.0+cpu", "5.24.0")
    assert str(sig) == ('quals:0.1.0|model:packaged:smollm2|weights:sha256:ab|format:sha256:cd|dtype:float32|'
                        'device:cpu|settings:{"max_pairs":10}|torch:2.13.0+cpu|transformers:5.24.0')


def test_baseline_and_rouge_signatures_are_pinned():
    assert LexicalBaselines().signature == f"lexical|{ROUGE}|rouge:precision"
    assert RougeMapper().run_info() == {"metric": "rouge", "rouge": f"{ROUGE}|mean-F1-1-2-L"}
    info = SummaryEvaluator(["rouge", "rougelsum"]).run_info()
    assert info == {"metrics": ["rouge", "rougelsum"], "rouge": f"{ROUGE}|F1",
                    "rougelsum": f"{ROUGE}|F1|spacy-{spacy.__version__}/sentencizer"}
    likelihood = object.__new__(LikelihoodBaselines)
    likelihood.qagen = SimpleNamespace(info=ModelInfo("m", "sha256:w", "sha256:f", "causal", "cpu", "float32",
                                                      "0.1.0", "2.0", "4.0", "3.11"))
    assert likelihood.signature == ("likelihood|model:m|weights:sha256:w|dtype:float32|"
                                    "instruction:Summarize the text.|torch:2.0|transformers:4.0")


def test_one_rouge_scorer_per_set_of_types():
    assert rouge_scorer() is rouge_scorer(("rouge1", "rouge2", "rougeL"))
    assert rouge_scorer(("rougeLsum",)) is not rouge_scorer()
